//! Several instances on one database, as behind a load balancer: they can all start at once on
//! an empty database, the per-client rate limit is one budget across them, and behind a trusted
//! proxy the client is the forwarded address.

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, RunQueryDsl};

use cx_survey::startup::Application;
use serde_json::json;

use crate::helpers::*;
use crate::on_both;

on_both!(
    instances_starting_together_migrate_once,
    instances_share_one_rate_limit,
    forwarded_client_is_limited_alone
);

/// Four `serve` processes started at once on an empty database (a deployment rolling out several
/// replicas): every one becomes ready, and each migration is recorded once. Before migrations
/// were serialized they raced on PostgreSQL (and on the registry files' rows after them).
async fn instances_starting_together_migrate_once(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let db = fresh_database(b, dir.path());
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut servers: Vec<_> = ports
        .iter()
        .map(|port| {
            let log = std::fs::File::create(dir.path().join(format!("serve-{port}.log"))).unwrap();
            std::process::Command::new(env!("CARGO_BIN_EXE_cx-survey"))
                .env("DATABASE_URL", &db)
                .env("CX_SURVEY_DEFS", shipped_defs())
                .env("CX_SECRET", "test-secret-0123456789")
                .env_remove("RUST_LOG")
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .stdout(std::process::Stdio::null())
                .stderr(log)
                .spawn()
                .unwrap()
        })
        .collect();
    let client = reqwest::Client::new();
    let until = std::time::Instant::now() + Duration::from_secs(60);
    for (i, port) in ports.iter().enumerate() {
        loop {
            let r = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 200) {
                break;
            }
            let log = || std::fs::read_to_string(dir.path().join(format!("serve-{port}.log")));
            if let Ok(Some(status)) = servers[i].try_wait() {
                panic!("instance {i} exited ({status}): {:?}", log());
            }
            assert!(
                std::time::Instant::now() < until,
                "instance {i} not ready: {:?}",
                log()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for s in &mut servers {
        let _ = s.kill();
        let _ = s.wait();
    }
    let versions = migration_versions(b, &db);
    let mut distinct = versions.clone();
    distinct.dedup();
    assert_eq!(versions, distinct, "a migration was recorded twice");
    let shipped =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite"))
            .unwrap()
            .count();
    assert_eq!(versions.len(), shipped, "{versions:?}");
    if b == Backend::Postgres {
        let name = db.rsplit('/').next().unwrap().split('?').next().unwrap();
        pg_admin()
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
    }
}

/// `__diesel_schema_migrations`' versions, sorted, read without the service's own setup.
fn migration_versions(b: Backend, url: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let q = diesel::sql_query("SELECT version FROM __diesel_schema_migrations ORDER BY version");
    let rows: Vec<V> = match b {
        Backend::Postgres => q.load(&mut diesel::PgConnection::establish(url).unwrap()),
        Backend::Sqlite => q.load(
            &mut diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://")).unwrap(),
        ),
    }
    .unwrap();
    rows.into_iter().map(|v| v.version).collect()
}

/// Starts another instance on `app`'s database; its address and handle.
async fn second_instance(app: &TestApp, rate_limit: u32) -> (String, actix_web::dev::ServerHandle) {
    let settings = settings_for(&app.database_url, &app.defs_dir, rate_limit);
    let other = Application::build(settings).await.expect("second instance");
    let (port, handle) = (other.port(), other.handle());
    actix_web::rt::spawn(other.run_until_stopped());
    (format!("http://127.0.0.1:{port}"), handle)
}

/// The shared budget is per calendar minute: start a burst well inside one.
async fn early_in_a_minute() {
    let (_, left) = cx_survey::intake::limit::window_now();
    if left < 20 {
        actix_web::rt::time::sleep(Duration::from_secs(left + 1)).await;
    }
}

async fn post(client: &reqwest::Client, base: &str, dep: &str, xff: Option<&str>) -> u16 {
    let mut r = client
        .post(format!("{base}/api/v1/deployments/{dep}/responses"))
        .json(&json!({"submission_id": sub_id(), "answers": {"trust": 1}}));
    if let Some(x) = xff {
        r = r.header("x-forwarded-for", x);
    }
    r.send().await.unwrap().status().as_u16()
}

async fn instances_share_one_rate_limit(b: Backend) {
    let app = spawn_with(
        b,
        Options {
            rate_limit: 6,
            ..Default::default()
        },
    )
    .await;
    let (other, handle) = second_instance(&app, 6).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    early_in_a_minute().await;
    // Each instance alone would take 6 (its in-memory limit); together they take 6. Three on
    // each leaves each instance's own limiter room for three more: only the shared count can
    // refuse what follows.
    let mut codes = vec![];
    for base in [
        &app.address,
        &app.address,
        &app.address,
        &other,
        &other,
        &other,
    ] {
        codes.push(post(&app.client, base, &dep, None).await);
    }
    assert_eq!(codes, [201; 6]);
    // Impressions draw on the same budget, on either instance.
    for base in [&app.address, &other] {
        let r = app
            .client
            .post(format!("{base}/api/v1/deployments/{dep}/impressions"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 429);
        let wait: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "Retry-After {wait}");
    }
    assert_eq!(app.count("impressions"), 0);
    for i in 0..4 {
        let base = if i % 2 == 0 { &app.address } else { &other };
        assert_eq!(post(&app.client, base, &dep, None).await, 429);
    }
    assert_eq!(app.responses(), 6);
    // The counts hold a keyed hash of the client, never its address.
    let mut c = app.pool.get().unwrap();
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        bucket: String,
    }
    let rows: Vec<Row> = diesel::RunQueryDsl::load(
        diesel::sql_query("SELECT bucket FROM rate_windows"),
        &mut *c,
    )
    .unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r.bucket.len() == 32 && !r.bucket.contains("127.0.0.1")));
    handle.stop(true).await;
}

