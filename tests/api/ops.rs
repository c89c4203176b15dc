//! Health, readiness, metrics, OpenAPI and the 404 shape.

use serde_json::Value;

use crate::helpers::*;
use crate::on_both;

on_both!(
    operations_endpoints,
    graceful_shutdown_commits_in_flight_responses,
    operator_metrics,
    request_ids_from_trusted_proxies_only
);

/// The value of the sample `series` (name with its labels, as printed) in a /metrics text.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

async fn operator_metrics(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-likert").await;
    let list: Vec<Value> = (0..3)
        .map(|i| serde_json::json!({"email": format!("m{i}@example.com"), "transaction_id": format!("t-{i}")}))
        .collect();
    let r = app
        .as_agency(&app.key)
        .post(
            &format!("/api/v1/admin/deployments/{dep}/invitations"),
            serde_json::json!(list),
        )
        .await;
    assert_eq!(r.status(), 202);
    let m = app.get("/metrics").await.text().await.unwrap();
    // No SMTP relay is configured: the invitations wait in the outbox.
    assert_eq!(sample(&m, "cx_outbox_invitations{state=\"queued\"}"), 3.0);
    assert_eq!(sample(&m, "cx_outbox_invitations{state=\"retrying\"}"), 0.0);
    assert_eq!(sample(&m, "cx_outbox_invitations{state=\"sending\"}"), 0.0);
    for kind in ["temporary", "permanent"] {
        assert!(
            sample(
                &m,
                &format!("cx_outbox_delivery_failures_total{{kind=\"{kind}\"}}")
            ) >= 0.0
        );
    }
    for pool in ["main", "export"] {
        let idle = sample(
            &m,
            &format!("cx_db_pool_connections{{pool=\"{pool}\",state=\"idle\"}}"),
        );
        let used = sample(
            &m,
            &format!("cx_db_pool_connections{{pool=\"{pool}\",state=\"in_use\"}}"),
        );
        assert!(
            idle >= 0.0 && used >= 0.0 && idle + used <= 64.0,
            "{pool}: {idle} {used}"
        );
        assert!(sample(&m, &format!("cx_db_pool_timeouts_total{{pool=\"{pool}\"}}")) >= 0.0);
    }
    // The main pool answered every request above.
    assert!(sample(&m, "cx_db_pool_connections{pool=\"main\",state=\"idle\"}") >= 1.0);
    assert!(sample(&m, "cx_db_pool_wait_seconds_count{pool=\"main\"}") >= 1.0);
    // The shipped instruments expire at the end of 2028-01-31 in the report time zone.
    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let ends = cx_survey::survey::pra::clearance_ends(
        chrono::NaiveDate::from_ymd_opt(2028, 1, 31).unwrap(),
        tz,
    );
    let want = (ends - chrono::Utc::now()).num_seconds() as f64 / 86_400.0;
    for ins in ["a11-v1", "a11-v2-likert", "a11-v2-thumbs"] {
        let days = sample(
            &m,
            &format!("cx_pra_days_until_expiry{{instrument=\"{ins}\",version=\"1\"}}"),
        );
        assert!(
            (days - want).abs() < 1.0,
            "{ins}: {days} days, about {want} expected"
        );
    }
    assert!(sample(&m, "process_resident_memory_bytes") > 0.0);
    assert!(sample(&m, "process_open_fds") > 0.0);
    assert!(sample(&m, "process_cpu_seconds_total") >= 0.0);
}

async fn request_ids_from_trusted_proxies_only(b: Backend) {
    let get = |app: &TestApp, header: (&'static str, String)| {
        let req = app
            .client
            .get(app.url("/healthz"))
            .header(header.0, header.1);
        async move {
            let r = req.send().await.unwrap();
            assert_eq!(r.status(), 200);
            r.headers()["x-request-id"].to_str().unwrap().to_string()
        }
    };
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{trace}-00f067aa0ba902b7-01");
    // The test client connects from 127.0.0.1: a trusted proxy here.
    let proxied = spawn_with(
        b,
        Options {
            trusted_proxies: "127.0.0.1/32",
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        get(&proxied, ("x-request-id", "lb-7f3a:42".into())).await,
        "lb-7f3a:42"
    );
    assert_eq!(
        get(&proxied, ("traceparent", traceparent.clone())).await,
        trace
    );
    // Not sane: a fresh id instead.
    let fresh = get(&proxied, ("x-request-id", "x".repeat(129))).await;
    assert!(uuid::Uuid::parse_str(&fresh).is_ok(), "{fresh}");
    let fresh = get(
        &proxied,
        (
            "traceparent",
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
        ),
    )
    .await;
    assert!(uuid::Uuid::parse_str(&fresh).is_ok(), "{fresh}");
    // From anyone else the headers are ignored.
    let direct = spawn_app(b).await;
    for h in [
        ("x-request-id", "lb-7f3a:42".to_string()),
        ("traceparent", traceparent),
    ] {
        let id = get(&direct, h).await;
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    }
}

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
    app.answer(&dep, serde_json::json!({"trust": 1})).await;
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

/// Runs the `cx-survey` binary off the test's runtime thread (the server under test answers on it).
async fn cx_survey(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cx-survey"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    actix_web::rt::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

/// `cx-survey healthcheck` (the Dockerfile's HEALTHCHECK): 0 against a ready server, whether
/// given `--url` or only `CX_BIND` (`0.0.0.0` probed on loopback); 1 where nothing listens.
#[actix_web::test]
async fn healthcheck_exit_codes() {
    let app = spawn_app(Backend::Sqlite).await;
    let out = cx_survey(&["healthcheck", "--url", &app.address], &[]).await;
    assert!(out.status.success(), "{out:?}");
    let port = app.address.rsplit(':').next().unwrap();
    let out = cx_survey(&["healthcheck"], &[("CX_BIND", &format!("0.0.0.0:{port}"))]).await;
    assert!(out.status.success(), "{out:?}");

    let closed = format!("127.0.0.1:{}", free_port());
    let out = cx_survey(&["healthcheck"], &[("CX_BIND", &closed)]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("not ready: "), "{err}");
    // A server that answers, but not 200 (no /readyz there): not ready either.
    let out = cx_survey(&["healthcheck", "--url", &app.url("/nope")], &[]).await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

/// A CX_SMTP_CA_FILE that is not a certificate stops start-up as a configuration error (exit
/// 2) naming the variable, before anything is opened.
#[actix_web::test]
async fn bad_smtp_ca_file_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("relay-ca.pem");
    std::fs::write(&bad, "this is not a certificate").unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = cx_survey(
        &["serve", "--bind", "127.0.0.1:0"],
        &[
            ("CX_SMTP_CA_FILE", bad.to_str().unwrap()),
            ("DATABASE_URL", &db),
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("configuration error: CX_SMTP_CA_FILE: ") && err.contains("relay-ca.pem"),
        "{err}"
    );
    assert!(!dir.path().join("x.db").exists(), "start-up went on");
}
