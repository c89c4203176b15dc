//! A key of agency B can read, list, change or export nothing of agency A.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both;

on_both!(agency_b_sees_nothing_of_agency_a);

async fn agency_b_sees_nothing_of_agency_a(b: Backend) {
    let app = spawn_app(b).await;
    let dep_a = app.deployment("a11-v2-thumbs").await;
    let r = app
        .submit(
            &dep_a,
            json!({"submission_id": sub_id(), "answers": {"trust": 1}}),
        )
        .await;
    let resp_a = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let services: Value = app
        .admin(&app.key, Method::GET, "/api/v1/admin/services", None)
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
        let v: Value = app
            .admin(&kb, Method::GET, path, None)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(v[field], json!([]), "{path}");
    }
    let v: Value = app
        .admin(
            &kb,
            Method::GET,
            "/api/v1/admin/responses?format=json",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["responses"], json!([]));
    let csv = app
        .admin(&kb, Method::GET, "/api/v1/admin/responses?format=csv", None)
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
        let r = app.admin(&kb, m.clone(), &path, body).await;
        assert_eq!(r.status(), 404, "{m} {path}");
        problem(r).await;
    }
    let r = app
        .client
        .post(app.url(&format!(
            "/api/v1/admin/deployments/{dep_a}/responses/import"
        )))
        .bearer_auth(&kb)
        .header("content-type", "text/csv")
        .body("external_id\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // B cannot attach its objects to A's HISP or service.
    let r = app
        .admin(
            &kb,
            Method::POST,
            "/api/v1/admin/services",
            Some(json!({"slug": "x", "name": "X", "hisp": hisp_a, "channels": ["website"]})),
        )
        .await;
    assert_eq!(r.status(), 422);
    let r = app
        .admin(&kb, Method::POST, "/api/v1/admin/deployments",
            Some(json!({"instrument": "a11-v2-thumbs", "service": svc_a, "channel": "website", "transaction_point": "x"})))
        .await;
    assert_eq!(r.status(), 422);
    // Slugs are per agency: B may use the same ones without learning A's exist.
    let r = app
        .admin(
            &kb,
            Method::POST,
            "/api/v1/admin/hisps",
            Some(json!({"slug": hisp_a, "name": "B's own"})),
        )
        .await;
    assert_eq!(r.status(), 201);

    // Nothing of A changed.
    let v: Value = app
        .admin(
            &app.key,
            Method::GET,
            "/api/v1/admin/responses?format=json",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["responses"][0]["status"], "counted");
    let v: Value = app
        .admin(&app.key, Method::GET, "/api/v1/admin/deployments", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(v["deployments"][0]["status"], "open");
    assert_eq!(app.count("service_volumes"), 0);
    assert_eq!(app.count("response_audit"), 0);
}
