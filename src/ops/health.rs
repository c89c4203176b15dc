//! Liveness, readiness (the database answers) and the metrics endpoint.

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;

use crate::app::AppState;
use crate::metrics::metrics;

#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "The process is up")))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "The database answers"), (status = 503, description = "The database does not answer")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.pool.clone();
    let ok = web::block(move || {
        pool.get()
            .map_err(|e| e.to_string())?
            .batch_execute("SELECT 1")
            .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())
    .and_then(|r| r);
    match ok {
        Ok(()) => HttpResponse::Ok().json(serde_json::json!({"status": "ready", "database": "ok"})),
        // The cause goes to the log, not to whoever asks: it can name hosts and databases.
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unavailable");
            HttpResponse::ServiceUnavailable()
                .insert_header(("Retry-After", "5"))
                .json(serde_json::json!({"status": "unavailable", "database": "unavailable"}))
        }
    }
}

pub async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    metrics().queue_depth.set(state.writer.queue_len() as i64);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}
