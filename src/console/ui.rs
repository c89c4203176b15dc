//! The console's page frame (banner, header with the agency switcher and sign-out, side
//! navigation), its error pages, and small pieces every page uses. USWDS markup, no inline
//! script or style: the public pages' headers apply (`pages::hosted::html`).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use maud::{html, Markup, DOCTYPE};

use super::session::Staff;
use crate::assets::assets;
use crate::domain::Role;
use crate::error::ApiError;
use crate::pages::hosted;

/// Why a console request did not get its page. Each renders as an HTML page, except `SignIn`,
/// which sends the browser to sign in.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("sign-in required")]
    SignIn,
    #[error("forbidden")]
    Forbidden,
    #[error("not found")]
    NotFound,
    #[error("bad request")]
    BadRequest,
    #[error("too large")]
    TooLarge,
    #[error("unavailable")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::NotFound(_) => ConsoleError::NotFound,
            ApiError::Forbidden(_) => ConsoleError::Forbidden,
            ApiError::BadRequest(_) | ApiError::Invalid(_) => ConsoleError::BadRequest,
            ApiError::PayloadTooLarge(_) => ConsoleError::TooLarge,
            ApiError::Unavailable { .. } => ConsoleError::Unavailable,
            other => {
                tracing::error!(error = %other, "console request failed");
                ConsoleError::Internal
            }
        }
    }
}

