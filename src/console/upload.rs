//! Pieces the file pages share (invitations, paper and phone import): the deployment picker,
//! the file control, a labelled form group with its error, and the table of problems by line.

use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Staff};
use super::ui::{self, ConsoleError};
use crate::app::AppState;
use crate::db::schema::{deployments, services};
use crate::domain::DeploymentStatus;
use crate::error::FieldError;

/// A form's problems: (control id, message).
pub type Errors = Vec<(String, String)>;

/// The agency's deployments for a picker: (id, label), open ones first, by service.
pub async fn deployment_options(
    state: &AppState,
    staff: &Staff,
) -> Result<Vec<(String, String)>, ConsoleError> {
    let agency = staff.agency_id.clone();
    let mut rows: Vec<(String, String, String, String, DeploymentStatus)> = state
        .db(move |c| {
            Ok(deployments::table
                .inner_join(services::table)
                .filter(deployments::agency_id.eq(&agency))
                .order((services::name, deployments::created_at, deployments::id))
                .select((
                    deployments::id,
                    services::name,
                    deployments::channel,
                    deployments::transaction_point,
                    deployments::status,
                ))
                .load(c)?)
        })
        .await?;
    rows.sort_by_key(|r| r.4 != DeploymentStatus::Open);
    Ok(rows
        .into_iter()
        .map(|(id, service, channel, point, status)| {
            let closed = if status == DeploymentStatus::Open {
                ""
            } else {
                " (closed)"
            };
            let label = format!("{service} – {channel} – {point}{closed}");
            (id, label)
        })
        .collect())
}

/// The ids that describe a control: its hint and its error message, if any.
fn described(errors: &Errors, field: &str, hint: bool) -> Option<String> {
    let mut ids = vec![];
    if hint {
        ids.push(format!("{field}-hint"));
    }
    if ui::error_for(errors, field).is_some() {
        ids.push(format!("{field}-error"));
    }
    (!ids.is_empty()).then(|| ids.join(" "))
}

/// A form group: the visible label, the hint, the error message and the control (which gets
/// `aria-describedby` from `described`).
pub fn group(
    errors: &Errors,
    field: &str,
    label: &str,
    hint: Option<&str>,
    control: impl FnOnce(Option<String>) -> Markup,
) -> Markup {
    let err = ui::error_for(errors, field);
    html! {
        div.usa-form-group.usa-form-group--error[err.is_some()] {
            label.usa-label.usa-label--error[err.is_some()] for=(field) { (label) }
            @if let Some(h) = hint { span.usa-hint id={ (field) "-hint" } { (h) } }
            @if let Some(m) = err { span.usa-error-message id={ (field) "-error" } { (m) } }
            (control(described(errors, field, hint.is_some())))
        }
    }
}

/// The deployment picker (`name="deployment"`).
pub fn deployment_select(
    errors: &Errors,
    options: &[(String, String)],
    selected: Option<&str>,
) -> Markup {
    group(errors, "deployment", "Deployment", None, |desc| {
        html! {
            select.usa-select #deployment name="deployment" aria-describedby=[desc] required {
                option value="" { "- Select a deployment -" }
                @for (id, label) in options {
                    option value=(id) selected[selected == Some(id.as_str())] { (label) }
                }
            }
        }
    })
}

/// The CSV file control (`name="csv"`).
pub fn csv_input(errors: &Errors, hint: &str) -> Markup {
    group(errors, "csv", "CSV file", Some(hint), |desc| {
        html! {
            input.usa-file-input #csv type="file" name="csv" accept=".csv,text/csv"
                aria-describedby=[desc] required;
        }
    })
}

/// The upload's deployment (its id as sent) and file, or the form's problems. A missing
/// choice or file is the person's to fix (`422`), not a broken form.
pub fn read_upload(change: &Change) -> Result<(String, Vec<u8>), Errors> {
    let deployment = change.form.text("deployment");
    let file = change.form.file("csv").unwrap_or_default();
    let mut errors = Errors::new();
    if deployment.is_empty() {
        errors.push(("deployment".into(), "Select a deployment".into()));
    }
    if file.is_empty() {
        errors.push(("csv".into(), "Choose a CSV file to upload".into()));
    }
    if errors.is_empty() {
        Ok((deployment, file.to_vec()))
    } else {
        Err(errors)
    }
}

/// A problem's text without the `line N: ` the API puts in front (the table has a column for it).
fn problem_text(e: &FieldError) -> &str {
    match e.line {
        Some(n) => e
            .detail
            .strip_prefix(&format!("line {n}: "))
            .unwrap_or(&e.detail),
        None => &e.detail,
    }
}

/// Every problem of a file: line (where the row starts; the header is line 1), column, problem.
pub fn problems_table(caption: &str, problems: &[FieldError]) -> Markup {
    html! {
        div.cx-table-scroll tabindex="0" role="region" aria-label=(caption) {
            table.usa-table.usa-table--borderless {
                caption { (caption) }
                thead { tr {
                    th scope="col" { "Line" }
                    th scope="col" { "Column" }
                    th scope="col" { "Problem" }
                } }
                tbody {
                    @for e in problems {
                        tr {
                            td { (e.line.map(|l| l.to_string()).unwrap_or_else(|| "–".into())) }
                            td { code { (e.field) } }
                            td { (problem_text(e)) }
                        }
                    }
                }
            }
        }
    }
}

/// A file's problems split as the form shows them: those of a line go to the table; the others
/// (no rows, not a CSV file) to the file control. The summary says how many lines are wrong.
pub fn file_problems(list: Vec<FieldError>) -> (Errors, Vec<FieldError>) {
    let mut errors = Errors::new();
    let mut lined = vec![];
    for f in list {
        if f.line.is_some() {
            lined.push(f);
        } else {
            errors.push((
                "csv".into(),
                format!("Problem with the CSV file: {}", f.detail),
            ));
        }
    }
    if !lined.is_empty() {
        let n = lined.len();
        let s = if n == 1 { "" } else { "s" };
        errors.push((
            "csv".into(),
            format!("The file has {n} problem{s}, listed below by line"),
        ));
    }
    (errors, lined)
}
