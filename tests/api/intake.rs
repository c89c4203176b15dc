//! Public intake: rendering, storing, idempotency, and every bad input refused with nothing stored.

use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both;

on_both!(
    renders_deployment_in_requested_locale,
    unknown_deployment_is_404,
    stores_response_once_per_submission_id,
    bad_inputs_name_the_field_and_store_nothing,
    likert_scale_rules,
    oversized_body_is_413,
    honeypot_is_accepted_and_dropped,
    disallowed_origin_is_403_without_cors_grant,
    expired_clearance_is_410_and_stores_nothing,
    closed_deployment_is_410,
    rate_limit_answers_429_with_retry_after,
    twenty_concurrent_retries_store_one_row,
    impressions_are_counted,
    page_url_is_stripped_of_query,
);

async fn renders_deployment_in_requested_locale(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let v: Value = app
        .get(&format!("/api/v1/deployments/{dep}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["locale"], "en");
    assert_eq!(v["pra"]["omb_control_number"], "3090-0321");
    assert_eq!(v["pra"]["expiration_date"], "2028-01-31");
    assert!(v["pra"]["burden_statement"]
        .as_str()
        .unwrap()
        .contains("not required to respond"));
    let trust = &v["questions"][0];
    assert_eq!(trust["key"], "trust");
    assert_eq!(trust["required"], true);
    assert!(
        trust["text"].as_str().unwrap().contains("Passport renewal"),
        "{trust}"
    );
    assert!(trust["text"].as_str().unwrap().contains("Agency A"));
    assert_eq!(
        v["questions"][1]["show_if"],
        json!({"question": "trust", "values": [1]})
    );
    // The OpenAPI document describes what a renderer receives, field by field.
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let schema = &doc["paths"]["/api/v1/deployments/{id}"]["get"]["responses"]["200"]["content"]
        ["application/json"]["schema"];
    assert_eq!(schema["$ref"], "#/components/schemas/PublicDeployment");
    let schemas = &doc["components"]["schemas"];
    for (name, obj) in [("PublicDeployment", &v), ("PublicPra", &v["pra"])]
        .into_iter()
        .chain(
            v["questions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|q| ("PublicQuestion", q)),
        )
    {
        for k in obj.as_object().unwrap().keys() {
            assert!(
                schemas[name]["properties"].get(k).is_some(),
                "{name} lacks {k}"
            );
        }
    }

    let es: Value = app
        .get(&format!("/api/v1/deployments/{dep}?locale=es"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(es["locale"], "es");
    assert!(es["questions"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Según"));
    let r = app
        .client
        .get(app.url(&format!("/api/v1/deployments/{dep}")))
        .header("Accept-Language", "es-US,es;q=0.9,en;q=0.5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-language"], "es");
}

async fn unknown_deployment_is_404(b: Backend) {
    let app = spawn_app(b).await;
    for id in [uuid::Uuid::new_v4().to_string(), "not-a-uuid".to_string()] {
        let r = app.get(&format!("/api/v1/deployments/{id}")).await;
        assert_eq!(r.status(), 404);
        problem(r).await;
        let r = app.answer(&id, json!({"trust": 1})).await;
        assert_eq!(r.status(), 404);
    }
    assert_eq!(app.responses(), 0);
}

async fn stores_response_once_per_submission_id(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let body = json!({"submission_id": sub_id(), "answers": {"trust": 1, "went_well": ["ease", "humanity"], "comments": "Quick and clear."},
                      "locale": "es", "page_url": "https://www.example.gov/done"});
    let r = app.submit(&dep, body.clone()).await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    let r = app.submit(&dep, body.clone()).await;
    assert_eq!(r.status(), 200);
    let again: Value = r.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(app.responses(), 1);

    let export: Value = app
        .as_agency(&app.key)
        .get("/api/v1/admin/responses?format=json")
        .await
        .json()
        .await
        .unwrap();
    let row = &export["responses"][0];
    assert_eq!(row["id"], first["id"]);
    assert_eq!(row["locale"], "es");
    assert_eq!(row["status"], "counted");
    assert_eq!(row["external_id"], Value::Null);
    assert_eq!(
        row["instrument"],
        json!({"id": "a11-v2-thumbs", "version": 1})
    );
    assert_eq!(row["answers"]["went_well"], json!(["ease", "humanity"]));
    assert!(row["submitted_at"].as_str().unwrap().ends_with('Z'));
}

/// Each case: (body, the field that must be named).
fn bad_cases() -> Vec<(Value, &'static str)> {
    let id = sub_id();
    let long = "x".repeat(5001);
    vec![
        (json!([1, 2]), "body"),
        (json!({"answers": {"trust": 1}}), "submission_id"),
        (
            json!({"submission_id": "abc", "answers": {"trust": 1}}),
            "submission_id",
        ),
        (
            json!({"submission_id": 42, "answers": {"trust": 1}}),
            "submission_id",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1}, "extra": true}),
            "extra",
        ),
        (json!({"submission_id": id}), "answers"),
        (json!({"submission_id": id, "answers": [1]}), "answers"),
        (json!({"submission_id": id, "answers": {}}), "answers.trust"),
        (
            json!({"submission_id": id, "answers": {"trust": 2}}),
            "answers.trust",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": "1"}}),
            "answers.trust",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": true}}),
            "answers.trust",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 0.5}}),
            "answers.trust",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "mood": "good"}}),
            "answers.mood",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 0, "went_well": ["ease"]}}),
            "answers.went_well",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "went_poorly": ["ease"]}}),
            "answers.went_poorly",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "went_well": ["speed"]}}),
            "answers.went_well[0]",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "went_well": ["ease", "ease"]}}),
            "answers.went_well[1]",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "went_well": "ease"}}),
            "answers.went_well",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "comments": long}}),
            "answers.comments",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1, "comments": 5}}),
            "answers.comments",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1}, "locale": "fr"}),
            "locale",
        ),
        (
            json!({"submission_id": id, "answers": {"trust": 1}, "page_url": "javascript:alert(1)"}),
            "page_url",
        ),
    ]
}

