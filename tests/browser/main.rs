//! Runs `widget.spec.mjs` (Playwright + axe-core in the system's headless Chromium) against the
//! real `cx-survey` binary, once on SQLite and once on PostgreSQL. The script starts and stops
//! the server itself; see its header.
//!
//! Needs Node.js, `/usr/bin/chromium` (or `CHROMIUM`) and `npm ci --prefix tests/browser`:
//! `scripts/test` (the README's test command) installs what is missing. Without them the test
//! fails with one line naming what is missing; it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

/// One browser run at a time: two would fight over the two cores and make timings flaky.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn here() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn missing() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        return Some(format!("no Chromium at {chromium}"));
    }
    if !here().join("node_modules/playwright-core").exists() {
        return Some("no tests/browser/node_modules (npm ci --prefix tests/browser)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("no node on PATH".into());
    }
    None
}

fn run(script: &str, backend: &str, database_url: &str) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(what) = missing() {
        panic!("browser tests on {backend} cannot run: {what}; scripts/test installs it");
    }
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("screenshots/{backend}"));
    let status = Command::new("node")
        .arg(here().join(script))
        .env("CX_BIN", env!("CARGO_BIN_EXE_cx-survey"))
        .env("DATABASE_URL", database_url)
        .env("CX_SCREENSHOTS", &shots)
        .status()
        .expect("run node");
    assert!(
        status.success(),
        "browser checks ({script}) failed on {backend}"
    );
    eprintln!("screenshots: {}", shots.display());
}

#[test]
fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    run(
        "widget.spec.mjs",
        "sqlite",
        &format!("sqlite://{}", dir.path().join("browser.db").display()),
    );
}

/// The API browser renders under the CSP, with no console error and nothing fetched from
/// outside (the storage backend does not matter to it).
#[test]
fn api_browser() {
    let dir = tempfile::tempdir().unwrap();
    run(
        "apidocs.spec.mjs",
        "sqlite",
        &format!("sqlite://{}", dir.path().join("docs.db").display()),
    );
}

#[test]
fn postgres() {
    let base = std::env::var("CX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let name = format!("cx_test_{}", uuid::Uuid::new_v4().simple());
    // Without TLS on loopback, as in tests/api/helpers.rs (`pg_url`).
    let mut admin = PgConnection::establish(&format!("{base}/postgres?sslmode=disable"))
        .unwrap_or_else(|e| panic!("PostgreSQL is required for the tests ({base}): {e}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    run(
        "widget.spec.mjs",
        "postgres",
        &format!("{base}/{name}?sslmode=disable"),
    );
    let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
}
