//! The database goes away under a running service: public calls answer `503` with `Retry-After`
//! in bounded time, readable by the widget's page (CORS), nothing is stored half, `/readyz`
//! says so, and the service recovers by itself. PostgreSQL: the test database refuses
//! connections and its sessions are ended. SQLite: another connection holds the write lock.

use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use diesel::Connection;
use reqwest::header::ORIGIN;
use serde_json::json;

use crate::helpers::*;
use crate::on_both;

on_both!(database_outage_answers_503_and_recovers);

const PAGE: &str = "https://www.example.gov";

async fn database_outage_answers_503_and_recovers(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let post = |sub: String| {
        app.client
            .post(app.url(&format!("/api/v1/deployments/{dep}/responses")))
            .header(ORIGIN, PAGE)
            .json(&json!({"submission_id": sub, "answers": {"trust": 1}}))
            .send()
    };
    assert_eq!(post(sub_id()).await.unwrap().status(), 201);
    // Let the deployment drop out of the instance's short cache, so the outage hits every step.
    actix_web::rt::time::sleep(Duration::from_millis(2100)).await;

    let name = app.database_name();
    // SQLite: a second connection takes the write lock; it is released by dropping it.
    let lock = match b {
        Backend::Postgres => {
            pg_admin()
                .batch_execute(&format!(
                    "ALTER DATABASE {name} ALLOW_CONNECTIONS false;
                     SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}';"
                ))
                .unwrap();
            None
        }
        Backend::Sqlite => {
            let path = app.database_url.trim_start_matches("sqlite://").to_string();
            let mut c = diesel::SqliteConnection::establish(&path).unwrap();
            c.batch_execute("BEGIN EXCLUSIVE").unwrap();
            Some(c)
        }
    };
    if b == Backend::Postgres {
        // The browser asks first; the allowed origins cannot be read, so the preflight lets
        // the request through, uncached, for its 503 to be readable.
        let r = app
            .client
            .request(
                reqwest::Method::OPTIONS,
                app.url(&format!("/api/v1/deployments/{dep}/responses")),
            )
            .header(ORIGIN, PAGE)
            .header("access-control-request-method", "POST")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(r.headers()["access-control-allow-origin"], PAGE);
        assert_eq!(r.headers()["access-control-max-age"], "0");
    }
    let sub = sub_id();
    let started = Instant::now();
    let r = post(sub.clone()).await.unwrap();
    let took = started.elapsed();
    assert_eq!(r.status(), 503, "{took:?}");
    // Bounded: the pool's 5-s connect timeout (PostgreSQL), the 10-s busy timeout (SQLite),
    // never the 15-s reply timeout or a hang.
    assert!(took < Duration::from_secs(14), "answered after {took:?}");
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait));
    assert_eq!(r.headers()["access-control-allow-origin"], PAGE);
    assert!(r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("Retry-After"));
    let p = problem(r).await;
    assert_eq!(p["status"], 503);
    // The driver's own text (host, database, role) stays in the log.
    assert!(!p.to_string().contains(name), "{p}");
    if b == Backend::Postgres {
        let r = app.get("/readyz").await;
        assert_eq!(r.status(), 503);
        let text = r.text().await.unwrap();
        assert!(!text.contains(name), "readyz names the database: {text}");
    }
    assert_eq!(
        app.get("/healthz").await.status(),
        200,
        "the process is alive"
    );

    // Back: the same submission is stored exactly once, without a restart.
    match lock {
        Some(mut c) => c.batch_execute("ROLLBACK").unwrap(),
        None => pg_admin()
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
            .unwrap(),
    }
    let back = Instant::now();
    let mut status = 0;
    while back.elapsed() < Duration::from_secs(20) {
        status = post(sub.clone()).await.unwrap().status().as_u16();
        if status == 200 || status == 201 {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    assert!([200, 201].contains(&status), "not recovered: {status}");
    assert_eq!(app.get("/readyz").await.status(), 200);
    let rows = app.exported(&dep).await;
    assert_eq!(
        rows.len(),
        2,
        "the first response and the retried one, once"
    );
}

on_both!(
    broken_pooled_connections_are_discarded,
    connection_left_in_a_transaction_is_discarded
);

/// The database's sessions end under an idle service (a PostgreSQL restart or failover; on
/// SQLite nothing can end them, so the same calls simply keep working): the next calls must
/// succeed at once, because the pool drops the dead connections instead of handing them out.
/// That is the checkout test's work (`is_valid`); this fails with it switched off (`503`).
async fn broken_pooled_connections_are_discarded(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    // Fill the pool: concurrent calls each hold a connection.
    let calls: Vec<_> = (0..8).map(|_| app.get("/api/v1/admin/hisps")).collect();
    futures::future::join_all(calls).await;
    if b == Backend::Postgres {
        let name = app.database_name();
        pg_admin()
            .batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            ))
            .unwrap();
        actix_web::rt::time::sleep(Duration::from_millis(200)).await;
    }
    for _ in 0..3 {
        assert_eq!(app.get("/readyz").await.status(), 200);
        let r = app.as_agency(&app.key).get("/api/v1/admin/hisps").await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = app.answer(&dep, json!({"trust": 1})).await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
}

/// A panic inside `transaction` (a bug in some handler) unwinds past diesel's commit and
/// rollback, and the pooled connection goes back with its transaction still open. `SELECT 1`
/// passes on it, so the checkout test cannot tell; only the check-in test can. Handed out
/// again, it would run the next caller's writes inside that transaction, never committed (and
/// on SQLite hold the write lock against everyone else).
async fn connection_left_in_a_transaction_is_discarded(b: Backend) {
    let app = spawn_app(b).await;
    let (pool, _) = cx_survey::db::connect_pool(&app.database_url, 2, 0).unwrap();
    let p = pool.clone();
    let panicked = std::thread::spawn(move || {
        let mut c = p.get().unwrap();
        c.transaction::<(), diesel::result::Error, _>(|_| panic!("a bug inside a transaction"))
    })
    .join();
    assert!(panicked.is_err());
    // The pool hands out its most recently returned connection first.
    let key = {
        let mut c = pool.get().unwrap();
        cx_survey::admin::create_key(&mut c, "agency-b", Some("Agency B"), None).unwrap()
    };
    // The service, on its own connections, sees the key only if it was committed.
    let r = app.as_agency(&key).get("/api/v1/admin/hisps").await;
    assert_eq!(r.status(), 200, "the new key was never committed");
}
