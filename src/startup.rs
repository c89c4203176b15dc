//! Builds the application: loads definitions, prepares the database, starts the intake writer
//! and the HTTP server.

use secrecy::ExposeSecret;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Server, Service};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Compress, DefaultHeaders};
use actix_web::HttpMessage;
use actix_web::{web, App, HttpServer};
use futures_util::FutureExt;
use tracing_actix_web::{RequestId, TracingLogger};

use crate::app::AppState;
use crate::configuration::Settings;
use crate::db::{self, Backend, Pool};
use crate::definitions::{load_dir, DefsError, LoadedDefs};
use crate::intake::limit::RateLimiter;
use crate::intake::writer::Writer;
use crate::registry::cache::DeploymentCache;

/// Connections of `AppState::export_pool`: a report takes up to three at once (one, plus two
/// aggregating in parallel), the fourth keeps exports moving meanwhile.
pub const EXPORT_POOL_SIZE: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("survey definitions are invalid:\n{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Defs(Vec<DefsError>),
    #[error(transparent)]
    Db(#[from] db::DbSetupError),
    #[error("survey definitions do not match the database: {0}")]
    Apply(String),
    #[error("cannot listen on {0}: {1}")]
    Bind(String, std::io::Error),
    #[error(
        "the database is read-only (a standby?): this command writes, point it at the primary"
    )]
    ReadOnly,
}

pub struct Application {
    server: Server,
    port: u16,
    writers: Vec<std::thread::JoinHandle<()>>,
    outbox: Option<actix_web::rt::task::JoinHandle<()>>,
    stop_outbox: tokio::sync::watch::Sender<bool>,
}

/// Loads definitions, opens and migrates the database and records instruments and registry
/// files in it: everything `serve` needs before it listens.
pub fn prepare(settings: &Settings) -> Result<(Pool, Backend, LoadedDefs), StartupError> {
    match open(settings)? {
        (_, _, _, true) => Err(StartupError::ReadOnly),
        (pool, backend, defs, false) => Ok((pool, backend, defs)),
    }
}

/// As `prepare`, for commands that only read (the quarterly report): on a read-only database,
/// such as a PostgreSQL hot standby, the definitions are taken from the files as they are, and
/// nothing is migrated or recorded.
pub fn prepare_reader(settings: &Settings) -> Result<(Pool, Backend, LoadedDefs), StartupError> {
    let (pool, backend, defs, _) = open(settings)?;
    Ok((pool, backend, defs))
}

