//! `spawn_app()`: the real application on a random port, on its own fresh database (a temp
//! SQLite file, or a new PostgreSQL database), with the shipped survey definitions.
//!
//! Requests read like the API: `app.as_agency(&key).patch(path, body)` for the admin API as one
//! agency, `app.answer(dep, json!({"trust": 1}))` for a respondent's answer.
//!
//! `TEST_LOG=1 cargo test --test api NAME` shows the server's log beside a failing test's output
//! (`RUST_LOG` filters it, default `info`).

use std::path::{Path, PathBuf};

use cx_survey::configuration::Settings;
use cx_survey::db::{self, Pool};
use cx_survey::startup::Application;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde_json::{json, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `mod NAME { sqlite(); postgres() }` running `NAME(backend)` on each database.
#[macro_export]
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

pub fn postgres_base() -> String {
    std::env::var("CX_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

pub fn shipped_defs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("survey-defs")
}

/// The URL of test database `db`. Without TLS: on loopback it protects nothing, and libpq's
/// OpenSSL being torn down at process exit while a pool thread is still reconnecting (to a
/// database a finished test dropped) is our suspect for the test binary's occasional SIGSEGV
/// after all its tests passed (2 CI runs of 6; not proven).
pub fn pg_url(db: &str) -> String {
    format!("{}/{db}?sslmode=disable", postgres_base())
}

/// A connection to the PostgreSQL server's maintenance database (to create, drop or change
/// test databases). PostgreSQL must be reachable: a missing server fails the test.
pub fn pg_admin() -> PgConnection {
    PgConnection::establish(&pg_url("postgres")).unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is required for the tests ({}): {e}",
            postgres_base()
        )
    })
}

/// The fiscal quarter of now, cut in the service's default report time zone.
pub fn current_quarter() -> cx_survey::fiscal::FiscalQuarter {
    cx_survey::fiscal::FiscalQuarter::containing(chrono::Utc::now(), chrono_tz::America::New_York)
}

/// A fresh, empty database URL of the given backend. PostgreSQL must be reachable: a missing
/// server fails the test, it is never skipped.
pub fn fresh_database(backend: Backend, dir: &Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.join("test.db").display()),
        Backend::Postgres => {
            let name = format!("cx_test_{}", uuid::Uuid::new_v4().simple());
            pg_admin()
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .expect("create test database");
            pg_url(&name)
        }
    }
}

/// A change to the settings before the app starts.
pub type Configure = Box<dyn FnOnce(&mut Settings)>;

#[derive(Default)]
pub struct Options {
    pub rate_limit: u32,
    /// Extra definition files (name, JSON) written beside copies of the shipped ones.
    pub extra_defs: Vec<(String, Value)>,
    /// `CX_SMTP_URL` for the email outbox (none: invitations wait in the queue).
    pub smtp_url: Option<String>,
    /// `CX_SMTP_CA_FILE`, read.
    pub smtp_ca: Option<lettre::transport::smtp::client::Certificate>,
    /// `CX_TRUSTED_PROXIES`.
    pub trusted_proxies: &'static str,
    /// `CX_DEMO`.
    pub demo: bool,
    /// Any other setting (the identity provider, the public URL, session timeouts).
    pub configure: Option<Configure>,
}

pub struct TestApp {
    pub backend: Backend,
    pub address: String,
    pub database_url: String,
    pub defs_dir: PathBuf,
    pub pool: Pool,
    pub client: reqwest::Client,
    /// Admin key of agency `agency-a`.
    pub key: String,
    pub handle: actix_web::dev::ServerHandle,
    /// The settings the application was started with (`restart` uses them again).
    pub settings: Settings,
    _dir: tempfile::TempDir,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, Options::default()).await
}

pub fn write_defs(dir: &Path, extra: &[(String, Value)]) {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(shipped_defs()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    for (name, v) in extra {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(v).unwrap()).unwrap();
    }
}

