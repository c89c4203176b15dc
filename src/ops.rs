//! Operations endpoints: liveness, readiness (the database answers), Prometheus metrics, and
//! the OpenAPI document generated from the handlers.

use std::sync::OnceLock;

use actix_web::{web, HttpResponse};
use diesel::connection::SimpleConnection;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};
use utoipa::OpenApi;

use crate::startup::AppState;

pub struct Metrics {
    pub registry: Registry,
    pub http_requests: HistogramVec,
    pub responses: IntCounterVec,
    pub writer_batch: Histogram,
    pub queue_depth: IntGauge,
    pub export_failures: IntCounterVec,
}

/// Process-wide metrics (one registry, however many apps a test process starts).
pub fn metrics() -> &'static Metrics {
    static M: OnceLock<Metrics> = OnceLock::new();
    M.get_or_init(|| {
        let registry = Registry::new();
        let http_requests = HistogramVec::new(
            HistogramOpts::new(
                "cx_http_request_duration_seconds",
                "HTTP requests by route and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
            ]),
            &["method", "route", "status"],
        )
        .expect("metric");
        let responses = IntCounterVec::new(
            Opts::new(
                "cx_responses_total",
                "Survey responses by outcome (stored, duplicate, rejected, honeypot)",
            ),
            &["outcome"],
        )
        .expect("metric");
        let writer_batch = Histogram::with_opts(
            HistogramOpts::new(
                "cx_intake_batch_size",
                "Intake items committed per transaction",
            )
            .buckets(vec![
                1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0,
            ]),
        )
        .expect("metric");
        let queue_depth = IntGauge::new(
            "cx_intake_queue_depth",
            "Intake items waiting for the writer",
        )
        .expect("metric");
        let export_failures = IntCounterVec::new(
            Opts::new(
                "cx_export_failures_total",
                "Response exports that failed: at the start (an error status) or mid-stream (the transfer was cut)",
            ),
            &["stage"],
        )
        .expect("metric");
        for c in [
            Box::new(http_requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(responses.clone()),
            Box::new(writer_batch.clone()),
            Box::new(queue_depth.clone()),
            Box::new(export_failures.clone()),
        ] {
            registry.register(c).expect("register metric");
        }
        Metrics {
            registry,
            http_requests,
            responses,
            writer_batch,
            queue_depth,
            export_failures,
        }
    })
}

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics_text))
        .route("/openapi.json", web::get().to(openapi));
}

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
    let m = metrics();
    m.queue_depth.set(state.writer.queue_len() as i64);
    let mut buf = vec![];
    let _ = TextEncoder::new().encode(&m.registry.gather(), &mut buf);
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(buf)
}

#[derive(OpenApi)]
#[openapi(
    info(title = "cx-survey", description = "Post-transaction CX surveys (OMB A-11 Section 280) with PRA enforcement"),
    paths(
        healthz, readyz,
        crate::intake::get_deployment, crate::intake::submit_response, crate::intake::record_impression,
        crate::admin::structure::create_hisp, crate::admin::structure::list_hisps,
        crate::admin::structure::create_service, crate::admin::structure::list_services,
        crate::admin::structure::create_deployment, crate::admin::structure::list_deployments,
        crate::admin::structure::get_deployment, crate::admin::structure::update_deployment,
        crate::admin::structure::put_volume,
        crate::admin::responses::export, crate::admin::responses::triage,
        crate::admin::responses::audit, crate::admin::import::import_responses,
        crate::admin::reports::quarterly, crate::email::create_invitations,
    ),
    components(schemas(crate::error::Problem, crate::error::FieldError, crate::intake::Created)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // Every admin operation may answer 401 (no or a wrong key); say so once, here.
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let unauthorized = ResponseBuilder::new()
            .description("A valid API key is required")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for (path, item) in openapi.paths.paths.iter_mut() {
            for op in operations(item) {
                // Errors are RFC 9457 problems: say the media type they are sent with.
                for (code, resp) in op.responses.responses.iter_mut() {
                    if let (true, utoipa::openapi::RefOr::T(r)) =
                        (code.starts_with('4') || code.starts_with('5'), resp)
                    {
                        if let Some(c) = r.content.shift_remove("application/json") {
                            r.content.insert("application/problem+json".into(), c);
                        }
                    }
                }
            }
            if !path.starts_with("/api/v1/admin") {
                continue;
            }
            for op in operations(item) {
                op.responses
                    .responses
                    .insert("401".into(), unauthorized.clone().into());
            }
        }
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        &mut item.get,
        &mut item.post,
        &mut item.put,
        &mut item.patch,
        &mut item.delete,
    ]
    .into_iter()
    .flatten()
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
