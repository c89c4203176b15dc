//! The staff console under `/admin`: agency staff sign in with their identity provider (or a
//! break-glass link) and run their surveys in the browser. Server-rendered USWDS pages, plain
//! forms (every flow works without JavaScript), a CSRF token on every change, roles per agency.
//!
//! `session` knows who is asking, `ui` frames the pages; each other module is one section of
//! the console. Another agency's object answers `404`, an action outside one's role `403`,
//! exactly as the admin API does.

pub mod audit;
pub mod deployments;
pub mod import;
pub mod invitations;
pub mod keys;
pub mod oidc;
pub mod overview;
pub mod plain;
pub mod reports;
pub mod responses;
pub mod session;
pub mod signin;
pub mod ui;
pub mod upload;
pub mod users;
pub mod volumes;

use actix_web::web;

pub use signin::Idp;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(
        web::scope("/admin")
            .service(resource("").route(get().to(overview::show)))
            .configure(deployments::routes)
            .configure(volumes::routes)
            .configure(invitations::routes)
            .configure(import::routes)
            .configure(reports::routes)
            .service(resource("/sign-in").route(get().to(signin::sign_in)))
            .service(resource("/auth/callback").route(get().to(signin::callback)))
            .service(resource("/auth/link/{token}").route(get().to(signin::link)))
            .service(resource("/sign-out").route(post().to(signin::sign_out)))
            .service(resource("/signed-out").route(get().to(signin::signed_out)))
            .service(
                resource("/agency")
                    .route(get().to(signin::agencies))
                    .route(post().to(signin::switch)),
            )
            .configure(responses::routes)
            .configure(users::routes)
            .configure(keys::routes)
            .configure(audit::routes)
            .default_service(web::to(|| async {
                Err::<actix_web::HttpResponse, _>(ui::ConsoleError::NotFound)
            })),
    );
}
