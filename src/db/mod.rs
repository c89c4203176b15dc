//! Storage: one diesel code path over SQLite (embedded default) and PostgreSQL, chosen by the
//! database URL. Migrations are embedded per backend and run at start.

pub mod schema;
pub mod text;

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs the same code on whichever backend's own connection `conn` holds: `db_run!(conn, c =>
/// expr)` binds `c` to the `SqliteConnection` or the `PgConnection` and evaluates `expr` with
/// it. For statements that compile per backend only (a multi-row INSERT, an upsert with
/// `RETURNING`) and for loads that should skip the multi-backend row wrapping; bodies that
/// truly differ per backend keep their own `match`.
macro_rules! db_run {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($c) => $body,
            $crate::db::AnyConnection::Postgresql($c) => $body,
        }
    };
}
pub(crate) use db_run;

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL parsed once: `postgres://…`, `sqlite://path`, `sqlite:path` or a bare path.
#[derive(Clone)]
pub struct DatabaseUrl {
    pub backend: Backend,
    /// What the driver is given: the URL for PostgreSQL, the file path for SQLite.
    pub target: String,
}

/// Without the password and the query (which may carry one): the pool's `Debug` prints this.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let target = match self.backend {
            Backend::Sqlite => self.target.clone(),
            Backend::Postgres => url::Url::parse(&self.target)
                .map(|mut u| {
                    let _ = u.set_password(None);
                    u.set_query(None);
                    u.to_string()
                })
                .unwrap_or_else(|_| "[unparsable URL]".into()),
        };
        f.debug_struct("DatabaseUrl")
            .field("backend", &self.backend)
            .field("target", &target)
            .finish()
    }
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("DATABASE_URL is empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                target: raw.to_string(),
            });
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.contains("://") {
            return Err(format!(
                "unsupported database URL {raw:?}: use postgres://… or sqlite://path"
            ));
        }
        if path.is_empty() || path == ":memory:" {
            return Err(
                "SQLite needs a file path (an in-memory database is not shared across connections)"
                    .into(),
            );
        }
        Ok(DatabaseUrl {
            backend: Backend::Sqlite,
            target: path.to_string(),
        })
    }
}

/// Picks the backend by URL scheme, so connection failures carry the driver's own message.
#[derive(Clone, Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        use diesel::r2d2::Error;
        match self.url.backend {
            Backend::Postgres => PgConnection::establish(&self.url.target)
                .map(AnyConnection::Postgresql)
                .map_err(Error::ConnectionError),
            Backend::Sqlite => {
                let mut c = SqliteConnection::establish(&self.url.target)
                    .map_err(Error::ConnectionError)?;
                // Per connection; WAL itself is switched on once in `connect_pool`.
                c.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;",
                )
                .map_err(Error::QueryError)?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    /// Asked when a connection comes back. diesel marks a connection broken when it is still
    /// inside a transaction (a panic unwound past commit and rollback) or a rollback failed;
    /// reused, it would run the next caller's writes in a transaction never committed. A
    /// connection whose server went away is caught at checkout instead (`is_valid`).
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        diesel::r2d2::R2D2Connection::is_broken(conn)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("DATABASE_URL: {0}")]
    Url(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[from] r2d2::Error),
    #[error("database setup failed: {0}")]
    Setup(String),
}

/// Opens a pool, switches SQLite to WAL, and applies pending migrations.
pub fn connect_pool(
    database_url: &str,
    size: u32,
    min_idle: u32,
) -> Result<(Pool, Backend), DbSetupError> {
    let url = DatabaseUrl::parse(database_url).map_err(DbSetupError::Url)?;
    let backend = url.backend;
    let manager = ConnectionManager { url };
    if backend == Backend::Sqlite {
        // Once, before any pooled connection exists: parallel switches race to "database is locked".
        let mut c = r2d2::ManageConnection::connect(&manager)
            .map_err(|e| DbSetupError::Setup(e.to_string()))?;
        c.batch_execute("PRAGMA journal_mode = WAL;")
            .map_err(|e| DbSetupError::Setup(e.to_string()))?;
    }
    let pool = r2d2::Pool::builder()
        .max_size(size.max(2))
        .min_idle(Some(min_idle))
        .connection_timeout(Duration::from_secs(5))
        .event_handler(Box::new(PoolEvents("main")))
        .build(manager)?;
    let mut conn = pool.get()?;
    if is_read_only(&mut conn) {
        // A hot standby (or a read-only role) can serve the report, but cannot be migrated:
        // its schema must already be the one this binary expects.
        if has_pending_migrations(&mut conn)? {
            return Err(DbSetupError::Setup(
                "the database is read-only (a standby?) and its schema is older than this \
                 release: run this release against the primary first"
                    .into(),
            ));
        }
    } else {
        run_migrations(&mut conn).map_err(DbSetupError::Setup)?;
    }
    Ok((pool, backend))
}

/// True on a PostgreSQL hot standby or a session that defaults to read-only transactions.
pub fn is_read_only(conn: &mut AnyConnection) -> bool {
    #[derive(QueryableByName)]
    struct Ro {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        ro: bool,
    }
    match conn {
        AnyConnection::Sqlite(_) => false,
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on' AS ro",
        )
        .get_result::<Ro>(c)
        .is_ok_and(|r| r.ro),
    }
}

