//! Response export under pressure: slow readers must not starve intake, and an export that
//! breaks must look broken to its client, never like a complete file.

use std::net::SocketAddr;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{current_quarter, pg_admin, spawn_app, sub_id, Backend, TestApp};
use crate::on_both;

on_both!(
    stalled_exports_leave_intake_answering,
    export_failing_mid_stream_is_aborted_and_counted,
    export_failing_at_start_is_an_error_not_an_empty_file,
);

/// Rows enough that a CSV export (about 200 bytes a row) is several times larger than what the
/// server's socket send buffer (at most 4 MiB here) and a few pages in memory can hold, so a
/// client that stops reading really stops the export.
const ROWS: u64 = 50_000;

/// Seeds `ROWS` responses for agency `seed` (straight into the database) and returns its key.
async fn seeded(app: &TestApp) -> String {
    let (url, defs) = (app.database_url.clone(), app.defs_dir.clone());
    actix_web::rt::task::spawn_blocking(move || {
        let defs = cx_survey::definitions::load_dir(&defs).unwrap();
        let (pool, _) = cx_survey::db::connect_pool(&url, 2, 0).unwrap();
        let plan = cx_survey::report::seed::SeedPlan {
            responses: ROWS,
            deployments: 2,
            impressions_per_response: 0.0,
            quarter: current_quarter(),
            tz: chrono_tz::America::New_York,
        };
        cx_survey::report::seed::seed(&mut pool.get().unwrap(), &defs, &plan, |_| {}).unwrap();
    })
    .await
    .unwrap();
    app.new_key("seed")
}

/// A raw HTTP client with a tiny receive buffer (which also stops the kernel from growing it):
/// it sends the export request, reads the response head and the first body bytes, and then
/// reads nothing more until the caller does.
async fn open_export(app: &TestApp, key: &str, format: &str) -> (tokio::net::TcpStream, Vec<u8>) {
    let addr: SocketAddr = app.address.trim_start_matches("http://").parse().unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let mut s = sock.connect(addr).await.unwrap();
    let req = format!(
        "GET /api/v1/admin/responses?format={format} HTTP/1.1\r\nHost: test\r\n\
         Authorization: Bearer {key}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut got = vec![];
    let mut buf = [0u8; 1024];
    let read_head = async {
        loop {
            let n = s.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let head_end = got.windows(4).position(|w| w == b"\r\n\r\n");
            if n == 0 || head_end.is_some_and(|h| got.len() > h + 4) {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), read_head)
        .await
        .expect("the export sent its first bytes");
    (s, got)
}

/// Reads the rest of a `Connection: close` response until the server closes or resets it.
async fn read_to_close(s: &mut tokio::net::TcpStream, got: &mut Vec<u8>) {
    let mut buf = vec![0u8; 64 * 1024];
    let read_all = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(50), read_all)
        .await
        .expect("the export ended");
}

/// `cx_export_failures_total{stage}` as /metrics shows it (0 while never counted).
async fn export_failures(app: &TestApp, stage: &str) -> u64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    let prefix = format!("cx_export_failures_total{{stage=\"{stage}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0)
}

/// Renames `responses` away (and back): a database error for every query that reads it, on
/// both backends alike; a terminated PostgreSQL backend would not do, because the export takes
/// a pooled connection per page and the pool replaces a dead one.
fn rename_responses(app: &TestApp, from: &str, to: &str) {
    let mut c = app.pool.get().unwrap();
    c.batch_execute(&format!("ALTER TABLE {from} RENAME TO {to}"))
        .unwrap();
}

/// Eight exports whose clients read a few bytes and then stall: a new response is still
/// stored, and a full export afterwards still has every row.
async fn stalled_exports_leave_intake_answering(b: Backend) {
    let app = spawn_app(b).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let key = seeded(&app).await;
    let opened = futures::future::join_all((0..8).map(|_| open_export(&app, &key, "csv"))).await;
    for (_, head) in &opened {
        assert!(
            head.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(head)
        );
    }
    // A new client: the seeding outlasted the server's keep-alive of the pooled connection.
    let r = reqwest::Client::new()
        .post(app.url(&format!("/api/v1/deployments/{dep}/responses")))
        .json(&json!({"submission_id": sub_id(), "answers": {"trust": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    drop(opened);
    let csv = reqwest::Client::new()
        .get(app.url("/api/v1/admin/responses"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let rows = csv::Reader::from_reader(&csv[..]).records().count() as u64;
    assert_eq!(rows, ROWS, "every seeded row, once");
}

/// The table an export reads disappears after its first bytes: the client sees the transfer
/// cut (no final chunk), never a complete-looking body, and the failure is counted.
async fn export_failing_mid_stream_is_aborted_and_counted(b: Backend) {
    let app = spawn_app(b).await;
    let key = seeded(&app).await;
    for format in ["csv", "json"] {
        let before = export_failures(&app, "stream").await;
        let (mut s, mut got) = open_export(&app, &key, format).await;
        assert!(got.starts_with(b"HTTP/1.1 200"));
        assert!(String::from_utf8_lossy(&got)
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked"));
        rename_responses(&app, "responses", "responses_gone");
        read_to_close(&mut s, &mut got).await;
        rename_responses(&app, "responses_gone", "responses");
        assert!(
            !got.ends_with(b"\r\n0\r\n\r\n"),
            "{format}: the broken export ended like a complete one"
        );
        assert!(
            export_failures(&app, "stream").await > before,
            "{format}: the failure is counted"
        );
    }
}

/// The table is gone before the export starts: an error status with a problem, not a `200`
/// with a header row and nothing else.
async fn export_failing_at_start_is_an_error_not_an_empty_file(b: Backend) {
    let app = spawn_app(b).await;
    let _dep = app.deployment("a11-v2-thumbs").await;
    let before = export_failures(&app, "start").await;
    rename_responses(&app, "responses", "responses_gone");
    let r = app.as_agency(&app.key).get("/api/v1/admin/responses").await;
    rename_responses(&app, "responses_gone", "responses");
    assert!(r.status().is_server_error(), "{}", r.status());
    let p = crate::helpers::problem(r).await;
    assert!(p["status"].as_u64().unwrap() >= 500, "{p}");
    assert!(export_failures(&app, "start").await > before);
}

/// PostgreSQL only: it can refuse new connections while the ones already open keep working
/// (SQLite opens a file and cannot be made to refuse). The export pool opens its connections on
/// demand, so with none open yet the export has no connection while the key check (on the main
/// pool's open connection) still passes: `503` with `Retry-After`, not an empty `200`.
#[actix_web::test]
async fn export_without_a_connection_answers_503() {
    let app = spawn_app(Backend::Postgres).await;
    let _dep = app.deployment("a11-v2-thumbs").await;
    let before = export_failures(&app, "start").await;
    let name = app.database_name().to_string();
    let allow = |on: bool| {
        pg_admin()
            .batch_execute(&format!("ALTER DATABASE {name} ALLOW_CONNECTIONS {on}"))
            .unwrap()
    };
    allow(false);
    let r = app.as_agency(&app.key).get("/api/v1/admin/responses").await;
    allow(true);
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let p = crate::helpers::problem(r).await;
    assert_eq!(p["status"], 503, "{p}");
    assert!(export_failures(&app, "start").await > before);
    // The OpenAPI document says so.
    let api: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let declared = &api["paths"]["/api/v1/admin/responses"]["get"]["responses"]["503"];
    assert!(declared["headers"]["Retry-After"].is_object(), "{declared}");
    assert!(
        declared["content"]["application/problem+json"].is_object(),
        "{declared}"
    );
}