async fn bad_inputs_name_the_field_and_store_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    for (body, field) in bad_cases() {
        let r = app.submit(&dep, body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let p = problem(r).await;
        assert!(
            fields(&p).contains(&field.to_string()),
            "{body}: expected {field}, got {p}"
        );
    }
    // Not JSON at all.
    let r = app
        .client
        .post(app.url(&format!("/api/v1/deployments/{dep}/responses")))
        .header("content-type", "application/json")
        .body("{\"submission_id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(fields(&problem(r).await), vec!["body"]);
    assert_eq!(app.responses(), 0);
}

async fn likert_scale_rules(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-likert").await;
    for (trust, list, ok) in [
        (0, None, false),
        (6, None, false),
        (3, Some("went_well"), false),
        (3, Some("went_poorly"), true),
        (4, Some("went_poorly"), false),
        (5, Some("went_well"), true),
        (1, Some("went_poorly"), true),
    ] {
        let mut answers = json!({"trust": trust});
        if let Some(l) = list {
            answers[l] = json!(["effectiveness"]);
        }
        let r = app.answer(&dep, answers).await;
        assert_eq!(
            r.status().as_u16(),
            if ok { 201 } else { 422 },
            "trust {trust} with {list:?}"
        );
    }
    assert_eq!(app.responses(), 3);
    let v1 = app.deployment("a11-v1").await;
    let r = app
        .answer(
            &v1,
            json!({"trust": 4, "satisfaction": 5, "ease": 2, "comments": "ok"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app.answer(&v1, json!({"trust": 4, "ease": 9})).await;
    assert_eq!(fields(&problem(r).await), vec!["answers.ease"]);
    assert_eq!(app.responses(), 4);
}

async fn oversized_body_is_413(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app
        .answer(&dep, json!({"trust": 1, "comments": "é".repeat(40_000)}))
        .await;
    assert_eq!(r.status(), 413);
    problem(r).await;
    assert_eq!(app.responses(), 0);
}

async fn honeypot_is_accepted_and_dropped(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app
        .submit(
            &dep,
            json!({"submission_id": sub_id(), "answers": {"trust": 1}, "fax_number": "555-0100"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(app.responses(), 0);
    let r = app
        .submit(
            &dep,
            json!({"submission_id": sub_id(), "answers": {"trust": 1}, "fax_number": ""}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(app.responses(), 1);
}

async fn disallowed_origin_is_403_without_cors_grant(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let path = format!("/api/v1/deployments/{dep}/responses");
    let body = json!({"submission_id": sub_id(), "answers": {"trust": 1}});
    let r = app
        .client
        .post(app.url(&path))
        .header("Origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url(&path))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    assert_eq!(app.responses(), 0);

    let r = app
        .client
        .request(reqwest::Method::OPTIONS, app.url(&path))
        .header("Origin", "https://www.example.gov")
        .header("Access-Control-Request-Method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://www.example.gov"
    );
    let r = app
        .client
        .post(app.url(&path))
        .header("Origin", "https://www.example.gov")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "https://www.example.gov"
    );
    assert_eq!(app.responses(), 1);
}

async fn expired_clearance_is_410_and_stores_nothing(b: Backend) {
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(2))
        .date_naive()
        .to_string();
    let expired = variant("a11-v2-thumbs.json", "expired-thumbs", |v| {
        v["pra"]["expiration_date"] = json!(yesterday)
    });
    let app = spawn_with(
        b,
        Options {
            extra_defs: vec![expired],
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("expired-thumbs").await;
    let r = app.get(&format!("/api/v1/deployments/{dep}")).await;
    assert_eq!(r.status(), 410);
    assert!(problem(r).await["detail"]
        .as_str()
        .unwrap()
        .contains("expired"));
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 410);
    let r = app.impression(&dep).await;
    assert_eq!(r.status(), 410);
    assert_eq!(app.responses(), 0);
    assert_eq!(app.count("impressions"), 0);
}

async fn closed_deployment_is_410(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{dep}"),
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "closed");
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 410);
    assert_eq!(app.responses(), 0);
    let r = app
        .as_agency(&app.key)
        .patch(
            &format!("/api/v1/admin/deployments/{dep}"),
            json!({"status": "open"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 201);
}

async fn rate_limit_answers_429_with_retry_after(b: Backend) {
    let app = spawn_with(
        b,
        Options {
            rate_limit: 3,
            ..Default::default()
        },
    )
    .await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let imp = app.impression(&dep).await;
    assert_eq!(imp.status(), 204);
    for _ in 0..2 {
        assert_eq!(app.answer(&dep, json!({"trust": 1})).await.status(), 201);
    }
    let r = app.answer(&dep, json!({"trust": 1})).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    problem(r).await;
    // Impressions share the budget: the incumbent limited only one of its two routes.
    let r = app.impression(&dep).await;
    assert_eq!(r.status(), 429);
    assert_eq!(app.responses(), 2);
}

async fn twenty_concurrent_retries_store_one_row(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let body =
        json!({"submission_id": sub_id(), "answers": {"trust": 0, "went_poorly": ["efficiency"]}});
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (c, url, body) = (
                reqwest::Client::new(),
                app.url(&format!("/api/v1/deployments/{dep}/responses")),
                body.clone(),
            );
            actix_web::rt::spawn(async move {
                let mut ids = vec![];
                for _ in 0..3 {
                    let r = c.post(&url).json(&body).send().await.unwrap();
                    let status = r.status().as_u16();
                    assert!(status == 201 || status == 200, "{status}");
                    ids.push((
                        status,
                        r.json::<Value>().await.unwrap()["id"]
                            .as_str()
                            .unwrap()
                            .to_string(),
                    ));
                }
                ids
            })
        })
        .collect();
    let mut all = vec![];
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let created = all.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "exactly one 201");
    assert!(
        all.iter().all(|(_, id)| *id == all[0].1),
        "every answer names the same row"
    );
    assert_eq!(app.responses(), 1);
}

async fn impressions_are_counted(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    for _ in 0..5 {
        let r = app.impression(&dep).await;
        assert_eq!(r.status(), 204);
    }
    assert_eq!(app.count("impressions"), 5);
}

async fn page_url_is_stripped_of_query(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app
        .submit(&dep, json!({"submission_id": sub_id(), "answers": {"trust": 1}, "page_url": "https://www.example.gov/renew/done?ssn=123-45-6789#x"}))
        .await;
    assert_eq!(r.status(), 201);
    #[derive(diesel::QueryableByName)]
    struct U {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        page_url: Option<String>,
    }
    use diesel::RunQueryDsl;
    let mut c = app.pool.get().unwrap();
    let u: U = diesel::sql_query("SELECT page_url FROM responses")
        .get_result(&mut *c)
        .unwrap();
    assert_eq!(
        u.page_url.as_deref(),
        Some("https://www.example.gov/renew/done")
    );
}