impl From<diesel::result::Error> for ConsoleError {
    fn from(e: diesel::result::Error) -> Self {
        ConsoleError::from(ApiError::from(e))
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::SignIn => StatusCode::SEE_OTHER,
            ConsoleError::Forbidden => StatusCode::FORBIDDEN,
            ConsoleError::NotFound => StatusCode::NOT_FOUND,
            ConsoleError::BadRequest => StatusCode::BAD_REQUEST,
            ConsoleError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ConsoleError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ConsoleError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (title, body) = match self {
            ConsoleError::SignIn => return see_other("/admin/sign-in"),
            ConsoleError::Forbidden => (
                "Not allowed",
                "Your role in this agency does not include this action, or the form had expired. \
                 Go back, reload the page and try again; if you need this action, ask one of \
                 your agency's administrators for a role that includes it.",
            ),
            ConsoleError::NotFound => (
                "Page not found",
                "There is nothing at this address in your agency. Check the link, or start from \
                 the overview.",
            ),
            ConsoleError::BadRequest => (
                "The form could not be read",
                "Go back, reload the page and submit the form again.",
            ),
            ConsoleError::TooLarge => (
                "The upload is too large",
                "Files of up to 16 MB can be uploaded. Split the file and upload each part.",
            ),
            ConsoleError::Unavailable => (
                "Busy, please retry",
                "The service is busy right now. Wait a minute, then try again.",
            ),
            ConsoleError::Internal => (
                "Something went wrong",
                "The service could not complete this request. Nothing was changed. Try again; \
                 if it keeps failing, tell your platform team.",
            ),
        };
        let page = bare(
            title,
            html! {
                h1 { (title) }
                p.usa-intro { (body) }
                p { a.usa-link href="/admin" { "Go to the overview" } }
            },
        );
        hosted::html(self.status_code(), page)
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A console page: `200` with the frame around `main`.
pub fn page(staff: &Staff, current: &str, title: &str, main: Markup) -> HttpResponse {
    hosted::html(StatusCode::OK, frame(staff, current, title, main))
}

/// A console page with another status (a form with errors is `422`).
pub fn page_with(
    status: StatusCode,
    staff: &Staff,
    current: &str,
    title: &str,
    main: Markup,
) -> HttpResponse {
    hosted::html(status, frame(staff, current, title, main))
}

/// The console's sections: path, label, least role that sees it.
const NAV: &[(&str, &str, Role)] = &[
    ("/admin", "Overview", Role::Viewer),
    ("/admin/deployments", "Deployments", Role::Viewer),
    ("/admin/responses", "Responses", Role::Viewer),
    ("/admin/volumes", "Quarterly volumes", Role::Viewer),
    ("/admin/invitations", "Invitations", Role::Viewer),
    ("/admin/import", "Paper and phone import", Role::Viewer),
    ("/admin/reports", "Quarterly files", Role::Viewer),
    ("/admin/users", "Users", Role::Admin),
    ("/admin/keys", "API keys", Role::Admin),
    ("/admin/audit", "Audit log", Role::Admin),
];

fn head(title: &str) -> Markup {
    let a = assets();
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        link rel="icon" href="data:,";
        title { (title) " | cx-survey console" }
        link rel="stylesheet" href=(a.url("uswds/css/uswds.min.css"));
        link rel="stylesheet" href=(a.url("console.css"));
        script src=(a.url("console.js")) defer {}
    }
}

fn banner() -> Markup {
    let a = assets();
    html! {
        a.usa-skipnav href="#main-content" { "Skip to main content" }
        section.usa-banner aria-label="Official website of the United States government" {
            div.usa-banner__header {
                div.usa-banner__inner {
                    div.grid-col-auto {
                        img.usa-banner__header-flag src=(a.url("uswds/img/us_flag_small.png")) alt="";
                    }
                    div."grid-col-fill" {
                        p.usa-banner__header-text { "An official website of the United States government" }
                    }
                }
            }
        }
    }
}

/// The frame of a signed-in page: header (agency, person, sign-out), side navigation, content.
fn frame(staff: &Staff, current: &str, title: &str, main: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                (banner())
                header.cx-console-header {
                    div.grid-container.cx-console-header__inner {
                        p.cx-console-header__title {
                            a href="/admin" { "cx-survey" } " "
                            span.cx-console-header__agency { (staff.agency_name) }
                        }
                        div.cx-console-header__who {
                            span { (staff.email) " · " (staff.role.as_str()) }
                            a.usa-link href="/admin/agency" { "Switch agency" }
                            form method="post" action="/admin/sign-out" {
                                (csrf(staff))
                                button.usa-button.usa-button--unstyled type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                div.grid-container {
                    div.grid-row.grid-gap {
                        nav."tablet:grid-col-3".cx-console-nav aria-label="Console" {
                            ul.usa-sidenav {
                                @for (path, label, role) in NAV {
                                    @if staff.may(*role) {
                                        li.usa-sidenav__item {
                                            @if *path == current {
                                                a.usa-current href=(path) aria-current="page" { (label) }
                                            } @else {
                                                a href=(path) { (label) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        main #main-content."tablet:grid-col-9".cx-console-main tabindex="-1" { (main) }
                    }
                }
            }
        }
    }
    .into_string()
}

/// A page outside a session (sign-in, no access, errors): banner and content only.
pub fn bare(title: &str, main: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head { (head(title)) }
            body {
                (banner())
                header.cx-console-header {
                    div.grid-container.cx-console-header__inner {
                        p.cx-console-header__title { a href="/admin" { "cx-survey" } " staff console" }
                    }
                }
                main #main-content.grid-container.cx-console-main tabindex="-1" { (main) }
            }
        }
    }
    .into_string()
}

/// The hidden CSRF field every console form carries.
pub fn csrf(staff: &Staff) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(staff.csrf); }
}

/// A success message after a change (`?ok=` words are fixed strings, never echoed input).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(t) = text {
            div.usa-alert.usa-alert--success.usa-alert--slim role="status" {
                div.usa-alert__body { p.usa-alert__text { (t) } }
            }
        }
    }
}

/// The error summary at the top of a form with problems, each linking to its field.
pub fn error_summary(errors: &[(String, String)]) -> Markup {
    html! {
        @if !errors.is_empty() {
            div.usa-alert.usa-alert--error role="alert" aria-labelledby="error-summary-heading" tabindex="-1" {
                div.usa-alert__body {
                    h2.usa-alert__heading #error-summary-heading { "There is a problem" }
                    ul.usa-list {
                        @for (field, msg) in errors {
                            li { a.usa-link href={ "#" (field) } { (msg) } }
                        }
                    }
                }
            }
        }
    }
}

/// The message of the first error for `field`, if any.
pub fn error_for<'a>(errors: &'a [(String, String)], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, m)| m.as_str())
}

/// A date-time as staff read it: `2026-11-30 14:05 UTC`.
pub fn when(t: chrono::NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}
