//! No secret and no email address in any log line: the real binary at the default log level
//! and at `RUST_LOG=debug` (which also prints the configuration), driven through keys, admin
//! calls, intake, invitations delivered over SMTP and the email link, with every line of its
//! log read afterwards.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{free_port, fresh_database, Backend};
use crate::on_both;

on_both!(
    logs_never_carry_secrets_or_addresses,
    debug_logs_never_carry_secrets_or_addresses
);

async fn logs_never_carry_secrets_or_addresses(b: Backend) {
    check_logs(b, None).await
}

async fn debug_logs_never_carry_secrets_or_addresses(b: Backend) {
    check_logs(b, Some("debug")).await
}

/// A PostgreSQL URL given a password (the test server trusts loopback, so any works).
const DB_PASSWORD: &str = "log-test-dbpass-41c8e0";

async fn check_logs(b: Backend, rust_log: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let mut db = fresh_database(b, dir.path());
    if b == Backend::Postgres {
        let mut u = url::Url::parse(&db).unwrap();
        u.set_password(Some(DB_PASSWORD)).unwrap();
        db = u.to_string();
    }
    let (port, smtp_port) = (free_port(), free_port());
    let maildir = dir.path().join("mail");
    let mut smtp = Command::new(std::env::var("CX_TEST_SMTP_PYTHON").unwrap_or("python3".into()))
        .args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("127.0.0.1:{smtp_port}"),
        ])
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd");
    let secret = "log-test-secret-7f3a9c";
    let env = |c: &mut Command| {
        c.env("DATABASE_URL", &db)
            .env("CX_SURVEY_DEFS", crate::helpers::shipped_defs())
            .env("CX_SECRET", secret)
            .env("CX_SMTP_URL", format!("smtp://127.0.0.1:{smtp_port}"))
            .env("CX_SMTP_RETRY_BASE_MS", "100")
            .env("CX_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env_remove("RUST_LOG");
        if let Some(level) = rust_log {
            c.env("RUST_LOG", level);
        }
    };
    let bin = env!("CARGO_BIN_EXE_cx-survey");
    let mut keys = Command::new(bin);
    env(&mut keys);
    let out = keys
        .args(["keys", "create", "--agency", "logs"])
        .output()
        .unwrap();
    let key = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .lines()
        .last()
        .unwrap()
        .to_string();
    let log_path = dir.path().join("serve.log");
    let mut serve = Command::new(bin);
    env(&mut serve);
    let mut server = serve
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let c = reqwest::Client::new();
    let until = Instant::now() + Duration::from_secs(20);
    while c.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < until, "server did not start");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    let admin = |m: reqwest::Method, p: &str, body: Value| {
        c.request(m, format!("{base}/api/v1/admin{p}"))
            .bearer_auth(&key)
            .json(&body)
            .send()
    };
    admin(
        reqwest::Method::POST,
        "/hisps",
        json!({"slug": "h", "name": "H"}),
    )
    .await
    .unwrap();
    admin(
        reqwest::Method::POST,
        "/services",
        json!({"slug": "s", "name": "S", "hisp": "h", "channels": ["phone"]}),
    )
    .await
    .unwrap();
    let dep: Value = admin(reqwest::Method::POST, "/deployments",
        json!({"instrument": "a11-v2-thumbs", "service": "s", "channel": "phone", "transaction_point": "call"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let dep = dep["id"].as_str().unwrap().to_string();
    // Wrong keys and bad bodies too: error paths log more.
    c.get(format!("{base}/api/v1/admin/hisps"))
        .bearer_auth("cxs_wrong")
        .send()
        .await
        .unwrap();
    c.post(format!("{base}/api/v1/deployments/{dep}/responses"))
        .body(r#"{"submission_id":"x","answers":{"trust":9},"comments":"call me at jane.roe@example.org"}"#)
        .send()
        .await
        .unwrap();
    let emails = [
        "jane.roe@example.org",
        "Pat.Smith@Example.com",
        "not-an-address",
    ];
    admin(
        reqwest::Method::POST,
        &format!("/deployments/{dep}/invitations"),
        json!([
            {"email": emails[0], "transaction_id": "t1"},
            {"email": emails[1], "transaction_id": "t2", "locale": "es"},
            {"email": emails[2], "transaction_id": "t3"}
        ]),
    )
    .await
    .unwrap();
    // Wait for delivery, then use a link and an unknown one.
    let until = Instant::now() + Duration::from_secs(20);
    let mut token = String::new();
    while token.is_empty() {
        assert!(Instant::now() < until, "no message delivered");
        if let Ok(rd) = std::fs::read_dir(maildir.join("new")) {
            for e in rd.flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if let Some(i) = text.find("/r/") {
                    token = text[i + 3..i + 67].to_string();
                }
            }
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    c.get(format!("{base}/r/{token}")).send().await.unwrap();
    c.post(format!("{base}/r/{token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("trust=1")
        .send()
        .await
        .unwrap();
    c.get(format!("{base}/r/{token}")).send().await.unwrap(); // 410: already answered
    c.get(format!("{base}/u/{token}")).send().await.unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    // SIGTERM: a graceful stop, so every line is flushed.
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .unwrap();
    let _ = server.wait();
    let _ = smtp.kill();
    let _ = smtp.wait();
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().count() > 3, "the server logged: {log}");
    let lower = log.to_ascii_lowercase();
    for needle in [
        key.as_str(),
        &key[4..20],
        secret,
        DB_PASSWORD,
        token.as_str(),
        &token[..16],
        "jane.roe",
        "pat.smith",
        "example.org",
        "example.com",
    ] {
        assert!(
            !lower.contains(&needle.to_ascii_lowercase()),
            "{needle:?} appears in the log"
        );
    }
}
