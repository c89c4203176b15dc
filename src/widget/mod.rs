//! What a visitor's browser gets: the embeddable widget and its stylesheet, the hosted survey
//! page with its vendored U.S. Web Design System, and, in development, demo host pages.

pub mod assets;
pub mod hosted;
pub mod page;

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::app::AppState;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.configure(assets::routes)
        .configure(hosted::routes)
        .route("/demo", web::get().to(demo_index))
        .route("/demo/{mode}/{id}", web::get().to(demo));
}

/// Open deployments, newest first, for the demo links.
async fn open_deployments(state: &AppState) -> Vec<(String, String)> {
    let pool = state.pool.clone();
    crate::app::run(&pool, |c| {
        crate::registry::open_deployment_labels(c).map_err(crate::error::ApiError::from)
    })
    .await
    .unwrap_or_default()
}

async fn links(state: &AppState) -> Vec<(String, String)> {
    let mut out = vec![];
    for (id, label) in open_deployments(state).await.into_iter().take(10) {
        for mode in ["modal", "button", "inline"] {
            out.push((format!("/demo/{mode}/{id}"), format!("{label}: {mode}")));
        }
        out.push((format!("/s/{id}"), format!("{label}: hosted page")));
    }
    out
}

async fn demo_index(state: web::Data<AppState>) -> HttpResponse {
    if !state.settings.demo {
        return HttpResponse::NotFound().finish();
    }
    let links = links(&state).await;
    match links.first() {
        None => HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("No open deployment yet: create one (see the README's tour), then reload."),
        Some((first, _)) => HttpResponse::SeeOther()
            .insert_header(("Location", first.as_str()))
            .finish(),
    }
}

async fn demo(state: web::Data<AppState>, path: web::Path<(String, String)>) -> HttpResponse {
    let (mode, id) = path.into_inner();
    if !state.settings.demo || !matches!(mode.as_str(), "modal" | "button" | "inline") {
        return HttpResponse::NotFound().finish();
    }
    let links = links(&state).await;
    hosted::html(StatusCode::OK, page::demo_page(&mode, &id, &links))
}
