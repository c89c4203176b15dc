//! HTTP conventions of the API: `Location` on `201`, cursor pages on the admin lists,
//! `ETag`/`If-Match` on deployments, problem bodies on actix's own `404`/`405`, and problem
//! `type` URIs that resolve.

use serde_json::{json, Value};

use crate::helpers::{fields, problem, spawn_app, Backend};
use crate::on_both;

on_both!(
    created_answers_carry_a_location_that_resolves,
    admin_lists_page_by_cursor,
    deployment_patch_honours_if_match,
    concurrent_patches_with_one_tag_one_wins,
    unknown_routes_and_wrong_methods_are_problems,
    problem_types_resolve,
    openapi_documents_the_conventions,
);

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().unwrap().to_string()
}

async fn created_answers_carry_a_location_that_resolves(b: Backend) {
    let app = spawn_app(b).await;
    let a = || app.as_agency(&app.key);
    let r = a()
        .post("/api/v1/admin/hisps", json!({"slug": "h1", "name": "HISP"}))
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(location(&r), "/api/v1/admin/hisps/h1");
    let r = a()
        .post(
            "/api/v1/admin/services",
            json!({"slug": "s1", "name": "S", "hisp": "h1", "channels": ["website"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(location(&r), "/api/v1/admin/services/s1");
    let r = a()
        .post(
            "/api/v1/admin/deployments",
            json!({"instrument": "a11-v2-thumbs", "service": "s1", "channel": "website",
                   "transaction_point": "After", "allowed_origins": []}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let dep_loc = location(&r);
    let dep: Value = r.json().await.unwrap();
    assert_eq!(
        dep_loc,
        format!("/api/v1/admin/deployments/{}", dep["id"].as_str().unwrap())
    );
    for (loc, key, want) in [
        ("/api/v1/admin/hisps/h1", "slug", json!("h1")),
        ("/api/v1/admin/services/s1", "hisp", json!("h1")),
        (dep_loc.as_str(), "id", dep["id"].clone()),
    ] {
        let r = a().get(loc).await;
        assert_eq!(r.status(), 200, "{loc}");
        assert_eq!(r.json::<Value>().await.unwrap()[key], want, "{loc}");
    }
    // Another agency's objects stay hidden behind the same paths.
    let other = app.new_key("agency-b");
    let r = app.as_agency(&other).get("/api/v1/admin/hisps/h1").await;
    assert_eq!(r.status(), 404);

    let id = dep["id"].as_str().unwrap();
    let r = app.answer(id, json!({"trust": 1})).await;
    assert_eq!(r.status(), 201);
    let resp_loc = location(&r);
    let rid = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(resp_loc, format!("/api/v1/admin/responses/{rid}"));
    let r = a().get(&format!("{resp_loc}/audit")).await;
    assert_eq!(r.status(), 200);

    let csv = "external_id,question_1,positive_effectiveness,positive_ease,positive_efficiency,positive_transparency,positive_humanity,positive_employee,positive_other,negative_effectiveness,negative_ease,negative_efficiency,negative_transparency,negative_humanity,negative_employee,negative_other,question_4,submitted_at\npaper-1,1,1,1,0,0,0,0,0,0,0,0,0,0,0,0,Helpful clerk,2026-01-15T10:00:00-05:00\n";
    let r = a().import(id, csv).await;
    assert_eq!(r.status(), 201);
    let imp_loc = location(&r);
    let v: Value = a().get(&imp_loc).await.json().await.unwrap();
    assert_eq!(v["responses"].as_array().unwrap().len(), 2, "{imp_loc}");
}

/// Follows `next` links from `first` to the end; every page's `Link` header names its `next`.
async fn walk(
    app: &crate::helpers::TestApp,
    key: &str,
    first: &str,
    list: &str,
) -> Vec<Vec<Value>> {
    let mut pages = vec![];
    let mut path = Some(first.to_string());
    while let Some(p) = path {
        let r = app.as_agency(key).get(&p).await;
        assert_eq!(r.status(), 200, "{p}");
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap().to_string());
        let v: Value = r.json().await.unwrap();
        path = v["next"].as_str().map(str::to_string);
        assert_eq!(link, path.as_ref().map(|n| format!("<{n}>; rel=\"next\"")));
        pages.push(v[list].as_array().unwrap().clone());
        assert!(pages.len() < 20, "the pages never end");
    }
    pages
}

async fn admin_lists_page_by_cursor(b: Backend) {
    let app = spawn_app(b).await;
    for _ in 0..5 {
        app.deployment("a11-v2-thumbs").await;
    }
    for (path, list, key) in [
        ("/api/v1/admin/hisps", "hisps", "slug"),
        ("/api/v1/admin/services", "services", "slug"),
        ("/api/v1/admin/deployments", "deployments", "id"),
    ] {
        let all: Value = app
            .as_agency(&app.key)
            .get(path)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(all["next"], Value::Null, "{path}");
        let all: Vec<Value> = all[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[key].clone())
            .collect();
        assert_eq!(all.len(), 5);
        let pages = walk(&app, &app.key, &format!("{path}?limit=2"), list).await;
        assert_eq!(
            pages.iter().map(Vec::len).collect::<Vec<_>>(),
            [2, 2, 1],
            "{path}"
        );
        let paged: Vec<Value> = pages.concat().iter().map(|x| x[key].clone()).collect();
        assert_eq!(
            paged, all,
            "{path}: the pages list the same rows in the same order"
        );
        // An exact last page ends without a next link.
        let pages = walk(&app, &app.key, &format!("{path}?limit=5"), list).await;
        assert_eq!(pages.len(), 1);

        // Another agency following this agency's cursor sees nothing of it.
        let first: Value = app
            .as_agency(&app.key)
            .get(&format!("{path}?limit=1"))
            .await
            .json()
            .await
            .unwrap();
        let next = first["next"].as_str().unwrap();
        let other = app.new_key(&format!("other-{list}"));
        let v: Value = app.as_agency(&other).get(next).await.json().await.unwrap();
        assert_eq!(v[list], json!([]), "{path}");
        assert_eq!(v["next"], Value::Null);

        for (q, field) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=ten", "limit"),
            ("after=zz", "after"),
            ("after=6869", "after"),
        ] {
            let r = app.as_agency(&app.key).get(&format!("{path}?{q}")).await;
            assert_eq!(r.status(), 422, "{path}?{q}");
            assert_eq!(fields(&problem(r).await), [field], "{path}?{q}");
        }
        let r = app
            .as_agency(&app.key)
            .get(&format!("{path}?limit=500"))
            .await;
        assert_eq!(r.status(), 200);
    }
}

async fn read(app: &crate::helpers::TestApp, path: &str) -> Value {
    app.as_agency(&app.key)
        .get(path)
        .await
        .json()
        .await
        .unwrap()
}

async fn etag_of(app: &crate::helpers::TestApp, path: &str) -> String {
    let r = app.as_agency(&app.key).get(path).await;
    assert_eq!(r.status(), 200);
    r.headers()["etag"].to_str().unwrap().to_string()
}

async fn patch_if(
    app: &crate::helpers::TestApp,
    path: &str,
    tag: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut r = app
        .client
        .patch(app.url(path))
        .bearer_auth(&app.key)
        .json(&body);
    if let Some(t) = tag {
        r = r.header("if-match", t);
    }
    r.send().await.unwrap()
}

async fn deployment_patch_honours_if_match(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let path = format!("/api/v1/admin/deployments/{dep}");
    let t1 = etag_of(&app, &path).await;
    assert!(t1.starts_with('"') && t1.ends_with('"'), "{t1}");
    assert_eq!(
        etag_of(&app, &path).await,
        t1,
        "the tag is stable while nothing changes"
    );

    // Editor A changes it with the tag it read.
    let r = patch_if(&app, &path, Some(&t1), json!({"transaction_point": "A's"})).await;
    assert_eq!(r.status(), 200);
    let t2 = r.headers()["etag"].to_str().unwrap().to_string();
    assert_ne!(t2, t1);
    assert_eq!(etag_of(&app, &path).await, t2);

    // Editor B, still holding the first tag, is refused and changes nothing.
    let r = patch_if(
        &app,
        &path,
        Some(&t1),
        json!({"transaction_point": "B's", "status": "closed"}),
    )
    .await;
    assert_eq!(r.status(), 412);
    let p = problem(r).await;
    assert_eq!(p["type"], "/problems/precondition-failed");
    let v = read(&app, &path).await;
    assert_eq!(v["transaction_point"], "A's");
    assert_eq!(v["status"], "open");
    assert_eq!(etag_of(&app, &path).await, t2);

    // A weak tag never matches; `*` and a list naming the current tag do.
    let weak = format!("W/{t2}");
    let r = patch_if(&app, &path, Some(&weak), json!({"status": "closed"})).await;
    assert_eq!(r.status(), 412);
    let r = patch_if(
        &app,
        &path,
        Some(&format!("\"x\", {t2}")),
        json!({"status": "closed"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = patch_if(&app, &path, Some("*"), json!({"status": "open"})).await;
    assert_eq!(r.status(), 200);
    // Without If-Match the change applies (optional header), and moves the tag.
    let before = etag_of(&app, &path).await;
    let r = patch_if(&app, &path, None, json!({"status": "closed"})).await;
    assert_eq!(r.status(), 200);
    assert_ne!(etag_of(&app, &path).await, before);
}

async fn concurrent_patches_with_one_tag_one_wins(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let path = format!("/api/v1/admin/deployments/{dep}");
    for round in 0..5 {
        let tag = etag_of(&app, &path).await;
        let (r1, r2) = futures::join!(
            patch_if(
                &app,
                &path,
                Some(&tag),
                json!({"transaction_point": format!("one {round}")})
            ),
            patch_if(
                &app,
                &path,
                Some(&tag),
                json!({"transaction_point": format!("two {round}")})
            ),
        );
        let mut codes = [r1.status().as_u16(), r2.status().as_u16()];
        codes.sort();
        assert_eq!(codes, [200, 412], "round {round}");
        let winner = if r1.status() == 200 { "one" } else { "two" };
        let v = read(&app, &path).await;
        assert_eq!(v["transaction_point"], format!("{winner} {round}"));
    }
}

async fn unknown_routes_and_wrong_methods_are_problems(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app.get("/no/such/route").await;
    assert_eq!(r.status(), 404);
    assert_eq!(problem(r).await["type"], "/problems/not-found");
    for (method, path) in [
        (reqwest::Method::DELETE, "/api/v1/admin/hisps".to_string()),
        (
            reqwest::Method::PUT,
            format!("/api/v1/admin/deployments/{dep}"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/deployments/{dep}/responses"),
        ),
    ] {
        let r = app.admin(&app.key, method.clone(), &path, None).await;
        assert_eq!(r.status(), 405, "{method} {path}");
        let p = problem(r).await;
        assert_eq!(p["type"], "/problems/method-not-allowed", "{method} {path}");
        assert_eq!(p["status"], 405);
    }
}

async fn problem_types_resolve(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let mut types = vec![];
    for r in [
        app.get("/nope").await,
        app.as_agency(&app.key)
            .post("/api/v1/admin/hisps", json!({"slug": "BAD"}))
            .await,
        app.admin(
            "wrong-key",
            reqwest::Method::GET,
            "/api/v1/admin/hisps",
            None,
        )
        .await,
        app.admin(
            &app.key,
            reqwest::Method::DELETE,
            "/api/v1/admin/hisps",
            None,
        )
        .await,
        app.submit(&dep, json!({"answers": {}})).await,
    ] {
        types.push(problem(r).await["type"].as_str().unwrap().to_string());
    }
    for slug in cx_survey::error::PROBLEM_TYPES.iter().map(|t| t.0) {
        types.push(format!("/problems/{slug}"));
    }
    types.push("/problems".into());
    for t in &types {
        assert!(t.starts_with("/problems"), "{t}");
        let r = app.get(t).await;
        assert_eq!(r.status(), 200, "{t}");
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html"));
        assert!(r.text().await.unwrap().contains("<h1>"));
    }
    let r = app.get("/problems/no-such-problem").await;
    assert_eq!(r.status(), 404);
    problem(r).await;
}

async fn openapi_documents_the_conventions(b: Backend) {
    let app = spawn_app(b).await;
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut created = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if let Some(r) = op["responses"].get("201") {
                created += 1;
                assert!(
                    r["headers"].get("Location").is_some(),
                    "{method} {path}: 201 without Location"
                );
            }
        }
    }
    assert_eq!(
        created, 5,
        "hisps, services, deployments, responses, import"
    );
    for (path, list) in [
        ("/api/v1/admin/hisps", "HispList"),
        ("/api/v1/admin/services", "ServiceList"),
        ("/api/v1/admin/deployments", "DeploymentList"),
    ] {
        let op = &doc["paths"][path]["get"];
        let params: Vec<&str> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(params, ["limit", "after"], "{path}");
        assert_eq!(op["parameters"][0]["schema"]["maximum"], 500, "{path}");
        assert!(
            op["responses"]["200"]["headers"].get("Link").is_some(),
            "{path}"
        );
        assert!(op["responses"].get("422").is_some(), "{path}");
        assert!(doc["components"]["schemas"][list]["properties"]
            .get("next")
            .is_some());
    }
    let dep = &doc["paths"]["/api/v1/admin/deployments/{id}"];
    assert!(dep["get"]["responses"]["200"]["headers"]
        .get("ETag")
        .is_some());
    assert!(dep["patch"]["responses"]["200"]["headers"]
        .get("ETag")
        .is_some());
    assert!(dep["patch"]["responses"].get("412").is_some());
    assert!(dep["patch"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "If-Match" && p["in"] == "header"));
}
