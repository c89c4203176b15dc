//! `/admin/invitations`: the agency's outbox by state, and a CSV upload that queues email
//! invitations for one deployment. The upload goes through the admin API's own batch
//! (`admin::invitations::queue_for`), so the console queues, skips and refuses exactly what the
//! API does; the result lists each row's outcome by its line.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use diesel::dsl::count_star;
use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Staff};
use super::ui::{self, ConsoleError};
use super::upload::{self, Errors};
use crate::admin::invitations::queue_for;
use crate::app::AppState;
use crate::db::schema::invitations;
use crate::domain::Role;
use crate::email::{self, queue::Summary};
use crate::error::{ApiError, FieldError};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(
        resource("/invitations")
            .route(get().to(show))
            .route(post().to(upload_csv)),
    );
}

const PATH: &str = "/admin/invitations";

/// The outbox's states: name as stored (or `retrying`: queued after a failed try) and meaning.
const STATES: [(&str, &str); 6] = [
    ("queued", "Waiting to be sent for the first time"),
    (
        "retrying",
        "Waiting to be sent again after a temporary failure",
    ),
    ("sending", "Being sent now"),
    ("sent", "Delivered to the recipient's mail server"),
    (
        "failed",
        "Given up: the address refused it or it failed too often",
    ),
    ("answered", "The recipient answered the survey"),
];

/// The agency's invitations by state, in `STATES` order.
async fn outbox_counts(state: &AppState, staff: &Staff) -> Result<Vec<i64>, ConsoleError> {
    use invitations::dsl as i;
    let agency = staff.agency_id.clone();
    let (by_status, retrying) = state
        .db(move |c| {
            let by_status: Vec<(String, i64)> = i::invitations
                .filter(i::agency_id.eq(&agency))
                .group_by(i::status)
                .select((i::status, count_star()))
                .load(c)?;
            let retrying: i64 = i::invitations
                .filter(i::agency_id.eq(&agency))
                .filter(i::status.eq("queued"))
                .filter(i::attempts.gt(0))
                .count()
                .get_result(c)?;
            Ok((by_status, retrying))
        })
        .await?;
    let stored = |s: &str| by_status.iter().find(|r| r.0 == s).map_or(0, |r| r.1);
    Ok(STATES
        .iter()
        .map(|(s, _)| match *s {
            "queued" => stored("queued") - retrying,
            "retrying" => retrying,
            other => stored(other),
        })
        .collect())
}

/// What the upload form shows again after a refused upload.
#[derive(Default)]
struct Refused {
    errors: Errors,
    /// The file's problems by line (nothing was queued).
    problems: Vec<FieldError>,
    deployment: Option<String>,
    /// A problem of the service rather than the form (no `CX_SECRET`).
    service_problem: Option<&'static str>,
}

pub async fn show(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    let main = page(&state, &staff, &Refused::default()).await?;
    Ok(ui::page(&staff, PATH, "Invitations", main))
}

async fn page(state: &AppState, staff: &Staff, r: &Refused) -> Result<Markup, ConsoleError> {
    let counts = outbox_counts(state, staff).await?;
    let form = if staff.may(Role::Manager) {
        Some(upload_form(state, staff, r).await?)
    } else {
        None
    };
    Ok(html! {
        h1 { "Invitations" }
        @if let Some(p) = r.service_problem {
            div.usa-alert.usa-alert--error role="alert" {
                div.usa-alert__body {
                    h2.usa-alert__heading { "Invitations cannot be queued" }
                    p.usa-alert__text { (p) }
                }
            }
        }
        (ui::error_summary(&r.errors))
        @if !r.problems.is_empty() {
            p { "Nothing was queued. Fix these rows and upload the whole file again." }
            (upload::problems_table("Problems in the file, by line", &r.problems))
        }
        h2 { "Outbox" }
        @if state.settings.smtp_url.is_none() {
            p.cx-muted { "No mail server is configured for this service: invitations wait in the queue until one is." }
        }
        table.usa-table {
            caption { "Your agency's invitations by state" }
            thead { tr { th scope="col" { "State" } th scope="col" { "Invitations" } th scope="col" { "Meaning" } } }
            tbody {
                @for ((name, meaning), n) in STATES.iter().zip(&counts) {
                    tr { th scope="row" { (name) } td { (n) } td { (meaning) } }
                }
            }
        }
        @if let Some(f) = form { (f) }
    })
}

async fn upload_form(state: &AppState, staff: &Staff, r: &Refused) -> Result<Markup, ConsoleError> {
    let options = upload::deployment_options(state, staff).await?;
    let hint = format!(
        "The first line must be exactly: {}. transaction_date (YYYY-MM-DD) and locale may be empty.",
        email::CSV_COLUMNS.join(",")
    );
    Ok(html! {
        h2 { "Upload invitations" }
        p { "Each row invites one person to answer about one transaction. Rows whose recipient opted out, was invited recently, or whose transaction was already invited are skipped." }
        form.usa-form.usa-form--large method="post" action=(PATH) enctype="multipart/form-data" {
            (ui::csrf(staff))
            (upload::deployment_select(&r.errors, &options, r.deployment.as_deref()))
            (upload::csv_input(&r.errors, &hint))
            button.usa-button type="submit" { "Upload and queue" }
        }
    })
}

