//! Every route of the service, mounted from the modules that handle them.
//!
//! Answers actix makes itself — `404` for an unknown path, `405` for a known path asked with a
//! method it does not take — get the same `application/problem+json` body as the handlers'.

use actix_web::body::EitherBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{web, ResponseError};

use crate::error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("")
            .wrap(
                ErrorHandlers::new()
                    .handler(StatusCode::NOT_FOUND, as_problem)
                    .handler(StatusCode::METHOD_NOT_ALLOWED, as_problem),
            )
            .configure(crate::ops::routes)
            .configure(crate::intake::routes)
            .configure(crate::admin::routes)
            .configure(crate::assets::routes)
            .configure(crate::pages::routes)
            .configure(crate::console::routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ApiError::NotFound("route"))
            })),
    );
}

/// A `404`/`405` without a body of its own (actix's) becomes a problem; one with a body (a
/// handler's problem, an HTML page's) is left as it is.
fn as_problem<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    if res.headers().contains_key(header::CONTENT_TYPE) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let err = if res.status() == StatusCode::METHOD_NOT_ALLOWED {
        ApiError::MethodNotAllowed
    } else {
        ApiError::NotFound("route")
    };
    let (req, _) = res.into_parts();
    let res: ServiceResponse<EitherBody<B>> =
        ServiceResponse::new(req, err.error_response()).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
