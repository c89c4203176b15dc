//! `/admin/responses`: the agency's responses by fiscal quarter, deployment, status and words in
//! the comment, 50 a page, newest first (keyset on `(submitted_at, id)`, never an offset); a
//! manager selects many and triages them with a reason; anyone downloads the filtered set.
//!
//! The filters live in the query string, so every page, the next-page link, the downloads and
//! the way back after a triage are plain links. Queries: `admin::response_query`.

use std::collections::HashSet;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::DateTime;
use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Staff};
use super::ui::{self, ConsoleError};
use crate::admin::response_query::{self, Filter, Key, Order};
use crate::admin::responses::{lock_response, owned_status, ResponseRow};
use crate::app::AppState;
use crate::db::schema::{deployments, response_audit, responses};
use crate::db::{self, AnyConnection};
use crate::domain::{AgencyId, ResponseStatus, Role};
use crate::error::ApiError;
use crate::fiscal::FiscalQuarter;
use crate::staff;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(resource("/responses").route(get().to(show)))
        .service(resource("/responses/export").route(get().to(export)))
        .service(resource("/responses/triage").route(post().to(triage)));
}

const PATH: &str = "/admin/responses";
/// Rows a page shows.
const PAGE: i64 = 50;
/// Responses one triage may change (two pages' worth and more, far below the form limit).
const MAX_TRIAGE: usize = 500;
const MAX_WORDS: usize = 10;
const MAX_WORDS_CHARS: usize = 200;
const MAX_REASON_CHARS: usize = 500;

type Errors = Vec<(String, String)>;
/// The fields of the filter form (and `results`, for a damaged page link or format).
const FILTER_FIELDS: [&str; 5] = ["fiscal_year", "quarter", "status", "words", "results"];

/// The filters of one page, as parsed from its query string.
#[derive(Clone, Debug)]
struct View {
    fq: FiscalQuarter,
    deployment: Option<String>,
    status: Option<ResponseStatus>,
    words: String,
    before: Option<Key>,
}

fn err(errors: &mut Errors, field: &str, msg: &str) {
    errors.push((field.to_string(), msg.to_string()));
}

/// The value of `name` in the pairs (the last one wins, as a repeated field replaces).
fn value<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.trim())
}

/// `micros_id`: the key of the last row shown.
fn cursor(k: &Key) -> String {
    format!("{}_{}", k.0.and_utc().timestamp_micros(), k.1)
}

fn parse_cursor(raw: &str) -> Option<Key> {
    let (micros, id) = raw.split_once('_')?;
    let ts = DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    let ok = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_graphic());
    ok.then(|| (ts, id.to_string()))
}

fn parse_quarter(
    state: &AppState,
    pairs: &[(String, String)],
    errors: &mut Errors,
) -> FiscalQuarter {
    let current = FiscalQuarter::containing(chrono::Utc::now(), state.settings.report_tz);
    let year = match value(pairs, "fiscal_year").filter(|v| !v.is_empty()) {
        None => current.year,
        Some(v) => v.parse().unwrap_or(0),
    };
    let quarter = match value(pairs, "quarter").filter(|v| !v.is_empty()) {
        None => current.quarter,
        Some(v) => v.parse().unwrap_or(0),
    };
    match FiscalQuarter::new(year, quarter) {
        Ok(fq) => fq,
        Err(_) if !(1..=4).contains(&quarter) => {
            err(errors, "quarter", "Choose a quarter from 1 to 4");
            current
        }
        Err(_) => {
            err(
                errors,
                "fiscal_year",
                "Choose a fiscal year from 2000 to 2100",
            );
            current
        }
    }
}

fn parse_view(state: &AppState, pairs: &[(String, String)]) -> (View, Errors) {
    let mut errors = vec![];
    let fq = parse_quarter(state, pairs, &mut errors);
    let status = match value(pairs, "status").unwrap_or("") {
        "" | "any" => None,
        s => ResponseStatus::parse(s).or_else(|| {
            err(&mut errors, "status", "Choose a status from the list");
            None
        }),
    };
    let words = value(pairs, "words").unwrap_or("").to_string();
    if words.chars().count() > MAX_WORDS_CHARS || words.split_whitespace().count() > MAX_WORDS {
        err(
            &mut errors,
            "words",
            "Search for at most 10 words (200 characters)",
        );
    }
    let before = value(pairs, "before")
        .filter(|v| !v.is_empty())
        .and_then(|v| {
            parse_cursor(v).or_else(|| {
                err(
                    &mut errors,
                    "results",
                    "The page link was damaged; start from the first page",
                );
                None
            })
        });
    let deployment = value(pairs, "deployment")
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    let view = View {
        fq,
        deployment,
        status,
        words,
        before,
    };
    (view, errors)
}

