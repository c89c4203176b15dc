//! The console's page frame (banner, header with the agency switcher and sign-out, side
//! navigation), its error pages, and small pieces every page uses. USWDS markup, no inline
//! script or style: the public pages' headers apply (`pages::hosted::html`).

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup, DOCTYPE};

use super::plain::{banner, head};
pub use super::plain::{bare, see_other, ConsoleError};
use super::session::Staff;
use crate::domain::Role;
use crate::pages::hosted;

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

/// The hidden CSRF field every console form carries.
pub fn csrf(staff: &Staff) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(staff.csrf); }
}

/// The fixed message for the request's `?ok=` word, looked up in `messages` (word, message):
/// the word picks a message, its text is never shown.
pub fn ok_message(
    req: &actix_web::HttpRequest,
    messages: &[(&str, &'static str)],
) -> Option<&'static str> {
    let word = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "ok")
        .map(|(_, v)| v.into_owned())?;
    messages.iter().find(|(w, _)| *w == word).map(|(_, m)| *m)
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