/// Whether this binary has migrations the database lacks, read without writing (diesel's own
/// check creates its bookkeeping table first, which a standby refuses).
fn has_pending_migrations(conn: &mut AnyConnection) -> Result<bool, DbSetupError> {
    use diesel::migration::MigrationSource;
    #[derive(QueryableByName)]
    struct Applied {
        #[diesel(sql_type = diesel::sql_types::Text)]
        version: String,
    }
    let err = |e: &dyn std::fmt::Display| {
        DbSetupError::Setup(format!("could not read the schema version: {e}"))
    };
    let applied: std::collections::HashSet<String> =
        diesel::sql_query("SELECT version FROM __diesel_schema_migrations")
            .load::<Applied>(conn)
            .map_err(|e| err(&e))?
            .into_iter()
            .map(|a| a.version)
            .collect();
    let wanted: Vec<String> = match conn {
        AnyConnection::Sqlite(_) => {
            MigrationSource::<diesel::sqlite::Sqlite>::migrations(&SQLITE_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().version().to_string()).collect())
        }
        AnyConnection::Postgresql(_) => {
            MigrationSource::<diesel::pg::Pg>::migrations(&POSTGRES_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.name().version().to_string()).collect())
        }
    }
    .map_err(|e| err(&e))?;
    Ok(wanted.iter().any(|v| !applied.contains(v)))
}

/// Applies pending migrations, one instance at a time (see `serialized`): instances starting
/// together on an empty database otherwise both create diesel's bookkeeping table, or both
/// apply the same migration, and all but one fail to start.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<(), String> {
    let applied = serialized(conn, |conn| {
        match conn {
            AnyConnection::Sqlite(c) => {
                c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len())
            }
            AnyConnection::Postgresql(c) => c
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len()),
        }
        .map_err(|e| format!("migration failed: {e}"))
    })?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    Ok(())
}

/// The PostgreSQL advisory lock start-up setup holds (any constant unlikely to be another
/// application's: "cxsurvey" in ASCII).
pub const SETUP_LOCK: i64 = 0x6378_7375_7276_6579;

/// Runs `f` in one transaction that no other instance's `serialized` overlaps, committed if it
/// succeeds. PostgreSQL: a transaction-level advisory lock, released by the commit or rollback
/// (so never left held by a pooled connection). SQLite: `BEGIN IMMEDIATE`, which takes the write
/// lock at once, waiting out the busy timeout; a deferred transaction's later upgrade would fail
/// at once when another instance wrote in between. `transaction` calls inside `f` nest as
/// savepoints.
pub fn serialized<T>(
    conn: &mut AnyConnection,
    f: impl FnOnce(&mut AnyConnection) -> Result<T, String>,
) -> Result<T, String> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let began = match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        AnyConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction(c),
    };
    began.map_err(|e| format!("could not begin the setup transaction: {e}"))?;
    let out = match conn {
        AnyConnection::Postgresql(c) => c
            .batch_execute(&format!("SELECT pg_advisory_xact_lock({SETUP_LOCK})"))
            .map_err(|e| format!("could not take the setup lock: {e}")),
        AnyConnection::Sqlite(_) => Ok(()),
    }
    .and_then(|()| f(conn));
    match out {
        Ok(v) => AnyConnection::commit_transaction(conn)
            .map(|()| v)
            .map_err(|e| format!("could not commit the setup: {e}")),
        Err(e) => {
            // The error that made us roll back is the one worth reporting.
            let _ = AnyConnection::rollback_transaction(conn);
            Err(e)
        }
    }
}

/// Now, truncated to microseconds so SQLite and PostgreSQL store the same value.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

pub fn to_utc(ts: NaiveDateTime) -> DateTime<Utc> {
    ts.and_utc()
}

pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// A second, small pool on the same database for long reads (exports, reports), so they
/// cannot take the connections intake and admin writes need. Connections open on demand
/// (none at start) and close again after r2d2's idle timeout; the main pool has already
/// migrated the database and switched SQLite to WAL.
pub fn side_pool(database_url: &str, size: u32) -> Result<Pool, DbSetupError> {
    let url = DatabaseUrl::parse(database_url).map_err(DbSetupError::Url)?;
    Ok(r2d2::Pool::builder()
        .max_size(size.max(1))
        .min_idle(Some(0))
        .connection_timeout(Duration::from_secs(5))
        .event_handler(Box::new(PoolEvents("export")))
        .build_unchecked(ConnectionManager { url }))
}

/// Counts every checkout's wait and every timeout of the pool it names into the metrics.
#[derive(Debug)]
struct PoolEvents(&'static str);

impl r2d2::HandleEvent for PoolEvents {
    fn handle_checkout(&self, event: r2d2::event::CheckoutEvent) {
        crate::metrics::metrics()
            .pool_wait
            .with_label_values(&[self.0])
            .observe(event.duration().as_secs_f64());
    }

    fn handle_timeout(&self, _event: r2d2::event::TimeoutEvent) {
        crate::metrics::metrics()
            .pool_timeouts
            .with_label_values(&[self.0])
            .inc();
    }
}

/// Sets the pool gauges from `pool`'s state now (at scrape time).
pub fn observe_pool(name: &str, pool: &Pool) {
    let state = pool.state();
    let g = &crate::metrics::metrics().pool_connections;
    g.with_label_values(&[name, "idle"])
        .set(i64::from(state.idle_connections));
    g.with_label_values(&[name, "in_use"])
        .set(i64::from(state.connections - state.idle_connections));
}