pub async fn upload_csv(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    change.staff.require(Role::Manager)?;
    let staff = &change.staff;
    let (raw_id, file) = match upload::read_upload(&change) {
        Ok(x) => x,
        Err(errors) => {
            return refused(
                &state,
                staff,
                Refused {
                    errors,
                    ..Default::default()
                },
            )
            .await
        }
    };
    let id = crate::paths::deployment_id(&raw_id)?;
    let with_choice = |mut r: Refused| {
        r.deployment = Some(raw_id.clone());
        r
    };
    let rows = match email::parse_csv(&file) {
        Ok(rows) => rows,
        Err(e) => return refused(&state, staff, with_choice(why(e)?)).await,
    };
    let all: Vec<(u64, String)> = rows
        .iter()
        .map(|(l, r)| (*l, r.transaction_id.trim().to_string()))
        .collect();
    let (st, agency, actor) = (
        state.clone(),
        staff.agency_id.clone(),
        staff.actor().to_string(),
    );
    let queued = state
        .db(move |c| {
            c.transaction(|c| {
                let s = queue_for(c, &st, &agency, &id, rows)?;
                let detail = format!(
                    "{} rows: {} queued, {} skipped, {} invalid",
                    s.queued + s.skipped.len() + s.rejected.len(),
                    s.queued,
                    s.skipped.len(),
                    s.rejected.len()
                );
                crate::staff::record(
                    c,
                    &agency,
                    &actor,
                    "invitations.upload",
                    id.as_str(),
                    &detail,
                )?;
                Ok::<_, ApiError>(s)
            })
        })
        .await;
    match queued {
        Ok(summary) => Ok(result_page(staff, &summary, &all)),
        Err(e) => refused(&state, staff, with_choice(why(e)?)).await,
    }
}

/// Why an upload was refused, as the form shows it; other errors answer with their own page.
fn why(e: ApiError) -> Result<Refused, ConsoleError> {
    let mut r = Refused::default();
    match e {
        ApiError::Invalid(list) => (r.errors, r.problems) = upload::file_problems(list),
        ApiError::Gone(_) => r.errors.push((
            "deployment".into(),
            "This deployment is closed: choose an open one".into(),
        )),
        ApiError::Conflict { field, .. } if field == "CX_SECRET" => {
            r.service_problem = Some(
                "This service has no CX_SECRET set, the key that protects recipients' addresses. \
                 Nothing was queued. Ask your platform team to set it; then upload the file again.",
            )
        }
        other => return Err(other.into()),
    }
    Ok(r)
}

async fn refused(
    state: &AppState,
    staff: &Staff,
    r: Refused,
) -> Result<HttpResponse, ConsoleError> {
    let status = if r.service_problem.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let main = page(state, staff, &r).await?;
    Ok(ui::page_with(
        status,
        staff,
        PATH,
        "Invitations: upload refused",
        main,
    ))
}

/// Above this many rows the result lists only the rows that were not queued.
const LIST_ALL: usize = 1000;

/// Each row's outcome by line: queued, skipped (with why) or invalid (with the problem).
fn result_page(staff: &Staff, s: &Summary, rows: &[(u64, String)]) -> HttpResponse {
    let mut lines: Vec<(u64, &str, &str, &str)> = vec![];
    for o in &s.skipped {
        lines.push((o.line, &o.transaction_id, "Skipped", &o.reason));
    }
    for o in &s.rejected {
        lines.push((o.line, &o.transaction_id, "Invalid", &o.reason));
    }
    let all = rows.len() <= LIST_ALL;
    if all {
        let not_queued: std::collections::HashSet<u64> = lines.iter().map(|l| l.0).collect();
        for (line, tx) in rows.iter().filter(|r| !not_queued.contains(&r.0)) {
            lines.push((*line, tx, "Queued", ""));
        }
    }
    lines.sort_by_key(|l| l.0);
    let main = html! {
        h1 { "Invitations uploaded" }
        (ui::notice(Some("The file was read. Queued invitations are sent by the outbox.")))
        ul.usa-list {
            li { (s.queued) " queued" }
            li { (s.skipped.len()) " skipped" }
            li { (s.rejected.len()) " invalid" }
        }
        @if !all { p { "The file has more than " (LIST_ALL) " rows: only the rows that were not queued are listed." } }
        @if !lines.is_empty() {
            div.cx-table-scroll tabindex="0" role="region" aria-label="Outcome of each row" {
                table.usa-table.usa-table--borderless {
                    caption { "Outcome of each row (line 1 is the header)" }
                    thead { tr { th scope="col" { "Line" } th scope="col" { "Transaction ID" } th scope="col" { "Outcome" } th scope="col" { "Reason" } } }
                    tbody {
                        @for (line, tx, outcome, reason) in &lines {
                            tr { td { (line) } td { (tx) } td { (outcome) } td { (reason) } }
                        }
                    }
                }
            }
        }
        p { a.usa-link href=(PATH) { "Back to invitations" } }
    };
    ui::page(staff, PATH, "Invitations: upload result", main)
}
