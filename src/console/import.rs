//! `/admin/import`: responses collected on paper or by phone, uploaded as a CSV for one
//! deployment. All or nothing, through the admin API's own checks and store
//! (`admin::import`): one bad row refuses the file, and every problem is listed by line.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use diesel::Connection;
use maud::{html, Markup};

use super::session::{Change, Staff};
use super::ui::{self, ConsoleError};
use super::upload::{self, Errors};
use crate::admin::import::{checked_rows, owned_deployment, store, MAX_ERRORS};
use crate::app::AppState;
use crate::domain::Role;
use crate::error::{ApiError, FieldError};
use crate::report::upload::UPLOAD_HEADER;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(
        resource("/import")
            .route(get().to(show))
            .route(post().to(upload_csv)),
    );
}

const PATH: &str = "/admin/import";

/// The header line the file must start with (the columns may come in any order).
fn expected_header() -> String {
    let mut cols: Vec<&str> = UPLOAD_HEADER.to_vec();
    cols.push("submitted_at");
    cols.join(",")
}

pub async fn show(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    let main = page(&state, &staff, &Errors::new(), &[], None).await?;
    Ok(ui::page(&staff, PATH, "Paper and phone import", main))
}

async fn page(
    state: &AppState,
    staff: &Staff,
    errors: &Errors,
    problems: &[FieldError],
    chosen: Option<&str>,
) -> Result<Markup, ConsoleError> {
    let options = if staff.may(Role::Manager) {
        Some(upload::deployment_options(state, staff).await?)
    } else {
        None
    };
    Ok(html! {
        h1 { "Paper and phone import" }
        (ui::error_summary(errors))
        @if !problems.is_empty() {
            p { "Nothing was stored. Fix every row listed and upload the whole file again." }
            @if problems.len() >= MAX_ERRORS {
                p { "Checking stopped after " (MAX_ERRORS) " problems: the rows after the last one listed were not checked yet." }
            }
            (upload::problems_table("Problems in the file, by line", problems))
        }
        p { "Upload responses collected on paper, by phone or in person, in the OMB response upload format plus the time each was answered. The file is stored whole or not at all." }
        h2 { "The CSV file" }
        p { "The first line names the columns:" }
        pre.cx-header-line { code { (expected_header()) } }
        ul.usa-list {
            li { code { "external_id" } ": your own id of the response, once per deployment (a second upload of the same id is refused)." }
            li { code { "submitted_at" } ": when it was answered, e.g. " code { "2026-01-15T14:30:00-05:00" } "; within the instrument's PRA clearance, not in the future." }
            li { "Driver columns: " code { "1" } ", " code { "0" } " or " code { "null" } "; question_1 is the trust answer." }
        }
        @if let Some(options) = options {
            h2 { "Upload responses" }
            form.usa-form.usa-form--large method="post" action=(PATH) enctype="multipart/form-data" {
                (ui::csrf(staff))
                (upload::deployment_select(errors, &options, chosen))
                (upload::csv_input(errors, "A CSV file with the header above, up to 16 MB."))
                button.usa-button type="submit" { "Check and store" }
            }
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
        Err(errors) => return refused(&state, staff, errors, vec![], None).await,
    };
    let d = owned_deployment(&state, &staff.agency_id, &raw_id).await?;
    let rows = match checked_rows(&state, &d, &file) {
        Ok(rows) => rows,
        Err(e) => return why(&state, staff, e, &raw_id).await,
    };
    let count = rows.len();
    let (agency, actor, id) = (
        staff.agency_id.clone(),
        staff.actor().to_string(),
        d.id.clone(),
    );
    let stored = state
        .db(move |c| {
            c.transaction(|c| {
                store(c, rows)?;
                let detail = format!("{count} responses");
                crate::staff::record(c, &agency, &actor, "responses.import", &id, &detail)?;
                Ok::<_, ApiError>(())
            })
        })
        .await;
    if let Err(e) = stored {
        return why(&state, staff, e, &raw_id).await;
    }
    let main = html! {
        h1 { "Responses imported" }
        (ui::notice(Some("The file was stored.")))
        p { (count) " responses were stored for this deployment." }
        p { a.usa-link href={ "/admin/responses?deployment=" (d.id) } { "See the deployment's responses" } }
        p { a.usa-link href=(PATH) { "Import another file" } }
    };
    Ok(ui::page(
        staff,
        PATH,
        "Paper and phone import: stored",
        main,
    ))
}

/// A refused file's page (`422`); errors other than the file's answer with their own page.
async fn why(
    state: &AppState,
    staff: &Staff,
    e: ApiError,
    chosen: &str,
) -> Result<HttpResponse, ConsoleError> {
    let ApiError::Invalid(list) = e else {
        return Err(e.into());
    };
    let (errors, problems) = upload::file_problems(list);
    refused(state, staff, errors, problems, Some(chosen)).await
}

async fn refused(
    state: &AppState,
    staff: &Staff,
    errors: Errors,
    problems: Vec<FieldError>,
    chosen: Option<&str>,
) -> Result<HttpResponse, ConsoleError> {
    let main = page(state, staff, &errors, &problems, chosen).await?;
    Ok(ui::page_with(
        StatusCode::UNPROCESSABLE_ENTITY,
        staff,
        PATH,
        "Paper and phone import: file refused",
        main,
    ))
}