pub fn settings_for(database_url: &str, defs: &Path, rate_limit: u32) -> Settings {
    let mut s = Settings::from_lookup(|_| None).unwrap();
    s.database_url = database_url.into();
    s.bind = "127.0.0.1:0".into();
    s.survey_defs = defs.to_path_buf();
    s.rate_limit_per_minute = rate_limit;
    s.pool_size = 4;
    s.secret = Some("test-secret-0123456789".into());
    s.mail_from = "CX Survey <cx-survey@example.gov>".into();
    // Retries after 100 ms, 200 ms, …: an SMTP outage of a second costs the tests a second.
    s.smtp_retry_base = std::time::Duration::from_millis(100);
    s
}

/// With `TEST_LOG` set, prints the server's log through the test harness (shown for a failing
/// test, or for all with `--nocapture`); without it, the tests stay quiet.
fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_none() {
        return;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Already installed by an earlier test of this binary: keep it.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

pub async fn spawn_with(backend: Backend, opts: Options) -> TestApp {
    init_test_log();
    let dir = tempfile::tempdir().unwrap();
    let defs_dir = dir.path().join("defs");
    write_defs(&defs_dir, &opts.extra_defs);
    let database_url = fresh_database(backend, dir.path());
    let mut settings = settings_for(&database_url, &defs_dir, opts.rate_limit);
    settings.smtp_url = opts.smtp_url.map(Into::into);
    settings.smtp_ca = opts.smtp_ca;
    settings.trusted_proxies =
        cx_survey::intake::limit::parse_trusted(opts.trusted_proxies).unwrap();
    settings.demo = opts.demo;
    if let Some(f) = opts.configure {
        f(&mut settings);
    }
    let app = Application::build(settings.clone())
        .await
        .expect("app builds");
    let port = app.port();
    let handle = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());
    let (pool, _) = db::connect_pool(&database_url, 2, 1).unwrap();
    let key = {
        let mut c = pool.get().unwrap();
        cx_survey::admin::create_key(&mut c, "agency-a", Some("Agency A"), Some("tests")).unwrap()
    };
    TestApp {
        backend,
        address: format!("http://127.0.0.1:{port}"),
        database_url,
        defs_dir,
        pool,
        client: reqwest::Client::new(),
        key,
        handle,
        settings,
        _dir: dir,
    }
}

impl TestApp {
    /// Stops the server and starts the application again on the same database and definition
    /// directory (as a restart or a deploy does); the start-up error, if it fails.
    pub async fn restart(&mut self) -> Result<(), cx_survey::startup::StartupError> {
        self.handle.stop(true).await;
        let app = Application::build(self.settings.clone()).await?;
        self.address = format!("http://127.0.0.1:{}", app.port());
        self.handle = app.handle();
        actix_web::rt::spawn(app.run_until_stopped());
        Ok(())
    }

    /// The PostgreSQL database's name (the last part of its URL).
    pub fn database_name(&self) -> &str {
        let last = self.database_url.rsplit('/').next().unwrap_or_default();
        last.split('?').next().unwrap_or_default()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn new_key(&self, agency: &str) -> String {
        let mut c = self.pool.get().unwrap();
        cx_survey::admin::create_key(&mut c, agency, None, None).unwrap()
    }

    /// The admin API as the agency of `key` sees it.
    pub fn as_agency<'a>(&'a self, key: &'a str) -> AgencyClient<'a> {
        AgencyClient { app: self, key }
    }

    /// An admin API call with `key`'s bearer token (`as_agency` reads better where the method is
    /// fixed).
    pub async fn admin(
        &self,
        key: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut r = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        located(r.send().await.unwrap())
    }

    /// Creates a HISP, service and deployment of `instrument` for `key`'s agency.
    pub async fn deployment_for(&self, key: &str, instrument: &str, origins: &[&str]) -> String {
        let tag = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
        let agency = self.as_agency(key);
        let r = agency
            .post(
                "/api/v1/admin/hisps",
                json!({"slug": format!("h-{tag}"), "name": "HISP"}),
            )
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = agency
            .post("/api/v1/admin/services",
                json!({"slug": format!("s-{tag}"), "name": "Passport renewal", "hisp": format!("h-{tag}"), "channels": ["website", "phone"]}))
            .await;
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let r = agency
            .post("/api/v1/admin/deployments",
                json!({"instrument": instrument, "service": format!("s-{tag}"), "channel": "website",
                            "transaction_point": "After online renewal", "allowed_origins": origins}))
            .await;
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_string()
    }

    pub async fn deployment(&self, instrument: &str) -> String {
        self.deployment_for(&self.key.clone(), instrument, &["https://www.example.gov"])
            .await
    }

    /// A respondent's answer: `answers` under a fresh submission id, posted to the intake API.
    pub async fn answer(&self, dep: &str, answers: Value) -> reqwest::Response {
        self.submit(dep, json!({"submission_id": sub_id(), "answers": answers}))
            .await
    }

    /// Posts a whole submission body (for bodies beyond `answer`'s: extra fields, a fixed id).
    pub async fn submit(&self, dep: &str, body: Value) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/deployments/{dep}/responses")))
            .json(&body)
            .send()
            .await
            .map(located)
            .unwrap()
    }