/// The query string of `view` on the page after `before` (none: the first page).
fn query(view: &View, before: Option<&Key>) -> String {
    let mut pairs: Vec<(&str, String)> = vec![
        ("fiscal_year", view.fq.year.to_string()),
        ("quarter", view.fq.quarter.to_string()),
        (
            "status",
            view.status.map_or("any", |s| s.as_str()).to_string(),
        ),
    ];
    if let Some(d) = &view.deployment {
        pairs.push(("deployment", d.clone()));
    }
    if !view.words.is_empty() {
        pairs.push(("words", view.words.clone()));
    }
    if let Some(k) = before {
        pairs.push(("before", cursor(k)));
    }
    serde_urlencoded::to_string(pairs).unwrap_or_default()
}

fn filter(state: &AppState, agency: &AgencyId, view: &View) -> Filter {
    let (from, to) = view.fq.bounds(state.settings.report_tz);
    Filter {
        agency_id: agency.clone(),
        deployment: view.deployment.clone(),
        from: Some(from.naive_utc()),
        to: Some(to.naive_utc()),
        status: view.status,
        words: view.words.split_whitespace().map(str::to_string).collect(),
    }
}

/// The agency's deployments for the picker: id and transaction point.
fn deployment_choices(
    c: &mut AnyConnection,
    agency: &AgencyId,
) -> QueryResult<Vec<(String, String)>> {
    deployments::table
        .filter(deployments::agency_id.eq(agency))
        .order((deployments::transaction_point, deployments::id))
        .select((deployments::id, deployments::transaction_point))
        .load(c)
}

fn pairs_of(raw: &str) -> Result<Vec<(String, String)>, ConsoleError> {
    serde_urlencoded::from_str(raw).map_err(|_| ConsoleError::BadRequest)
}

/// What a page shows besides its filters.
#[derive(Default)]
struct Extras {
    notice: Option<&'static str>,
    errors: Errors,
    selected: HashSet<String>,
    to_status: String,
    reason: String,
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let pairs = pairs_of(req.query_string())?;
    let (view, errors) = parse_view(&state, &pairs);
    let notice = match value(&pairs, "ok") {
        Some("triaged") => Some("The selected responses were triaged."),
        _ => None,
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let extras = Extras {
        notice,
        errors,
        ..Extras::default()
    };
    render(&state, &staff, view, extras, status).await
}

/// The page: filters, downloads, the table (inside the triage form for managers), next link.
async fn render(
    state: &web::Data<AppState>,
    staff: &Staff,
    view: View,
    extras: Extras,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let agency = staff.agency_id.clone();
    // A page with filter errors lists nothing: what it would list is not what was asked.
    let bad_filter = extras
        .errors
        .iter()
        .any(|(field, _)| FILTER_FIELDS.contains(&field.as_str()));
    let f = (!bad_filter).then(|| filter(state, &agency, &view));
    let after = view.before.clone();
    let named = view.deployment.clone();
    let (choices, rows) = state
        .db(move |c| {
            let choices = deployment_choices(c, &agency)?;
            if named.is_some_and(|d| !choices.iter().any(|(id, _)| *id == d)) {
                return Err(ApiError::NotFound("deployment"));
            }
            let rows = match f {
                Some(f) => {
                    response_query::page(c, &f, after.as_ref(), Order::NewestFirst, PAGE + 1)?
                }
                None => vec![],
            };
            Ok((choices, rows))
        })
        .await?;
    let main = html! {
        h1 { "Responses" }
        (ui::notice(extras.notice))
        (ui::error_summary(&extras.errors))
        (filters(&view, &choices, &extras.errors))
        (results(staff, &view, &rows, &extras))
    };
    Ok(ui::page_with(status, staff, PATH, "Responses", main))
}

fn field_error(errors: &Errors, field: &str) -> Markup {
    html! {
        @if let Some(m) = ui::error_for(errors, field) {
            span.usa-error-message id={ (field) "-error" } { (m) }
        }
    }
}

fn group_class(errors: &Errors, field: &str) -> &'static str {
    if ui::error_for(errors, field).is_some() {
        "usa-form-group usa-form-group--error"
    } else {
        "usa-form-group"
    }
}

