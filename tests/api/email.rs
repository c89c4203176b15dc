//! Email invitations against a real SMTP server on loopback (aiosmtpd from PyPI, writing a
//! Maildir), on both databases: delivery, the link, spending the token, outages, restarts,
//! two instances, bad input, and that no address outlives its delivery.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cx_survey::startup::Application;
use diesel::prelude::*;
use serde_json::{json, Value};

use crate::helpers::{
    current_quarter, free_port, no_redirects, settings_for, spawn_with, Backend, Options, TestApp,
};
use crate::on_both;

on_both!(
    invitation_delivered_answered_once_and_address_erased,
    smtp_outage_and_restart_deliver_each_exactly_once,
    two_instances_never_send_twice,
    invitation_batches_skip_reject_and_refuse_with_reasons,
    link_pages_for_unknown_expired_and_opted_out,
    cli_queues_a_csv_file_or_refuses_it_whole,
    cli_names_the_physical_line_after_a_multi_line_cell,
);

/// A real SMTP server (aiosmtpd) on a loopback port, storing what it receives in a Maildir.
struct Smtp {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

fn python() -> String {
    std::env::var("CX_TEST_SMTP_PYTHON").unwrap_or_else(|_| "python3".into())
}

impl Smtp {
    fn new(dir: &Path) -> Smtp {
        Smtp {
            port: free_port(),
            dir: dir.join("maildir"),
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        self.start_with(&[]);
    }

    /// Starts it with extra aiosmtpd arguments (`--smtpscert`, …).
    fn start_with(&mut self, extra: &[&std::ffi::OsStr]) {
        let child = Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(extra)
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the email tests need aiosmtpd: run them with scripts/test, which installs it");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < until,
                "aiosmtpd did not start: run the tests with scripts/test, which installs it \
                 (or set CX_TEST_SMTP_PYTHON to a Python that has aiosmtpd)"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Every message received so far, raw.
    fn messages(&self) -> Vec<Vec<u8>> {
        let new = self.dir.join("new");
        let Ok(rd) = std::fs::read_dir(&new) else {
            return vec![];
        };
        rd.filter_map(|e| std::fs::read(e.ok()?.path()).ok())
            .collect()
    }

    async fn wait_for(&self, n: usize, secs: u64) -> Vec<Vec<u8>> {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n || Instant::now() > until {
                return m;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        self.stop();
    }
}

/// An SMTP server (running or not) and an app whose outbox sends to it.
async fn with_smtp(b: Backend, dir: &Path, running: bool) -> (Smtp, TestApp) {
    let mut smtp = Smtp::new(dir);
    if running {
        smtp.start();
    }
    let app = spawn_with(
        b,
        Options {
            smtp_url: Some(smtp.url()),
            ..Default::default()
        },
    )
    .await;
    (smtp, app)
}

async fn invite(app: &TestApp, dep: &str, list: Value) -> reqwest::Response {
    app.as_agency(&app.key)
        .post(
            &format!("/api/v1/admin/deployments/{dep}/invitations"),
            list,
        )
        .await
}

struct Mail {
    to: String,
    subject: String,
    text: String,
    html: String,
    unsubscribe: String,
}

fn parse(raw: &[u8]) -> Mail {
    let m = mailparse::parse_mail(raw).unwrap();
    let header = |k: &str| {
        m.headers
            .iter()
            .find(|h| h.get_key().eq_ignore_ascii_case(k))
            .map(|h| h.get_value())
            .unwrap_or_default()
    };
    assert_eq!(m.ctype.mimetype, "multipart/alternative");
    let part = |t: &str| {
        m.subparts
            .iter()
            .find(|p| p.ctype.mimetype == t)
            .unwrap_or_else(|| panic!("no {t} part"))
            .get_body()
            .unwrap()
    };
    Mail {
        to: header("To"),
        subject: header("Subject"),
        text: part("text/plain"),
        html: part("text/html"),
        unsubscribe: header("List-Unsubscribe"),
    }
}

/// `/r/{token}` from a message's text.
fn link(text: &str, prefix: &str) -> String {
    let at = text.find(prefix).expect("link in the message");
    text[at..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '"')
        .next()
        .unwrap()
        .to_string()
}

/// Every cell of every table, as text: what an address would have to hide in.
fn all_cells(app: &TestApp) -> String {
    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        r: String,
    }
    let mut c = app.pool.get().unwrap();
    let (tables_sql, cols_sql): (&str, &str) = match app.backend {
        Backend::Sqlite => (
            "SELECT name FROM sqlite_master WHERE type = 'table'",
            "SELECT name FROM pragma_table_info('{t}')",
        ),
        Backend::Postgres => (
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
            "SELECT column_name AS name FROM information_schema.columns WHERE table_name = '{t}'",
        ),
    };
    let tables: Vec<Name> = diesel::sql_query(tables_sql).load(&mut *c).unwrap();
    let mut out = String::new();
    for t in tables {
        let cols: Vec<Name> = diesel::sql_query(cols_sql.replace("{t}", &t.name))
            .load(&mut *c)
            .unwrap();
        if cols.is_empty() {
            continue;
        }
        let expr = cols
            .iter()
            .map(|c| format!("COALESCE(CAST(\"{}\" AS TEXT), '')", c.name))
            .collect::<Vec<_>>()
            .join(" || '|' || ");
        let rows: Vec<Row> = diesel::sql_query(format!("SELECT {expr} AS r FROM \"{}\"", t.name))
            .load(&mut *c)
            .unwrap();
        for r in rows {
            out.push_str(&r.r);
            out.push('\n');
        }
    }
    out
}

/// Waits (up to 10 s) until `n` invitations are recorded as sent.
async fn recorded_sent(app: &TestApp, n: i64) {
    let until = Instant::now() + Duration::from_secs(10);
    while app.count("invitations WHERE status = 'sent'") < n && Instant::now() < until {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn invitation_delivered_answered_once_and_address_erased(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (smtp, app) = with_smtp(b, dir.path(), true).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = invite(
        &app,
        &dep,
        json!([
            {"email": "Maria.Lopez@Example.gov", "transaction_id": "case-1", "transaction_date": "2026-11-20", "locale": "es"},
            {"email": "john.doe@example.com", "transaction_id": "case-2"}
        ]),
    )
    .await;
    assert_eq!(r.status(), 202);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["queued"], 2, "{s}");
    let raw = smtp.wait_for(2, 20).await;
    assert_eq!(raw.len(), 2);
    // The relay has the messages a moment before the worker records them sent (and the link
    // becomes answerable); a person reads mail later than that, the test waits for it.
    recorded_sent(&app, 2).await;
    let mails: Vec<Mail> = raw.iter().map(|m| parse(m)).collect();
    let es = mails
        .iter()
        .find(|m| m.to.contains("Maria"))
        .expect("Spanish message");
    let en = mails
        .iter()
        .find(|m| m.to.contains("john"))
        .expect("English message");
    assert!(
        es.subject.starts_with("¿Cómo fue su experiencia"),
        "{}",
        es.subject
    );
    assert!(
        en.subject.starts_with("How was your experience"),
        "{}",
        en.subject
    );
    for (m, omb) in [
        (es, "N.º de control de la OMB 3090-0321"),
        (en, "OMB Control No. 3090-0321"),
    ] {
        assert!(
            m.text.contains(omb) && m.html.contains(omb),
            "PRA line missing"
        );
        assert!(m.text.contains("3090-0321") && m.html.contains("federalregister.gov"));
        assert!(m.unsubscribe.starts_with('<') && m.unsubscribe.contains("/u/"));
        assert!(m.html.contains("/r/") && m.text.contains("/r/"));
    }
    // The link opens the survey in the invitation's language.
    let path = link(&es.text, "/r/");
    let r = app.get(&path).await;
    assert_eq!(r.status(), 200);
    let page = r.text().await.unwrap();
    assert!(page.contains("<html lang=\"es\">") && page.contains(&format!("action=\"{path}\"")));
    // Answering stores one response and spends the token.
    let post = |body: &'static str| {
        no_redirects()
            .post(app.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let r = post("trust=1&went_well=ease&comments=Muy+bien")
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(app.responses(), 1);
    let rows = app.exported(&dep).await;
    assert_eq!(rows[0]["source"], "email");
    assert_eq!(rows[0]["locale"], "es");
    let r = app.get(&path).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("ya fue respondida"));
    assert_eq!(post("trust=0").await.unwrap().status(), 410);
    assert_eq!(app.responses(), 1);

    // No address anywhere in the database once delivered.
    let cells = all_cells(&app).to_ascii_lowercase();
    assert!(
        cells.contains("case-1"),
        "the dump reads the invitations table"
    );
    for addr in [
        "maria.lopez@example.gov",
        "john.doe@example.com",
        "maria.lopez",
        "john.doe",
    ] {
        assert!(!cells.contains(addr), "{addr} is still stored");
    }
    // Delivered invitations are survey opportunities of the quarter.
    let fq = current_quarter();
    let rep: Value = app
        .as_agency(&app.key)
        .get(&format!(
            "/api/v1/admin/reports/quarterly?fiscal_year={}&quarter={}",
            fq.year, fq.quarter
        ))
        .await
        .json()
        .await
        .unwrap();
    let d = rep["details"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["deployment_id"] == json!(dep))
        .expect("deployment in the report")
        .clone();
    assert_eq!(d["invitations_delivered"], 2, "{d}");
    assert_eq!(d["volume_of_customers_provided_survey_opportunity"], 2);
}

async fn smtp_outage_and_restart_deliver_each_exactly_once(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    // The server is down: nothing listens on its port yet.
    let (mut smtp, app) = with_smtp(b, dir.path(), false).await;
    let dep = app.deployment("a11-v2-likert").await;
    let list: Vec<Value> = (0..30)
        .map(|i| json!({"email": format!("person{i}@example.com"), "transaction_id": format!("t-{i}")}))
        .collect();
    assert_eq!(invite(&app, &dep, json!(list)).await.status(), 202);
    actix_web::rt::time::sleep(Duration::from_millis(800)).await;
    // The service restarts mid-queue: a new instance on the same database takes over.
    app.handle.stop(true).await;
    let mut settings = settings_for(&app.database_url, &app.defs_dir, 0);
    settings.smtp_url = Some(smtp.url().into());
    let second = Application::build(settings).await.expect("restarts");
    let handle = second.handle();
    actix_web::rt::spawn(second.run_until_stopped());
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    smtp.start();
    let got = smtp.wait_for(30, 30).await;
    // A little longer: nothing more may arrive.
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    let got2 = smtp.messages();
    assert_eq!(got.len(), 30);
    assert_eq!(got2.len(), 30, "an invitation was sent twice");
    let mut to: Vec<String> = got2.iter().map(|m| parse(m).to).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), 30);
    handle.stop(true).await;
}

async fn two_instances_never_send_twice(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (smtp, app) = with_smtp(b, dir.path(), true).await;
    let mut settings = settings_for(&app.database_url, &app.defs_dir, 0);
    settings.smtp_url = Some(smtp.url().into());
    let other = Application::build(settings).await.expect("second instance");
    let handle = other.handle();
    actix_web::rt::spawn(other.run_until_stopped());
    let dep = app.deployment("a11-v2-thumbs").await;
    let list: Vec<Value> = (0..300)
        .map(|i| json!({"email": format!("r{i}@example.org"), "transaction_id": format!("x-{i}")}))
        .collect();
    assert_eq!(invite(&app, &dep, json!(list)).await.status(), 202);
    let got = smtp.wait_for(300, 60).await;
    actix_web::rt::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(got.len(), 300);
    assert_eq!(smtp.messages().len(), 300, "an invitation was sent twice");
    handle.stop(true).await;
}

async fn invitation_batches_skip_reject_and_refuse_with_reasons(b: Backend) {
    let app = spawn_with(b, Options::default()).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let n = |app: &TestApp| app.count("invitations");
    // Refused whole: nothing queued.
    let bad = [
        (json!({"email": "a@b.gov"}), "body"),
        (json!([]), "body"),
        (
            json!([{"email": "a@b.gov", "transaction_id": "1", "phone": "555"}]),
            "body",
        ),
        (
            json!([{"email": "a@b.gov", "transaction_id": " "}]),
            "transaction_id",
        ),
        (
            json!([{"email": "a@b.gov", "transaction_id": "1"}, {"email": "c@d.gov", "transaction_id": "2", "transaction_date": "11/20/2026"}]),
            "transaction_date",
        ),
        (
            json!([{"email": "a@b.gov", "transaction_id": "1", "locale": "fr"}]),
            "locale",
        ),
    ];
    for (body, field) in bad {
        let r = invite(&app, &dep, body.clone()).await;
        assert_eq!(r.status(), 422, "{body}");
        let p: Value = r.json().await.unwrap();
        assert!(
            p["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field),
            "{body}: {p}"
        );
    }
    let r = invite(&app, &dep, json!([{"email": "a@b.gov", "transaction_id": "1"}, {"email": "c@d.gov", "transaction_id": "2", "transaction_date": "2026-13-01"}])).await;
    let p: Value = r.json().await.unwrap();
    assert_eq!(p["errors"][0]["line"], 2, "{p}");
    let huge = format!(
        "[{}]",
        vec![r#"{"email":"a@b.gov","transaction_id":"1"}"#; 300_000].join(",")
    );
    let r = app
        .as_agency(&app.key)
        .post_body(
            &format!("/api/v1/admin/deployments/{dep}/invitations"),
            "application/json",
            huge,
        )
        .await;
    assert_eq!(r.status(), 413);
    assert_eq!(n(&app), 0);

    // Row by row: rejected (bad address) and skipped (policy), with reasons.
    let r = invite(
        &app,
        &dep,
        json!([
            {"email": "ok1@example.gov", "transaction_id": "t1"},
            {"email": "not-an-email", "transaction_id": "t2"},
            {"email": "ok2@example.gov", "transaction_id": "t1"},
            {"email": "OK1@example.gov", "transaction_id": "t3"},
            {"email": "ok3@example.gov", "transaction_id": "t4"}
        ]),
    )
    .await;
    assert_eq!(r.status(), 202);
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["queued"], 2, "{s}");
    let reasons = |k: &str| -> Vec<(u64, String)> {
        s[k].as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["line"].as_u64().unwrap(),
                    o["reason"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(
        reasons("rejected"),
        vec![(2, "the email address is not valid".to_string())]
    );
    let skipped = reasons("skipped");
    assert!(
        skipped
            .iter()
            .any(|(l, r)| *l == 3 && r.contains("duplicate transaction_id")),
        "{skipped:?}"
    );
    assert!(
        skipped
            .iter()
            .any(|(l, r)| *l == 4 && r.contains("duplicate recipient")),
        "{skipped:?}"
    );
    assert!(
        !s.to_string().contains("example.gov"),
        "the summary echoes addresses"
    );
    // A second batch: the transaction was invited, the recipient was invited recently.
    let r = invite(
        &app,
        &dep,
        json!([
            {"email": "new@example.gov", "transaction_id": "t1"},
            {"email": "ok3@example.gov", "transaction_id": "t9"}
        ]),
    )
    .await;
    let s: Value = r.json().await.unwrap();
    assert_eq!(s["queued"], 0, "{s}");
    let text = s["skipped"].to_string();
    assert!(
        text.contains("already invited") && text.contains("in the last 30 days"),
        "{text}"
    );
    assert_eq!(n(&app), 2);

    // Another agency cannot invite for this deployment.
    let other = app.new_key("agency-b");
    let r = invite_with(&app, &other, &dep).await;
    assert_eq!(r.status(), 404);
    assert_eq!(n(&app), 2);
}

async fn invite_with(app: &TestApp, key: &str, dep: &str) -> reqwest::Response {
    app.as_agency(key)
        .post(
            &format!("/api/v1/admin/deployments/{dep}/invitations"),
            json!([{"email": "x@example.gov", "transaction_id": "z"}]),
        )
        .await
}

async fn link_pages_for_unknown_expired_and_opted_out(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (smtp, app) = with_smtp(b, dir.path(), true).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let r = app.get(&format!("/r/{}", "ab".repeat(32))).await;
    assert_eq!(r.status(), 404);
    assert!(r.text().await.unwrap().contains("not valid"));
    assert_eq!(app.get("/r/short").await.status(), 404);

    invite(
        &app,
        &dep,
        json!([{"email": "pat@example.gov", "transaction_id": "p1"}]),
    )
    .await;
    let m = parse(&smtp.wait_for(1, 20).await[0]);
    recorded_sent(&app, 1).await;
    let r_path = link(&m.text, "/r/");
    let u_path = link(&m.text, "/u/");
    // The opt-out link asks before it acts (mail scanners follow links); POST opts out.
    let r = app.get(&u_path).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("method=\"post\""));
    let r = app
        .client
        .post(app.url(&u_path))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.count("opt_outs"), 1);
    // An opted-out recipient is skipped, whatever deployment invites them.
    let dep2 = app.deployment("a11-v2-likert").await;
    let s: Value = invite(
        &app,
        &dep2,
        json!([{"email": "PAT@example.gov", "transaction_id": "p2"}]),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(s["queued"], 0);
    assert!(s["skipped"].to_string().contains("opted out"), "{s}");

    // An expired link shows a page and stores nothing.
    {
        let mut c = app.pool.get().unwrap();
        diesel::sql_query("UPDATE invitations SET expires_at = '2020-01-01 00:00:00'")
            .execute(&mut *c)
            .unwrap();
    }
    let r = app.get(&r_path).await;
    assert_eq!(r.status(), 410);
    assert!(r.text().await.unwrap().contains("expired"));
    let r = no_redirects()
        .post(app.url(&r_path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("trust=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(app.responses(), 0);
}

async fn cli_queues_a_csv_file_or_refuses_it_whole(b: Backend) {
    let app = spawn_with(b, Options::default()).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let dir = tempfile::tempdir().unwrap();
    let run = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_cx-survey"))
            .args(["invite", "--deployment", &dep, "--csv"])
            .arg(&path)
            .env("DATABASE_URL", &app.database_url)
            .env("CX_SURVEY_DEFS", &app.defs_dir)
            .env("CX_SECRET", "test-secret-0123456789")
            .env("RUST_LOG", "error")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run("cols.csv", b"mail,transaction\nx@y.gov,1\n");
    assert!(
        !ok && out
            .contains("the header must be exactly email,transaction_id,transaction_date,locale"),
        "{out}"
    );
    let (ok, out) = run(
        "ragged.csv",
        b"email,transaction_id,transaction_date,locale\na@b.gov,1,,en\nc@d.gov,2\n",
    );
    assert!(!ok && out.contains("line 3"), "{out}");
    let (ok, out) = run(
        "dates.csv",
        b"email,transaction_id,transaction_date,locale\na@b.gov,1,2026-11-20,en\nc@d.gov,2,20/11/2026,es\ne@f.gov,3,,de\n",
    );
    assert!(!ok, "{out}");
    assert!(
        out.contains("dates.csv:3: transaction_date: must be a date YYYY-MM-DD"),
        "{out}"
    );
    assert!(
        out.contains("dates.csv:4: locale: must be one of: en, es"),
        "{out}"
    );
    let big = vec![b'x'; 10 * 1024 * 1024];
    let (ok, out) = run("big.csv", &big);
    assert!(!ok && out.contains("at most"), "{out}");
    assert_eq!(
        app.count("invitations"),
        0,
        "a refused file queued something"
    );

    let (ok, out) = run(
        "good.csv",
        b"email,transaction_id,transaction_date,locale\nana@example.gov,c-1,2026-11-20,es\nbad-address,c-2,,\nana@example.gov,c-3,,en\n",
    );
    assert!(ok, "{out}");
    assert!(out.contains("queued 1, skipped 1, rejected 1"), "{out}");
    assert!(
        out.contains("good.csv:3: rejected (c-2): the email address is not valid"),
        "{out}"
    );
    assert!(
        out.contains("good.csv:4: skipped (c-3): duplicate recipient in this batch"),
        "{out}"
    );
    assert_eq!(app.count("invitations"), 1);
}

/// Runs `cx-survey invite` on `content` saved as `dir/name`: (success, stdout + stderr).
fn invite_cli(app: &TestApp, dep: &str, dir: &Path, name: &str, content: &str) -> (bool, String) {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cx-survey"))
        .args(["invite", "--deployment", dep, "--csv"])
        .arg(&path)
        .env("DATABASE_URL", &app.database_url)
        .env("CX_SURVEY_DEFS", &app.defs_dir)
        .env("CX_SECRET", "test-secret-0123456789")
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

async fn cli_names_the_physical_line_after_a_multi_line_cell(b: Backend) {
    let app = spawn_with(b, Options::default()).await;
    let dep = app.deployment("a11-v2-thumbs").await;
    let dir = tempfile::tempdir().unwrap();
    let header = "email,transaction_id,transaction_date,locale";
    // Lines 3-4 are one record (a quoted transaction id holding a line break), line 5 is blank.
    for (name, eol) in [("lf.csv", "\n"), ("crlf.csv", "\r\n")] {
        let refused = [
            header,
            "a@b.gov,1,,en",
            "c@d.gov,\"two",
            "lines\",,en",
            "",
            "e@f.gov,3,20/11/2026,en",
            "g@h.gov,4",
            "",
        ]
        .join(eol);
        let (ok, out) = invite_cli(&app, &dep, dir.path(), name, &refused);
        assert!(!ok, "{out}");
        assert!(out.contains(&format!("{name}:7: file:")), "{out}");
        assert!(!out.contains("line: "), "csv's own position leaked: {out}");
        let bad = [
            header,
            "a@b.gov,1,,en",
            "c@d.gov,\"two",
            "lines\",,en",
            "",
            "e@f.gov,3,20/11/2026,en",
        ]
        .join(eol);
        let (ok, out) = invite_cli(&app, &dep, dir.path(), name, &bad);
        assert!(!ok, "{out}");
        assert!(
            out.contains(&format!(
                "{name}:6: transaction_date: must be a date YYYY-MM-DD"
            )),
            "{out}"
        );
    }
    assert_eq!(
        app.count("invitations"),
        0,
        "a refused file queued something"
    );
    let good = [
        header,
        "ana@example.gov,\"c-1",
        "continued\",,en",
        "",
        "bad-address,c-2,,",
        "ana@example.gov,c-3,,en",
        "",
    ]
    .join("\r\n");
    let (ok, out) = invite_cli(&app, &dep, dir.path(), "good.csv", &good);
    assert!(ok, "{out}");
    assert!(out.contains("queued 1, skipped 1, rejected 1"), "{out}");
    assert!(
        out.contains("good.csv:5: rejected (c-2): the email address is not valid"),
        "{out}"
    );
    assert!(
        out.contains("good.csv:6: skipped (c-3): duplicate recipient in this batch"),
        "{out}"
    );
}

/// An agency relay whose certificate comes from the agency's own CA (SMTPS): without
/// `CX_SMTP_CA_FILE` the certificate is refused and nothing is delivered; with it, the same relay
/// gets the message. The CA and the server certificate are test fixtures (tests/fixtures/tls).
#[actix_web::test]
async fn smtps_relay_trusted_through_cx_smtp_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let tls = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls");
    let (cert, key) = (tls.join("server.pem"), tls.join("server.key"));
    let mut smtp = Smtp::new(dir.path());
    smtp.start_with(&[
        "--smtpscert".as_ref(),
        cert.as_os_str(),
        "--smtpskey".as_ref(),
        key.as_os_str(),
    ]);
    let url = format!("smtps://localhost:{}", smtp.port);
    let one = json!([{"email": "relay@example.gov", "transaction_id": "case-tls"}]);

    let untrusted = spawn_with(
        Backend::Sqlite,
        Options {
            smtp_url: Some(url.clone()),
            ..Default::default()
        },
    )
    .await;
    let dep = untrusted.deployment("a11-v2-thumbs").await;
    assert_eq!(invite(&untrusted, &dep, one.clone()).await.status(), 202);
    assert!(
        smtp.wait_for(1, 3).await.is_empty(),
        "delivered to a relay whose CA is not trusted"
    );
    untrusted.handle.stop(true).await;

    let ca = tls.join("ca.pem").display().to_string();
    let settings = cx_survey::configuration::Settings::from_lookup(|k| {
        (k == "CX_SMTP_CA_FILE").then(|| ca.clone())
    })
    .unwrap();
    let trusted = spawn_with(
        Backend::Sqlite,
        Options {
            smtp_url: Some(url),
            smtp_ca: settings.smtp_ca,
            ..Default::default()
        },
    )
    .await;
    let dep = trusted.deployment("a11-v2-thumbs").await;
    assert_eq!(invite(&trusted, &dep, one).await.status(), 202);
    let raw = smtp.wait_for(1, 20).await;
    assert_eq!(
        raw.len(),
        1,
        "not delivered over SMTPS with CX_SMTP_CA_FILE"
    );
    assert!(parse(&raw[0]).to.contains("relay@example.gov"));
}
