//! The application's shared state, handed to every handler, and the helper that runs database
//! work for them. Below the handlers: it imports none of them.

use std::sync::Arc;

use crate::configuration::Settings;
use crate::db::{AnyConnection, Backend, Pool};
use crate::definitions::LoadedDefs;
use crate::error::ApiError;
use crate::intake::limit::RateLimiter;
use crate::intake::writer::Writer;
use crate::registry::cache::DeploymentCache;
use crate::survey::Instrument;

pub struct AppState {
    pub pool: Pool,
    /// Exports and reports read through this pool only (`startup::EXPORT_POOL_SIZE`
    /// connections): however many run, or however slowly their clients read, `pool` stays free
    /// for intake and admin.
    pub export_pool: Pool,
    /// One report at a time per instance: a report holds up to three connections of
    /// `export_pool`, so two at once could take all of them and starve each other.
    pub reports: tokio::sync::Semaphore,
    pub backend: Backend,
    pub defs: Arc<LoadedDefs>,
    pub settings: Settings,
    pub writer: Writer,
    pub limiter: Option<Arc<RateLimiter>>,
    pub deployments: DeploymentCache,
    /// `scheme://host[:port]` of CX_PUBLIC_URL: the service's own pages may always post.
    pub public_origin: String,
}

impl AppState {
    pub fn instrument(&self, id: &str) -> Option<&Instrument> {
        self.defs.current(id)
    }

    /// Runs `f` on a pooled connection off the async executor.
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
    {
        run(&self.pool, f).await
    }
}

/// Runs blocking database work off the async executor with a pooled connection.
pub async fn run<T, F>(pool: &Pool, f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut AnyConnection) -> Result<T, ApiError> + Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get()?;
        f(&mut conn)
    })
    .await?
}
