//! Every route of the service, mounted from the modules that handle them.

use actix_web::web;

use crate::error::ApiError;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(crate::ops::routes)
        .configure(crate::intake::routes)
        .configure(crate::admin::routes)
        .configure(crate::assets::routes)
        .configure(crate::pages::routes)
        .default_service(web::to(|| async {
            Err::<actix_web::HttpResponse, _>(ApiError::NotFound("route"))
        }));
}
