//! Health, readiness, metrics, OpenAPI and the 404 shape.

use serde_json::Value;

use crate::helpers::*;
use crate::on_both;

on_both!(
    operations_endpoints,
    graceful_shutdown_commits_in_flight_responses
);

async fn operations_endpoints(b: Backend) {
    let app = spawn_app(b).await;
    let r = app.get("/healthz").await;
    assert_eq!(r.status(), 200);
    let rid = r.headers()["x-request-id"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    let r: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(r["database"], "ok");
    let dep = app.deployment("a11-v2-thumbs").await;
    app.submit(
        &dep,
        serde_json::json!({"submission_id": sub_id(), "answers": {"trust": 1}}),
    )
    .await;
    let m = app.get("/metrics").await.text().await.unwrap();
    assert!(m.contains("cx_responses_total{outcome=\"stored\"}"), "{m}");
    assert!(m.contains("cx_http_request_duration_seconds_bucket"));
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    for p in [
        "/api/v1/deployments/{id}/responses",
        "/api/v1/admin/deployments",
        "/api/v1/admin/responses/{id}",
        "/readyz",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }
    // Every JSON answer is described by a schema, not as a bare object.
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for (status, resp) in op["responses"].as_object().unwrap() {
                let schema = &resp["content"]["application/json"]["schema"];
                assert_ne!(
                    schema,
                    &serde_json::json!({"type": "object"}),
                    "{method} {path} {status} is documented as a bare object"
                );
            }
        }
    }
    let r = app.get("/nope").await;
    assert_eq!(r.status(), 404);
    problem(r).await;
}

async fn graceful_shutdown_commits_in_flight_responses(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let url = app.url(&format!("/api/v1/deployments/{dep}/responses"));
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let url = url.clone();
            actix_web::rt::spawn(async move {
                let body = serde_json::json!({"submission_id": sub_id(), "answers": {"trust": 1}});
                reqwest::Client::new()
                    .post(&url)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    actix_web::rt::time::sleep(std::time::Duration::from_millis(5)).await;
    app.handle.stop(true).await;
    let mut created = 0;
    for t in tasks {
        if let Ok(Ok(201)) = t.await {
            created += 1;
        }
    }
    // Every acknowledged response is committed; nothing unacknowledged slipped in.
    assert_eq!(app.responses(), created);
}