fn described(errors: &Errors, field: &str) -> Option<String> {
    ui::error_for(errors, field).map(|_| format!("{field}-error"))
}

fn filters(view: &View, choices: &[(String, String)], errors: &Errors) -> Markup {
    let current = view.fq.year;
    let years: Vec<i32> = (current - 5..=current + 1).rev().collect();
    html! {
        form.usa-form.usa-form--large.cx-filters method="get" action=(PATH) {
            fieldset.usa-fieldset {
                legend.usa-legend { "Filter responses" }
                div class=(group_class(errors, "fiscal_year")) {
                    label.usa-label for="fiscal_year" { "Fiscal year" }
                    (field_error(errors, "fiscal_year"))
                    select.usa-select #fiscal_year name="fiscal_year" aria-describedby=[described(errors, "fiscal_year")] {
                        @for y in &years {
                            option value=(y) selected[*y == current] { "FY " (y) }
                        }
                    }
                }
                div class=(group_class(errors, "quarter")) {
                    label.usa-label for="quarter" { "Quarter" }
                    (field_error(errors, "quarter"))
                    select.usa-select #quarter name="quarter" aria-describedby=[described(errors, "quarter")] {
                        @for q in 1..=4u8 {
                            option value=(q) selected[q == view.fq.quarter] { "Q" (q) }
                        }
                    }
                }
                div.usa-form-group {
                    label.usa-label for="deployment" { "Deployment" }
                    select.usa-select #deployment name="deployment" {
                        option value="" { "All deployments" }
                        @for (id, tp) in choices {
                            option value=(id) selected[view.deployment.as_deref() == Some(id.as_str())] { (tp) }
                        }
                    }
                }
                (status_select(errors, "status", "Status", true, view.status.map(|s| s.as_str()).unwrap_or("any")))
                div class=(group_class(errors, "words")) {
                    label.usa-label for="words" { "Words in comments" }
                    span.usa-hint #words-hint { "Every word must appear; upper and lower case match." }
                    (field_error(errors, "words"))
                    input.usa-input #words name="words" type="text" value=(view.words)
                        aria-describedby={ "words-hint" @if let Some(d) = described(errors, "words") { " " (d) } };
                }
                button.usa-button type="submit" { "Apply filters" }
            }
        }
    }
}

fn status_select(errors: &Errors, id: &str, label: &str, any: bool, chosen: &str) -> Markup {
    html! {
        div class=(group_class(errors, id)) {
            label.usa-label for=(id) { (label) }
            (field_error(errors, id))
            select.usa-select id=(id) name=(id) aria-describedby=[described(errors, id)] {
                @if any {
                    option value="any" selected[chosen == "any"] { "Any status" }
                } @else {
                    option value="" selected[chosen.is_empty()] { "- Select -" }
                }
                @for s in ResponseStatus::ALL {
                    option value=(s.as_str()) selected[chosen == s.as_str()] { (s.as_str()) }
                }
            }
        }
    }
}

fn results(staff: &Staff, view: &View, rows: &[(ResponseRow, String)], extras: &Extras) -> Markup {
    let more = rows.len() as i64 > PAGE;
    let shown = &rows[..rows.len().min(PAGE as usize)];
    let next = more
        .then(|| shown.last().map(|(r, _)| (r.submitted_at, r.id.clone())))
        .flatten();
    let base = query(view, None);
    let triage = staff.may(Role::Manager);
    html! {
        h2 #results { "Results" }
        (field_error(&extras.errors, "results"))
        p.cx-actions {
            a.usa-link href={ (PATH) "/export?format=csv&" (base) } { "Download CSV" }
            a.usa-link href={ (PATH) "/export?format=json&" (base) } { "Download JSON" }
        }
        @if shown.is_empty() {
            p { "No responses match these filters." }
        } @else if triage {
            form method="post" action={ (PATH) "/triage" } {
                (ui::csrf(staff))
                input type="hidden" name="back" value=(query(view, view.before.as_ref()));
                (table(shown, Some(&extras.selected), &extras.errors))
                (triage_controls(extras))
            }
        } @else {
            (table(shown, None, &extras.errors))
        }
        nav.cx-actions aria-label="Pages" {
            @if view.before.is_some() {
                a.usa-link href={ (PATH) "?" (base) } { "First page" }
            }
            @if let Some(k) = next {
                a.usa-link rel="next" href={ (PATH) "?" (query(view, Some(&k))) } { "Next page" }
            }
        }
    }
}

