//! In development (`CX_DEMO`), demo host pages: one stand-in agency page per widget mode and
//! open deployment, for trying the widget locally.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, DOCTYPE};

use super::hosted;
use crate::app::AppState;
use crate::assets::assets;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/demo", web::get().to(demo_index))
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
    hosted::html(StatusCode::OK, demo_page(&mode, &id, &links))
}

/// `/demo`: one host page per widget mode, for trying the widget locally.
pub fn demo_page(mode: &str, deployment: &str, others: &[(String, String)]) -> String {
    let a = assets();
    let target = match mode {
        "button" => Some("#give-feedback"),
        "inline" => Some("#survey-here"),
        _ => None,
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No favicon request (and no 404 in the console).
                link rel="icon" href="data:,";
                title { "cx-survey widget demo: " (mode) }
                link rel="stylesheet" href=(a.url("uswds/css/uswds.min.css"));
                script src="/widget.js" data-deployment=(deployment) data-mode=(mode) data-target=[target] defer {}
            }
            body {
                main.usa-section { div.grid-container {
                    h1 { "Widget demo: " (mode) " mode" }
                    p { "A stand-in for an agency page after a transaction. The tag on this page:" }
                    pre.cx-code { code { (format!("<script src=\"/widget.js\" data-deployment=\"{deployment}\" data-mode=\"{mode}\"{} defer></script>",
                        target.map(|t| format!(" data-target=\"{t}\"")).unwrap_or_default())) } }
                    @if mode == "button" { button.usa-button #give-feedback type="button" { "Tell us how we did" } }
                    @if mode == "inline" { div #survey-here {} }
                    @if mode == "modal" { p { "The floating “Feedback” button is at the bottom right." } }
                    h2 { "Other modes and deployments" }
                    ul.usa-list { @for (href, label) in others { li { a.usa-link href=(href) { (label) } } } }
                } }
            }
        }
    }
    .into_string()
}
