//! The OpenAPI document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(title = "cx-survey", description = "Post-transaction CX surveys (OMB A-11 Section 280) with PRA enforcement"),
    paths(
        crate::ops::health::healthz, crate::ops::health::readyz,
        crate::intake::get_deployment, crate::intake::submit_response, crate::intake::record_impression,
        crate::admin::structure::create_hisp, crate::admin::structure::list_hisps,
        crate::admin::structure::get_hisp,
        crate::admin::structure::create_service, crate::admin::structure::list_services,
        crate::admin::structure::get_service,
        crate::admin::structure::create_deployment, crate::admin::structure::list_deployments,
        crate::admin::structure::get_deployment, crate::admin::structure::update_deployment,
        crate::admin::structure::put_volume,
        crate::admin::responses::export, crate::admin::responses::triage,
        crate::admin::responses::audit, crate::admin::import::import_responses,
        crate::admin::reports::quarterly, crate::admin::invitations::create_invitations,
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
