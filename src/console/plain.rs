//! What the console shows outside a session, and how a refused request looks: the error
//! type every console handler returns, the bare page frame (sign-in, errors) and redirects.
//! Below `session` and `ui`, so both can use it.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use maud::{html, Markup, DOCTYPE};

use crate::assets::assets;
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

pub(super) fn head(title: &str) -> Markup {
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

pub(super) fn banner() -> Markup {
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