/// Definitions and database, recorded unless the database is read-only (the `bool`).
fn open(settings: &Settings) -> Result<(Pool, Backend, LoadedDefs, bool), StartupError> {
    let mut defs = load_dir(&settings.survey_defs).map_err(StartupError::Defs)?;
    let (pool, backend) = db::connect_pool(
        settings.database_url.expose_secret(),
        settings.pool_size,
        settings.pool_min_idle,
    )?;
    let mut conn = pool.get().map_err(db::DbSetupError::from)?;
    let read_only = db::is_read_only(&mut conn);
    if !read_only {
        // Serialized like the migrations: instances starting together would insert the same
        // instruments and registry rows and all but one fail.
        db::serialized(&mut conn, |c| crate::definitions::store::apply(c, &defs))
            .map_err(StartupError::Apply)?;
    }
    defs.stored = crate::definitions::store::stored_instruments(&mut conn)
        .map_err(|e| StartupError::Apply(e.to_string()))?;
    Ok((pool, backend, defs, read_only))
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        // The effective configuration, for whoever debugs a deployment; secrets print redacted.
        tracing::debug!(?settings, "configuration");
        let prep_settings = settings.clone();
        let (pool, backend, defs) = tokio::task::spawn_blocking(move || prepare(&prep_settings))
            .await
            .map_err(|e| StartupError::Apply(e.to_string()))??;
        for w in defs.expiry_warnings(chrono::Utc::now().date_naive()) {
            tracing::warn!("{w}");
        }
        let (listener, port) = bind(&settings.bind)?;
        let (writer, writers) = start_writers(&settings, &pool, backend);
        let state = app_state(settings, pool, backend, defs, writer)?;
        // The email outbox drains inside `serve`; several instances may share the database.
        let (stop_outbox, stop_rx) = tokio::sync::watch::channel(false);
        let outbox = match crate::email::outbox::Outbox::new(
            state.pool.clone(),
            state.defs.clone(),
            state.settings.clone(),
        ) {
            Ok(Some(outbox)) => Some(actix_web::rt::spawn(outbox.run(stop_rx))),
            Ok(None) => None,
            Err(e) => return Err(StartupError::Apply(e)),
        };
        if let Some(limiter) = state.limiter.clone() {
            forget_idle_clients(limiter, state.pool.clone());
        }
        tracing::info!(port, backend = ?state.backend, "cx-survey listening");
        let server = serve(state, listener)?;
        Ok(Application {
            server,
            port,
            writers,
            outbox,
            stop_outbox,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (SIGINT/SIGTERM finish in-flight requests), then stops the email
    /// outbox and lets the intake writer commit what is queued.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let res = self.server.await;
        // The outbox finishes its batch and drops its SMTP pool while the runtime still runs.
        let _ = self.stop_outbox.send(true);
        if let Some(task) = self.outbox {
            let _ = task.await;
        }
        let writers = self.writers;
        let _ = tokio::task::spawn_blocking(move || {
            for w in writers {
                let _ = w.join();
            }
        })
        .await;
        res
    }
}

/// The listening socket on `addr`, and its port (the one chosen when `addr` asks for port 0).
fn bind(addr: &str) -> Result<(TcpListener, u16), StartupError> {
    let listener = TcpListener::bind(addr).map_err(|e| StartupError::Bind(addr.to_string(), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| StartupError::Bind(addr.to_string(), e))?
        .port();
    Ok((listener, port))
}

/// The intake writer threads and the queue that feeds them.
fn start_writers(
    settings: &Settings,
    pool: &Pool,
    backend: Backend,
) -> (Writer, Vec<std::thread::JoinHandle<()>>) {
    // SQLite allows one writer at a time anyway; PostgreSQL gains from two overlapping commits.
    let threads = settings
        .intake_writers
        .unwrap_or(if backend == Backend::Sqlite { 1 } else { 2 });
    Writer::start(
        pool.clone(),
        threads,
        settings.queue_capacity,
        settings.max_batch,
        settings.rate_limit_per_minute,
    )
}

/// What every request handler shares.
fn app_state(
    settings: Settings,
    pool: Pool,
    backend: Backend,
    defs: LoadedDefs,
    writer: Writer,
) -> Result<web::Data<AppState>, StartupError> {
    let public_origin = url::Url::parse(&settings.public_url)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let export_pool = db::side_pool(settings.database_url.expose_secret(), EXPORT_POOL_SIZE)?;
    Ok(web::Data::new(AppState {
        pool,
        export_pool,
        reports: tokio::sync::Semaphore::new(1),
        backend,
        defs: Arc::new(defs),
        limiter: RateLimiter::new(
            settings.rate_limit_per_minute,
            settings.trusted_proxies.clone(),
            settings.secret.as_ref().map(|s| s.expose_secret()),
        )
        .map(Arc::new),
        settings,
        writer,
        deployments: DeploymentCache::default(),
        public_origin,
    }))
}

/// Every minute, drops the rate limiter's idle clients and the stored counts gone stale.
fn forget_idle_clients(limiter: Arc<RateLimiter>, pool: Pool) {
    // Holds only the limiter and the pool, so the writer's queue can close at shutdown.
    actix_web::rt::spawn(async move {
        loop {
            actix_web::rt::time::sleep(Duration::from_secs(60)).await;
            limiter.forget_idle();
            let pool = pool.clone();
            let _ = actix_web::rt::task::spawn_blocking(move || {
                pool.get()
                    .ok()
                    .map(|mut c| crate::intake::limit::forget_old(&mut c))
            })
            .await;
        }
    });
}

/// The HTTP server on `listener`: security headers, request ids, request metrics, logs and
/// the routes.
fn serve(state: web::Data<AppState>, listener: TcpListener) -> Result<Server, StartupError> {
    // One identity provider client per process, shared by the workers (discovered lazily).
    let idp = web::Data::new(crate::console::Idp::default());
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(idp.clone())
            .wrap(Compress::default())
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    .add(("Referrer-Policy", "strict-origin-when-cross-origin")),
            )
            .wrap_fn(|req, srv| {
                let start = Instant::now();
                let method = req.method().to_string();
                let route = req.match_pattern().unwrap_or_else(|| "unmatched".into());
                // The id in every log line of this request, handed back for support tickets.
                // A trusted proxy's id when it sent one (telemetry), else ours.
                let request_id = req
                    .extensions()
                    .get::<crate::telemetry::LoggedRequestId>()
                    .map(|id| id.0.clone())
                    .or_else(|| req.extensions().get::<RequestId>().map(|id| id.to_string()));
                srv.call(req).map(move |mut res| {
                    if let Ok(r) = &mut res {
                        if let Some(v) = request_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                            r.headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), v);
                        }
                        crate::metrics::metrics()
                            .http_requests
                            .with_label_values(&[&method, &route, r.status().as_str()])
                            .observe(start.elapsed().as_secs_f64());
                    }
                    res
                })
            })
            .wrap(TracingLogger::<crate::telemetry::RedactedRootSpan>::new())
            .configure(crate::router::routes)
    })
    .listen(listener)
    .map_err(|e| StartupError::Bind("listener".into(), e))?
    .shutdown_timeout(30)
    .run())
}
