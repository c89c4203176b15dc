//! The API browser: Swagger UI at `/api/docs/`, its files embedded in the binary (nothing from
//! a CDN), reading `/openapi.json`. It runs under the same strict CSP as every page: Swagger
//! UI's own `swagger-initializer.js` starts it, so the page needs no inline script.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa_swagger_ui::Config;

use crate::error::ApiError;

pub const PATH: &str = "/api/docs/";

/// The page's CSP: our own files only, plus the one `<style>` element Swagger UI 5.17.14 (the
/// vendored version) injects, allowed by its hash, not by `'unsafe-inline'`. A new Swagger UI
/// version with another style is caught by the browser test (a CSP violation is a console error).
const CSP: &str = "default-src 'none'; script-src 'self'; \
                   style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; img-src 'self' data:; \
                   font-src 'self'; connect-src 'self'; form-action 'none'; base-uri 'none'; \
                   frame-ancestors 'none'";

fn config() -> Arc<Config<'static>> {
    static C: OnceLock<Arc<Config<'static>>> = OnceLock::new();
    C.get_or_init(|| {
        Arc::new(
            Config::from("/openapi.json")
                .try_it_out_enabled(false)
                .validator_url("none"),
        )
    })
    .clone()
}

pub async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, PATH))
        .finish()
}

pub async fn file(tail: web::Path<String>) -> Result<HttpResponse, ApiError> {
    match utoipa_swagger_ui::serve(&tail, config()) {
        Ok(Some(f)) => Ok(HttpResponse::Ok()
            .content_type(f.content_type)
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .insert_header((header::X_FRAME_OPTIONS, "DENY"))
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(f.bytes.into_owned())),
        Ok(None) => Err(ApiError::NotFound("file")),
        Err(e) => Err(ApiError::internal(e)),
    }
}
