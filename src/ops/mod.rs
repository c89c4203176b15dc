//! Operations endpoints: health probes and metrics (`health`), and the OpenAPI document
//! (`openapi`) with its browser (`docs`).

pub mod docs;
pub mod health;
pub mod openapi;
pub mod problems;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics_text))
        .route("/openapi.json", web::get().to(openapi::openapi))
        .route("/problems", web::get().to(problems::index))
        .route("/problems/{slug}", web::get().to(problems::problem_type))
        .route("/api/docs", web::get().to(docs::redirect))
        .route("/api/docs/{tail:.*}", web::get().to(docs::file));
}