    pub fn count(&self, sql_table: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut c = self.pool.get().unwrap();
        diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {sql_table}"))
            .get_result::<N>(&mut *c)
            .unwrap()
            .n
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub async fn impression(&self, dep: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/v1/deployments/{dep}/impressions")))
            .send()
            .await
            .unwrap()
    }

    /// The deployment's responses as the admin JSON export lists them.
    pub async fn exported(&self, dep: &str) -> Vec<Value> {
        let path = format!("/api/v1/admin/responses?format=json&deployment={dep}");
        let v: Value = self
            .as_agency(&self.key)
            .get(&path)
            .await
            .json()
            .await
            .unwrap();
        v["responses"].as_array().cloned().unwrap_or_default()
    }

    pub fn responses(&self) -> i64 {
        self.count("responses")
    }
}

/// The admin API as one agency: `app.as_agency(&key).get(path)`. A copy is two references, so a
/// request's future owns its client and can be collected with others.
#[derive(Clone, Copy)]
pub struct AgencyClient<'a> {
    app: &'a TestApp,
    key: &'a str,
}

impl AgencyClient<'_> {
    pub async fn get(self, path: &str) -> reqwest::Response {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub async fn post(self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn put(self, path: &str, body: Value) -> reqwest::Response {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    /// Imports `csv` (the OMB upload format) into deployment `dep`.
    pub async fn import(self, dep: &str, csv: impl Into<reqwest::Body>) -> reqwest::Response {
        let path = format!("/api/v1/admin/deployments/{dep}/responses/import");
        self.post_body(&path, "text/csv", csv).await
    }

    /// A POST of a raw body (one `post` would not send: CSV, malformed or oversized JSON).
    pub async fn post_body(
        self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.app
            .client
            .post(self.app.url(path))
            .bearer_auth(self.key)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .map(located)
            .unwrap()
    }

    /// Any method, for tables of calls.
    pub async fn send(
        self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        self.app.admin(self.key, method, path, body).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sending the stop command is enough; the server winds down on its own.
        drop(self.handle.stop(false));
        if self.backend == Backend::Postgres {
            let name = self.database_name().to_string();
            std::thread::spawn(move || {
                if let Ok(mut c) = PgConnection::establish(&pg_url("postgres")) {
                    let _ =
                        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
                }
            });
        }
    }
}

/// Every `201` of the API says where the new thing is: the suite's flows check it on every
/// creating call they make through these helpers.
pub fn located(r: reqwest::Response) -> reqwest::Response {
    if r.status() == 201 {
        let loc = r.headers().get("location").map(|v| v.to_str().unwrap());
        assert!(
            loc.is_some_and(|l| l.starts_with("/api/v1/")),
            "201 from {} without a Location: {loc:?}",
            r.url()
        );
    }
    r
}

pub fn sub_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A shipped instrument, changed to be another instrument (for expiry and version tests).
pub fn variant(file: &str, id: &str, edit: impl FnOnce(&mut Value)) -> (String, Value) {
    let text = std::fs::read_to_string(shipped_defs().join(file)).unwrap();
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["id"] = json!(id);
    edit(&mut v);
    (format!("{id}.json"), v)
}

pub async fn problem(r: reqwest::Response) -> Value {
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert_eq!(ctype, "application/problem+json");
    r.json().await.unwrap()
}

pub fn fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A client that shows a redirect instead of following it (`303` after a form post).
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A person signed in to the staff console (through a break-glass link), with their session
/// cookie and CSRF token. Redirects are shown, not followed.
pub struct StaffClient<'a> {
    pub app: &'a TestApp,
    pub cookie: String,
    pub csrf: String,
    pub email: String,
    client: reqwest::Client,
}

impl TestApp {
    /// Gives `email` `role` in `agency` (creating the agency if new), as `cx-survey users grant` does.
    pub fn grant(&self, agency: &str, email: &str, role: &str) {
        let mut c = self.pool.get().unwrap();
        let a = cx_survey::registry::ensure_agency(&mut c, agency, None).unwrap();
        let role = cx_survey::domain::Role::parse(role).unwrap();
        cx_survey::staff::grant(&mut c, &a.id, email, role, "test").unwrap();
    }

    /// A new break-glass sign-in path for `email`, as `cx-survey users link` makes.
    pub fn sign_in_link(&self, email: &str) -> String {
        let mut c = self.pool.get().unwrap();
        let token = cx_survey::console::signin::create_link(&mut c, email).unwrap();
        format!("/admin/auth/link/{token}")
    }

    /// Grants `role` in `agency` to `email` and signs them in.
    pub async fn staff(&self, agency: &str, email: &str, role: &str) -> StaffClient<'_> {
        self.grant(agency, email, role);
        self.sign_in(email).await
    }

    /// Signs `email` (who already holds a role) in through a break-glass link.
    pub async fn sign_in(&self, email: &str) -> StaffClient<'_> {
        let client = no_redirects();
        let r = client
            .get(self.url(&self.sign_in_link(email)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "sign-in link for {email}");
        let cookie = session_cookie(&r).expect("a session cookie");
        let mut s = StaffClient {
            app: self,
            cookie,
            csrf: String::new(),
            email: email.to_string(),
            client,
        };
        let page = s.get("/admin").await;
        assert_eq!(page.status(), 200);
        s.csrf = csrf_in(&page.text().await.unwrap()).expect("a CSRF field on the overview");
        s
    }
}

