//! Operations endpoints: health probes and metrics (`health`), and the OpenAPI document
//! (`openapi`).

pub mod health;
pub mod openapi;

use actix_web::web;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/metrics", web::get().to(health::metrics_text))
        .route("/openapi.json", web::get().to(openapi::openapi));
}