fn table(
    rows: &[(ResponseRow, String)],
    selected: Option<&HashSet<String>>,
    errors: &Errors,
) -> Markup {
    html! {
        (field_error(errors, "responses-table"))
        div.cx-table-scroll #responses-table tabindex="0" role="region" aria-label="Responses, newest first" {
            table.usa-table.usa-table--borderless {
                caption { "Responses, newest first" }
                thead { tr {
                    @if selected.is_some() { th scope="col" { "Select" } }
                    th scope="col" { "Submitted" }
                    th scope="col" { "Deployment" }
                    th scope="col" { "Trust" }
                    th scope="col" { "Status" }
                    th scope="col" { "Channel" }
                    th scope="col" { "Comment" }
                } }
                tbody {
                    @for (i, (r, tp)) in rows.iter().enumerate() {
                        tr {
                            @if let Some(sel) = selected {
                                td { div.usa-checkbox {
                                    input.usa-checkbox__input type="checkbox" id={ "pick-" (i) } name="id" value=(r.id) checked[sel.contains(&r.id)];
                                    label.usa-checkbox__label for={ "pick-" (i) } {
                                        "Select" span.usa-sr-only { " the response of " (ui::when(r.submitted_at)) }
                                    }
                                } }
                            }
                            td { (ui::when(r.submitted_at)) }
                            td { (tp) }
                            td { @if let Some(t) = r.trust { (t) } @else { span.cx-muted { "no answer" } } }
                            td { (r.status.as_str()) }
                            td { (r.channel) }
                            td.cx-comment { (r.comment.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

fn triage_controls(extras: &Extras) -> Markup {
    let errors = &extras.errors;
    html! {
        fieldset.usa-fieldset.cx-triage {
            legend.usa-legend { "Triage the selected responses" }
            (status_select(errors, "to_status", "New status", false, &extras.to_status))
            div class=(group_class(errors, "reason")) {
                label.usa-label for="reason" { "Reason" }
                (field_error(errors, "reason"))
                input.usa-input #reason name="reason" type="text" required maxlength="500"
                    value=(extras.reason) aria-describedby=[described(errors, "reason")];
            }
            button.usa-button type="submit" { "Triage selected" }
        }
    }
}

/// `GET /admin/responses/export?format=csv|json&…filters`: the filtered set, oldest first.
pub async fn export(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let pairs = pairs_of(req.query_string())?;
    let (view, mut errors) = parse_view(&state, &pairs);
    let csv = match value(&pairs, "format").unwrap_or("csv") {
        "csv" => true,
        "json" => false,
        _ => {
            err(&mut errors, "results", "Download as CSV or JSON");
            true
        }
    };
    if !errors.is_empty() {
        let extras = Extras {
            errors,
            ..Extras::default()
        };
        return render(
            &state,
            &staff,
            view,
            extras,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    if let Some(d) = view.deployment.clone() {
        let agency = staff.agency_id.clone();
        state
            .db(move |c| {
                let ours = deployment_choices(c, &agency)?
                    .into_iter()
                    .any(|(id, _)| id == d);
                ours.then_some(()).ok_or(ApiError::NotFound("deployment"))
            })
            .await?;
    }
    let f = filter(&state, &staff.agency_id, &view);
    Ok(crate::admin::responses::stream(state, f, csv).await?)
}

/// A triage as submitted: the ids (deduplicated, in order), the new status, the reason.
struct Triage {
    ids: Vec<String>,
    status: Option<ResponseStatus>,
    reason: String,
}

fn parse_triage(change: &Change) -> (Triage, Errors) {
    let mut errors = vec![];
    let mut seen = HashSet::new();
    let ids: Vec<String> = change
        .form
        .all("id")
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty() && seen.insert(s.clone()))
        .collect();
    if ids.is_empty() {
        err(
            &mut errors,
            "responses-table",
            "Select at least one response",
        );
    } else if ids.len() > MAX_TRIAGE {
        err(
            &mut errors,
            "responses-table",
            "Select at most 500 responses at a time",
        );
    }
    let status = ResponseStatus::parse(&change.form.text("to_status"));
    if status.is_none() {
        err(&mut errors, "to_status", "Choose the new status");
    }
    let reason = change.form.text("reason");
    if reason.is_empty() {
        err(&mut errors, "reason", "Enter the reason for this triage");
    } else if reason.chars().count() > MAX_REASON_CHARS {
        err(&mut errors, "reason", "Keep the reason to 500 characters");
    }
    (
        Triage {
            ids,
            status,
            reason,
        },
        errors,
    )
}

/// `POST /admin/responses/triage` (manager): all the selected responses or none.
pub async fn triage(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    change.staff.require(Role::Manager)?;
    // Back to the same filtered page, rebuilt from parsed filters (never a raw echo).
    let back = pairs_of(&change.form.text("back")).unwrap_or_default();
    let (view, view_errors) = parse_view(&state, &back);
    let (t, errors) = parse_triage(&change);
    let staff = change.staff;
    let Some(status) = t.status.filter(|_| errors.is_empty()) else {
        let extras = Extras {
            errors,
            selected: t.ids.into_iter().collect(),
            to_status: change.form.text("to_status"),
            reason: t.reason,
            ..Extras::default()
        };
        let view = if view_errors.is_empty() {
            view
        } else {
            parse_view(&state, &[]).0
        };
        return render(
            &state,
            &staff,
            view,
            extras,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    let (agency, email) = (staff.agency_id.clone(), staff.email.clone());
    state
        .db(move |c| {
            c.transaction::<_, ApiError, _>(|c| {
                apply(c, &agency, &email, &t.ids, status, &t.reason)
            })
        })
        .await?;
    let view = if view_errors.is_empty() {
        view
    } else {
        parse_view(&state, &[]).0
    };
    let back = query(&view, view.before.as_ref());
    Ok(ui::see_other(&format!("{PATH}?{back}&ok=triaged")))
}

/// Sets each response's status (each locked first, as the API's triage does, so its audit row
/// names the status it replaced), then one audit-log line. Another agency's id: 404, and the
/// transaction rolls everything back.
fn apply(
    c: &mut AnyConnection,
    agency: &AgencyId,
    email: &str,
    ids: &[String],
    status: ResponseStatus,
    reason: &str,
) -> Result<(), ApiError> {
    let mut changed = 0;
    for id in ids {
        lock_response(c, agency, id)?;
        let prev = owned_status(c, agency, id)?.ok_or(ApiError::NotFound("response"))?;
        if prev == status {
            continue;
        }
        diesel::update(responses::table.find(id))
            .set(responses::status.eq(status))
            .execute(c)?;
        diesel::insert_into(response_audit::table)
            .values((
                response_audit::response_id.eq(id),
                response_audit::agency_id.eq(agency),
                response_audit::from_status.eq(prev),
                response_audit::to_status.eq(status),
                response_audit::changed_at.eq(db::now()),
                response_audit::staff_email.eq(email),
                response_audit::reason.eq(reason),
            ))
            .execute(c)?;
        changed += 1;
    }
    let detail = format!(
        "{changed} of {} set to {status}; reason: {reason}",
        ids.len()
    );
    staff::record(
        c,
        agency,
        email,
        "triage responses",
        &ids.join(" "),
        &detail,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDateTime;

    #[test]
    fn cursors_round_trip() {
        let ts =
            NaiveDateTime::parse_from_str("2026-11-30 14:05:06.123456", "%Y-%m-%d %H:%M:%S%.f")
                .unwrap();
        let k = (ts, "0b0e7f5c-3c1a-4f1e-9d55-5a1f2f0c1d2e".to_string());
        assert_eq!(parse_cursor(&cursor(&k)), Some(k));
        assert_eq!(parse_cursor("nope"), None);
        assert_eq!(parse_cursor("12_"), None);
        assert_eq!(parse_cursor("x_abc"), None);
    }
}