/// The `cx_session` cookie a response sets, if any.
pub fn session_cookie(r: &reqwest::Response) -> Option<String> {
    r.headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let first = v.split(';').next()?;
            let (name, value) = first.split_once('=')?;
            (name.ends_with("cx_session") && !value.is_empty()).then(|| value.to_string())
        })
}

/// The value of the first `csrf_token` field in a page.
pub fn csrf_in(html: &str) -> Option<String> {
    const FIELD: &str = "name=\"csrf_token\" value=\"";
    let at = html.find(FIELD)? + FIELD.len();
    Some(html[at..].split('"').next()?.to_string())
}

impl StaffClient<'_> {
    fn with_cookie(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        r.header(
            reqwest::header::COOKIE,
            format!("cx_session={}", self.cookie),
        )
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.with_cookie(self.client.get(self.app.url(path)))
            .send()
            .await
            .unwrap()
    }

    /// A form post with the session's CSRF token added.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf_token", &self.csrf));
        self.post_raw(path, &fields).await
    }

    /// A form post exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        let body = serde_urlencoded::to_string(form).unwrap();
        self.with_cookie(self.client.post(self.app.url(path)))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// A multipart upload: the fields, the CSRF token, and one file field.
    pub async fn upload(
        &self,
        path: &str,
        form: &[(&str, &str)],
        file_field: &str,
        file_name: &str,
        content: Vec<u8>,
    ) -> reqwest::Response {
        let boundary = "cx-test-boundary-7d1f";
        let mut body = Vec::new();
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        fields.push(("csrf_token", &self.csrf));
        for (k, v) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n"
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(&content);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        self.with_cookie(self.client.post(self.app.url(path)))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap()
    }
}
