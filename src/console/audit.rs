//! `GET /admin/audit` (admins only): the agency's audit log, newest first, 50 lines a page,
//! paged by keyset (`?before=ID`) so the last page costs what the first does.

use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, Markup};

use super::session::Staff;
use super::ui::{self, ConsoleError};
use crate::app::AppState;
use crate::domain::Role;
use crate::staff::{self, AuditLine};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/audit").route(web::get().to(show)));
}

const PER_PAGE: i64 = 50;

/// `?before=ID`: lines older than line `ID`. Anything else there is a bad request.
fn before(req: &HttpRequest) -> Result<Option<i64>, ConsoleError> {
    let q = web::Query::<std::collections::HashMap<String, String>>::from_query(req.query_string())
        .map_err(|_| ConsoleError::BadRequest)?;
    match q.get("before") {
        None => Ok(None),
        Some(b) => b
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ConsoleError::BadRequest),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(Role::Admin)?;
    let before = before(&req)?;
    let agency = staff.agency_id.clone();
    // One line more than shown says whether there is a next page.
    let mut lines = state
        .db(move |c| Ok(staff::audit_page(c, &agency, before, PER_PAGE + 1)?))
        .await?;
    let more = lines.len() as i64 > PER_PAGE;
    lines.truncate(PER_PAGE as usize);
    let next = more.then(|| lines.last().map(|l| l.id)).flatten();
    let title = if before.is_some() {
        "Audit log (older entries)"
    } else {
        "Audit log"
    };
    Ok(ui::page(
        &staff,
        "/admin/audit",
        title,
        audit_page(&staff, &lines, before.is_some(), next),
    ))
}

fn audit_page(staff: &Staff, lines: &[AuditLine], older: bool, next: Option<i64>) -> Markup {
    html! {
        h1 { "Audit log" }
        p {
            "Changes to " (staff.agency_name) " made in the console (by the person's email) or "
            "with the " code { "cx-survey users" } " command (" code { "cli" } "), newest first."
        }
        @if lines.is_empty() {
            p { @if older { "There are no older entries." } @else { "Nothing has been changed yet." } }
        } @else {
            div.cx-table-scroll tabindex="0" role="region" aria-label="Audit log entries" {
                table.usa-table.usa-table--borderless {
                    caption { "Audit log, newest first" }
                    thead {
                        tr {
                            th scope="col" { "When" }
                            th scope="col" { "Who" }
                            th scope="col" { "Action" }
                            th scope="col" { "Object" }
                            th scope="col" { "Detail" }
                        }
                    }
                    tbody {
                        @for l in lines {
                            tr {
                                td { (ui::when(l.at)) }
                                td { (l.actor) }
                                td { (l.action) }
                                td.cx-break { (l.object) }
                                td.cx-break { (l.detail) }
                            }
                        }
                    }
                }
            }
        }
        @if older || next.is_some() {
            nav.cx-actions aria-label="Audit log pages" {
                @if older {
                    a.usa-link href="/admin/audit" { "Newest entries" }
                }
                @if let Some(id) = next {
                    a.usa-link rel="next" href={ "/admin/audit?before=" (id) } { "Older entries" }
                }
            }
        }
    }
}
