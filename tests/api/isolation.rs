//! A key of agency B can read, list, change or export nothing of agency A.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both;

on_both!(agency_b_sees_nothing_of_agency_a);

async fn agency_b_sees_nothing_of_agency_a(b: Backend) {
    let app = spawn_app(b).await;
    let dep_a = app.deployment("a11-v2-thumbs").await;
    let r = app.answer(&dep_a, json!({"trust": 1})).await;
    let resp_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let services: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/services")
        .await
        .json()
        .await
        .unwrap();
    let svc_a = services["services"][0]["slug"]
        .as_str()
        .unwrap()
        .to_string();
    let hisp_a = services["services"][0]["hisp"]
        .as_str()
        .unwrap()
        .to_string();

    let kb = app.new_key("agency-b");
    // Lists are empty for B.
    for (path, field) in [
        ("/api/v1/admin/hisps", "hisps"),
        ("/api/v1/admin/services", "services"),
        ("/api/v1/admin/deployments", "deployments"),
    ] {
        let v: Value = app.as_agency(&kb).get(path).await.json().await.unwrap();
        assert_eq!(v[field], json!([]), "{path}");
    }
    let v: Value = app
        .as_agency(&kb)
        .get("/api/v1/admin/responses?format=json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["responses"], json!([]));
    let csv = app
        .as_agency(&kb)
        .get("/api/v1/admin/responses?format=csv")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(csv.lines().count(), 1, "header only: {csv}");

    // Direct access to A's objects answers 404.
    let not_found: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            format!("/api/v1/admin/deployments/{dep_a}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/deployments/{dep_a}"),
            Some(json!({"status": "closed"})),
        ),
        (
            Method::GET,
            format!("/api/v1/admin/responses?deployment={dep_a}"),
            None,
        ),
        (
            Method::PATCH,
            format!("/api/v1/admin/responses/{resp_a}"),
            Some(json!({"status": "spam"})),
        ),
        (
            Method::GET,
            format!("/api/v1/admin/responses/{resp_a}/audit"),
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/admin/services/{svc_a}/volumes/2026/1"),
            Some(json!({"channel": "website", "volume_of_customers": 5})),
        ),
    ];
    for (m, path, body) in not_found {
        let r = app.as_agency(&kb).send(m.clone(), &path, body).await;
        assert_eq!(r.status(), 404, "{m} {path}");
        problem(r).await;
    }
    let r = app.as_agency(&kb).import(&dep_a, "external_id\n").await;
    assert_eq!(r.status(), 404);
    // B cannot attach its objects to A's HISP or service.
    let r = app
        .as_agency(&kb)
        .post(
            "/api/v1/admin/services",
            json!({"slug": "x", "name": "X", "hisp": hisp_a, "channels": ["website"]}),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .as_agency(&kb)
        .post("/api/v1/admin/deployments", json!({"instrument": "a11-v2-thumbs", "service": svc_a, "channel": "website", "transaction_point": "x"}))
        .await;
    assert_eq!(r.status(), 422);
    // Slugs are per agency: B may use the same ones without learning A's exist.
    let r = app
        .as_agency(&kb)
        .post(
            "/api/v1/admin/hisps",
            json!({"slug": hisp_a, "name": "B's own"}),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Nothing of A changed.
    let v: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/responses?format=json")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["responses"][0]["status"], "counted");
    let v: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/deployments")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["deployments"][0]["status"], "open");
    assert_eq!(app.count("service_volumes"), 0);
    assert_eq!(app.count("response_audit"), 0);
}

on_both!(every_admin_route_denies_another_agency);

/// The matrix: every admin operation the OpenAPI document lists, called with agency B's key
/// on agency A's objects. The case list must name every documented route, so a new route
/// without a case fails here until someone decides what B may see of it.
async fn every_admin_route_denies_another_agency(b: Backend) {
    let app = spawn_app(b).await;
    let a = &app.key;
    let fq = current_quarter();
    let (fy, q) = (fq.year, fq.quarter);
    let dep_a = app.deployment("a11-v2-thumbs").await;
    let r = app
        .answer(&dep_a, json!({"trust": 1, "comments": "A's words"}))
        .await;
    let resp_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let svc: Value = app
        .as_agency(a)
        .get("/api/v1/admin/services")
        .await
        .json()
        .await
        .unwrap();
    let svc_a = svc["services"][0]["slug"].as_str().unwrap().to_string();
    let hisp_a = svc["services"][0]["hisp"].as_str().unwrap().to_string();
    let r = app
        .as_agency(a)
        .put(
            &format!("/api/v1/admin/services/{svc_a}/volumes/{fy}/{q}"),
            json!({"channel": "website", "volume_of_customers": 40}),
        )
        .await;
    assert!(r.status().is_success(), "{}", r.status());
    let before = agency_state(&app, a, &dep_a).await;
    assert_eq!(
        before[5]["details"].as_array().unwrap().len(),
        1,
        "A's report has its data"
    );

    let kb = app.new_key("agency-b");
    let inv = json!([{"email": "x@example.gov", "transaction_id": "t1"}]);
    // (method, documented path) → the concrete call B makes and what it must get.
    let cases: Vec<(&str, &str, String, Option<Value>, Expect)> = vec![
        (
            "get",
            "/api/v1/admin/hisps",
            "/api/v1/admin/hisps".into(),
            None,
            Expect::Empty("hisps"),
        ),
        (
            "get",
            "/api/v1/admin/hisps/{slug}",
            format!("/api/v1/admin/hisps/{hisp_a}"),
            None,
            Expect::Status(404),
        ),
        (
            "get",
            "/api/v1/admin/services/{slug}",
            format!("/api/v1/admin/services/{svc_a}"),
            None,
            Expect::Status(404),
        ),
        (
            "post",
            "/api/v1/admin/hisps",
            "/api/v1/admin/hisps".into(),
            Some(json!({"slug": "b-own", "name": "B"})),
            Expect::Status(201),
        ),
        (
            "get",
            "/api/v1/admin/services",
            "/api/v1/admin/services".into(),
            None,
            Expect::Empty("services"),
        ),
        (
            "post",
            "/api/v1/admin/services",
            "/api/v1/admin/services".into(),
            Some(json!({"slug": "x", "name": "X", "hisp": hisp_a, "channels": ["website"]})),
            Expect::Status(422),
        ),
        (
            "put",
            "/api/v1/admin/services/{service}/volumes/{fiscal_year}/{quarter}",
            format!("/api/v1/admin/services/{svc_a}/volumes/{fy}/{q}"),
            Some(json!({"channel": "website", "volume_of_customers": 1})),
            Expect::Status(404),
        ),
        (
            "get",
            "/api/v1/admin/deployments",
            "/api/v1/admin/deployments".into(),
            None,
            Expect::Empty("deployments"),
        ),
        (
            "post",
            "/api/v1/admin/deployments",
            "/api/v1/admin/deployments".into(),
            Some(
                json!({"instrument": "a11-v2-thumbs", "service": svc_a, "channel": "website", "transaction_point": "x"}),
            ),
            Expect::Status(422),
        ),
        (
            "get",
            "/api/v1/admin/deployments/{id}",
            format!("/api/v1/admin/deployments/{dep_a}"),
            None,
            Expect::Status(404),
        ),
        (
            "patch",
            "/api/v1/admin/deployments/{id}",
            format!("/api/v1/admin/deployments/{dep_a}"),
            Some(json!({"status": "closed", "allowed_origins": ["https://evil.example"]})),
            Expect::Status(404),
        ),
        (
            "post",
            "/api/v1/admin/deployments/{id}/responses/import",
            format!("/api/v1/admin/deployments/{dep_a}/responses/import"),
            None,
            Expect::Status(404),
        ),
        (
            "post",
            "/api/v1/admin/deployments/{id}/invitations",
            format!("/api/v1/admin/deployments/{dep_a}/invitations"),
            Some(inv),
            Expect::Status(404),
        ),
        (
            "get",
            "/api/v1/admin/responses",
            "/api/v1/admin/responses?format=json".into(),
            None,
            Expect::Empty("responses"),
        ),
        (
            "get",
            "/api/v1/admin/responses",
            format!("/api/v1/admin/responses?format=csv&deployment={dep_a}"),
            None,
            Expect::Status(404),
        ),
        (
            "patch",
            "/api/v1/admin/responses/{id}",
            format!("/api/v1/admin/responses/{resp_a}"),
            Some(json!({"status": "spam"})),
            Expect::Status(404),
        ),
        (
            "get",
            "/api/v1/admin/responses/{id}/audit",
            format!("/api/v1/admin/responses/{resp_a}/audit"),
            None,
            Expect::Status(404),
        ),
        (
            "get",
            "/api/v1/admin/reports/quarterly",
            format!("/api/v1/admin/reports/quarterly?fiscal_year={fy}&quarter={q}&hisp={hisp_a}"),
            None,
            Expect::NothingOfA,
        ),
        (
            "get",
            "/api/v1/admin/reports/quarterly",
            format!("/api/v1/admin/reports/quarterly?fiscal_year={fy}&quarter={q}"),
            None,
            Expect::NothingOfA,
        ),
    ];

    let spec: Value = app.get("/openapi.json").await.json().await.unwrap();
    let mut documented: Vec<(String, String)> = vec![];
    for (path, ops) in spec["paths"].as_object().unwrap() {
        if path.starts_with("/api/v1/admin") {
            for m in ops.as_object().unwrap().keys() {
                documented.push((m.clone(), path.clone()));
            }
        }
    }
    for (m, p) in &documented {
        assert!(
            cases.iter().any(|c| c.0 == m && c.1 == p),
            "{m} {p} is documented but has no cross-agency case here"
        );
    }
    let secrets = [dep_a.as_str(), resp_a.as_str(), svc_a.as_str(), "A's words"];
    for (m, template, path, body, expect) in &cases {
        assert!(
            documented.iter().any(|d| d.0 == *m && d.1 == *template),
            "case {m} {template} is not in /openapi.json"
        );
        let method = Method::from_bytes(m.to_uppercase().as_bytes()).unwrap();
        // Without a key: 401, whatever the route.
        let anon = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(anon.status(), 401, "{m} {path} without a key");
        let r = match (template.ends_with("/import"), body) {
            (true, _) => {
                app.as_agency(&kb)
                    .post_body(
                        path,
                        "text/csv",
                        "external_id,submitted_at,trust\nx1,2026-01-05T10:00:00Z,1\n",
                    )
                    .await
            }
            (false, body) => {
                app.as_agency(&kb)
                    .send(method.clone(), path, body.clone())
                    .await
            }
        };
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        let label = format!("B: {m} {path} → {status} {text}");
        // Echoing what B itself sent (a slug in a field error) reveals nothing.
        let sent = format!(
            "{path} {}",
            body.as_ref().map(|b| b.to_string()).unwrap_or_default()
        );
        for s in secrets.iter().filter(|s| !sent.contains(**s)) {
            assert!(!text.contains(s), "{label} reveals {s}");
        }
        match expect {
            Expect::Status(want) => assert_eq!(status, *want, "{label}"),
            Expect::Empty(field) => {
                assert_eq!(status, 200, "{label}");
                let v: Value = serde_json::from_str(&text).unwrap();
                assert_eq!(v[*field], json!([]), "{label}");
            }
            Expect::NothingOfA => {
                assert!([200, 404].contains(&status), "{label}");
                if status == 200 {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    for part in ["collections", "details", "v1", "trend"] {
                        assert_eq!(v[part], json!([]), "{label}");
                    }
                }
            }
        }
    }
    assert_eq!(
        agency_state(&app, a, &dep_a).await,
        before,
        "A's data changed"
    );
    assert_eq!(app.count("invitations"), 0);
    assert_eq!(app.count("response_audit"), 0);
}

enum Expect {
    Status(u16),
    /// 200 with an empty list in this field.
    Empty(&'static str),
    /// 200 without A's data, or 404.
    NothingOfA,
}

/// Everything agency A can see of itself, for a before/after comparison.
async fn agency_state(app: &TestApp, key: &str, dep: &str) -> Vec<Value> {
    let mut out = vec![];
    for path in [
        "/api/v1/admin/hisps".to_string(),
        "/api/v1/admin/services".to_string(),
        "/api/v1/admin/deployments".to_string(),
        format!("/api/v1/admin/deployments/{dep}"),
        "/api/v1/admin/responses?format=json".to_string(),
        {
            let fq = current_quarter();
            format!(
                "/api/v1/admin/reports/quarterly?fiscal_year={}&quarter={}",
                fq.year, fq.quarter
            )
        },
    ] {
        let r = app.as_agency(key).get(&path).await;
        assert_eq!(r.status(), 200, "{path}");
        let mut v: Value = r.json().await.unwrap();
        // The report is stamped with the time it was made.
        if let Some(o) = v.as_object_mut() {
            o.remove("generated_at");
        }
        out.push(v);
    }
    out
}
