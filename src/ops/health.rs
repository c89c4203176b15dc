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

/// Prometheus' text format. The gauges that describe now (queue, pools, outbox, PRA) are set
/// here, at scrape time; the outbox count is one indexed query over the undelivered states.
pub async fn metrics_text(state: web::Data<AppState>) -> HttpResponse {
    let m = metrics();
    m.queue_depth.set(state.writer.queue_len() as i64);
    crate::db::observe_pool("main", &state.pool);
    crate::db::observe_pool("export", &state.export_pool);
    let now = chrono::Utc::now();
    for ins in state.defs.instruments.values().flatten() {
        let ends =
            crate::survey::pra::clearance_ends(ins.pra.expiration_date, state.settings.report_tz);
        m.pra_days
            .with_label_values(&[ins.id.as_str(), &ins.version.to_string()])
            .set((ends - now).num_seconds() as f64 / 86_400.0);
    }
    match state.db(|c| Ok(crate::email::outbox::depth(c)?)).await {
        Ok(depth) => {
            for (s, n) in depth {
                m.outbox_invitations.with_label_values(&[s.as_str()]).set(n);
            }
        }
        // The other metrics are still worth serving; the stale gauge stays as it was.
        Err(e) => tracing::warn!(error = %e, "metrics: could not count the outbox"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(crate::metrics::render())
}