async fn forwarded_client_is_limited_alone(b: Backend) {
    // Behind a proxy on loopback: each forwarded client has its own budget.
    let proxied = spawn_with(
        b,
        Options {
            rate_limit: 2,
            trusted_proxies: "127.0.0.1/32",
            ..Default::default()
        },
    )
    .await;
    let dep = proxied.deployment("a11-v2-thumbs").await;
    early_in_a_minute().await;
    let (c, base) = (&proxied.client, &proxied.address);
    let x = Some("198.51.100.1, 203.0.113.5");
    assert_eq!(post(c, base, &dep, x).await, 201);
    assert_eq!(post(c, base, &dep, x).await, 201);
    assert_eq!(post(c, base, &dep, x).await, 429);
    // Another client through the same proxy is not blocked by the first one's flood; a forged
    // leftmost hop does not make the first client someone else.
    assert_eq!(post(c, base, &dep, Some("203.0.113.6")).await, 201);
    assert_eq!(
        post(c, base, &dep, Some("10.9.9.9, 203.0.113.5")).await,
        429
    );
    // A proxy that adds its own header line (HAProxy) after the client's forged one: the
    // lines are one list, and the proxy's (last) entry names the client.
    let r = c
        .post(format!("{base}/api/v1/deployments/{dep}/responses"))
        .header("x-forwarded-for", "203.0.113.77")
        .header("x-forwarded-for", "203.0.113.5")
        .json(&json!({"submission_id": sub_id(), "answers": {"trust": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429, "the forged first line was believed");
    assert_eq!(proxied.responses(), 3);

    // Without a trusted proxy, the header is the client's word and changes nothing.
    let direct = spawn_with(
        b,
        Options {
            rate_limit: 2,
            ..Default::default()
        },
    )
    .await;
    let dep = direct.deployment("a11-v2-thumbs").await;
    early_in_a_minute().await;
    let (c, base) = (&direct.client, &direct.address);
    let codes = [
        post(c, base, &dep, Some("203.0.113.1")).await,
        post(c, base, &dep, Some("203.0.113.2")).await,
        post(c, base, &dep, Some("203.0.113.3")).await,
    ];
    assert_eq!(codes, [201, 201, 429]);
}
