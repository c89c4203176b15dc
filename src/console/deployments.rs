//! `/admin/deployments`: the agency's deployments. A list, a form to create one, each one's
//! page with its embed snippet, survey link and preview, a form for its origins and access, and
//! a close step. Creating and changing go through the admin API's own functions
//! (`admin::structure`), so the console accepts and refuses exactly what the API does.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Form, Staff};
use super::ui::{self, ConsoleError};
use crate::admin::page::{self, PageRequest};
use crate::admin::structure::{self, DeploymentPatch, NewDeployment};
use crate::app::AppState;
use crate::db::schema::{deployments, services};
use crate::db::AnyConnection;
use crate::domain::{Access, AgencyId, DeploymentStatus, Role};
use crate::error::{ApiError, FieldError};
use crate::registry::{self, Deployment};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    // `/new` before `/{id}`: resources match in the order they are registered.
    cfg.service(
        resource("/deployments")
            .route(get().to(list))
            .route(post().to(create)),
    )
    .service(resource("/deployments/new").route(get().to(new_form)))
    .service(
        resource("/deployments/{id}")
            .route(get().to(show))
            .route(post().to(change)),
    )
    .service(
        resource("/deployments/{id}/close")
            .route(get().to(confirm_close))
            .route(post().to(close)),
    );
}

/// A form's problems: (field, message), the field being its control's id.
type Errors<'a> = &'a [(String, String)];

/// The id of `field`'s error message, if it has one.
fn error_id(errors: Errors<'_>, field: &str) -> Option<String> {
    ui::error_for(errors, field).map(|_| format!("{field}-error"))
}

/// A labelled form control with its hint and error message; `control` gets the ids that
/// describe it (for `aria-describedby`).
fn group(
    errors: Errors<'_>,
    field: &str,
    label: &str,
    hint: Option<&str>,
    control: impl FnOnce(Option<&str>) -> Markup,
) -> Markup {
    let err = error_id(errors, field);
    let hint_id = hint.map(|_| format!("{field}-hint"));
    let described: Vec<&str> = [hint_id.as_deref(), err.as_deref()]
        .into_iter()
        .flatten()
        .collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div.usa-form-group.usa-form-group--error[err.is_some()] {
            label.usa-label.usa-label--error[err.is_some()] for=(field) { (label) }
            @if let (Some(id), Some(h)) = (&hint_id, hint) { span.usa-hint #(id) { (h) } }
            @if let (Some(id), Some(m)) = (&err, ui::error_for(errors, field)) {
                span.usa-error-message #(id) { (m) }
            }
            (control(described.as_deref()))
        }
    }
}

/// Rows per page of the list.
const PAGE: i64 = 50;
const SECTION: &str = "/admin/deployments";

fn detail_path(id: &str) -> String {
    format!("{SECTION}/{id}")
}

/// `in_person` → `In person`: OMB's channel names as staff read them.
pub fn channel_label(channel: &str) -> String {
    match channel {
        "sms_text_messages" => return "SMS text messages".into(),
        "self_service_kiosk" => return "Self-service kiosk".into(),
        "other_non_digital" => return "Other non-digital".into(),
        _ => {}
    }
    let words = channel.replace('_', " ");
    let mut chars = words.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => words,
    }
}

fn access_label(a: Access) -> &'static str {
    match a {
        Access::Open => "Open to anyone",
        Access::Invitation => "By invitation only",
    }
}

/// Whether the deployment takes answers now: open, its instrument loaded and within its PRA
/// clearance. The reason it does not, otherwise.
pub fn collecting(state: &AppState, d: &Deployment) -> Result<(), &'static str> {
    if d.status == DeploymentStatus::Closed {
        return Err("Closed");
    }
    let Some(ins) = state.instrument(&d.instrument_id) else {
        return Err("Open, but its instrument is not loaded");
    };
    let tz = state.settings.report_tz;
    if crate::survey::pra::is_expired(ins.pra.expiration_date, tz, chrono::Utc::now()) {
        return Err("Open, but its PRA clearance expired");
    }
    Ok(())
}

fn status_label(state: &AppState, d: &Deployment) -> &'static str {
    collecting(state, d).err().unwrap_or("Open, collecting")
}

/// The `?ok=` word of a redirect after a change, as a fixed message.
fn notice_for(req: &HttpRequest) -> Option<&'static str> {
    ui::ok_message(
        req,
        &[
            (
                "created",
                "The deployment was created. Copy its embed code or survey link below.",
            ),
            ("changed", "Your changes were saved."),
            (
                "closed",
                "The deployment was closed: it no longer takes answers.",
            ),
        ],
    )
}

/// Service slug → name for the agency (the list shows names).
fn service_names(
    c: &mut AnyConnection,
    agency: &AgencyId,
) -> QueryResult<std::collections::HashMap<String, String>> {
    Ok(services::table
        .filter(services::agency_id.eq(agency))
        .select((services::slug, services::name))
        .load::<(String, String)>(c)?
        .into_iter()
        .collect())
}

/// `GET /admin/deployments`: keyset pages of 50, oldest first (the API's order).
pub async fn list(
    state: web::Data<AppState>,
    staff: Staff,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let mut pr = PageRequest::from_request(&req)?;
    pr.limit = PAGE;
    let after = match &pr.after {
        Some((k, id)) => Some((page::parse_time_key(k)?, id.clone())),
        None => None,
    };
    let (agency, n, first) = (staff.agency_id.clone(), pr.fetch(), after.is_none());
    let (mut rows, names) = state
        .db(move |c| {
            let rows = registry::list_deployments(c, &agency, after, n)?;
            Ok((rows, service_names(c, &agency)?))
        })
        .await?;
    let next = pr.finish(&mut rows, SECTION, |(d, _)| {
        (page::time_key(&d.created_at), d.id.clone())
    });
    let title = if first {
        "Deployments"
    } else {
        "Deployments, continued"
    };
    let body = html! {
        h1 { (title) }
        @if staff.may(Role::Manager) {
            p { a.usa-button href={ (SECTION) "/new" } { "Create a deployment" } }
        }
        @if rows.is_empty() && first {
            p { "No deployments yet." }
        } @else {
            (list_table(&state, &rows, &names))
        }
        @if let Some(n) = next {
            p { a.usa-link rel="next" href=(n) { "Next 50 deployments" } }
        }
    };
    Ok(ui::page(&staff, SECTION, title, body))
}

fn list_table(
    state: &AppState,
    rows: &[(Deployment, String)],
    names: &std::collections::HashMap<String, String>,
) -> Markup {
    html! {
        div.cx-table-scroll tabindex="0" role="region" aria-label="Deployments" {
            table.usa-table.usa-table--borderless {
                caption { "Your agency's deployments, oldest first" }
                thead { tr {
                    th scope="col" { "Transaction point" }
                    th scope="col" { "Service" }
                    th scope="col" { "Channel" }
                    th scope="col" { "Instrument" }
                    th scope="col" { "Status" }
                    th scope="col" { "Access" }
                } }
                tbody {
                    @for (d, slug) in rows {
                        tr {
                            td { a.usa-link href=(detail_path(&d.id)) { (d.transaction_point) } }
                            td { (names.get(slug).unwrap_or(slug)) }
                            td { (channel_label(&d.channel)) }
                            td { (d.instrument_id) }
                            td { (status_label(state, d)) }
                            td { (access_label(d.access)) }
                        }
                    }
                }
            }
        }
    }
}

/// One of the agency's services as the form offers it.
struct ServiceChoice {
    slug: String,
    name: String,
    channels: Vec<String>,
}

fn service_choices(c: &mut AnyConnection, agency: &AgencyId) -> QueryResult<Vec<ServiceChoice>> {
    // An agency has tens of services; a page of 1,000 holds them all.
    Ok(registry::list_services(c, agency, None, 1000)?
        .into_iter()
        .map(|(s, _)| ServiceChoice {
            channels: s.channel_list(),
            slug: s.slug,
            name: s.name,
        })
        .collect())
}

/// The create form's fields as submitted (or empty), for filling the form in again.
#[derive(Default)]
struct NewInput {
    service: String,
    channel: String,
    instrument: String,
    transaction_point: String,
    allowed_origins: String,
    access: String,
}

impl NewInput {
    fn read(f: &Form) -> Self {
        NewInput {
            service: f.text("service"),
            channel: f.text("channel"),
            instrument: f.text("instrument"),
            transaction_point: f.get("transaction_point").unwrap_or("").to_string(),
            allowed_origins: f.get("allowed_origins").unwrap_or("").to_string(),
            access: f.text("access"),
        }
    }

    /// The admin API's request body for these fields.
    fn body(&self, lines: &[(usize, String)]) -> NewDeployment {
        NewDeployment {
            instrument: self.instrument.clone(),
            service: self.service.clone(),
            channel: self.channel.clone(),
            transaction_point: self.transaction_point.clone(),
            allowed_origins: lines.iter().map(|(_, o)| o.clone()).collect(),
            access: (!self.access.is_empty()).then(|| self.access.clone()),
        }
    }
}

/// `GET /admin/deployments/new` (managers and admins).
pub async fn new_form(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(Role::Manager)?;
    let input = NewInput {
        access: "open".into(),
        ..NewInput::default()
    };
    create_page(&state, &staff, &input, &[], StatusCode::OK).await
}

async fn create_page(
    state: &AppState,
    staff: &Staff,
    input: &NewInput,
    errors: Errors<'_>,
    status: StatusCode,
) -> Result<HttpResponse, ConsoleError> {
    let agency = staff.agency_id.clone();
    let services = state.db(move |c| Ok(service_choices(c, &agency)?)).await?;
    let title = if errors.is_empty() {
        "Create a deployment"
    } else {
        "Create a deployment: there is a problem"
    };
    let body = html! {
        h1 { "Create a deployment" }
        (ui::error_summary(errors))
        @if services.is_empty() {
            p.usa-intro {
                "Your agency has no services yet. A service (with the channels it is delivered \
                 through) is created with the admin API or a registry file; then come back here."
            }
        } @else {
            (create_form(state, staff, &services, input, errors))
        }
    };
    Ok(ui::page_with(status, staff, SECTION, title, body))
}

fn create_form(
    state: &AppState,
    staff: &Staff,
    services: &[ServiceChoice],
    input: &NewInput,
    errors: Errors<'_>,
) -> Markup {
    let channel_hint = services
        .iter()
        .map(|s| {
            let ch: Vec<String> = s.channels.iter().map(|c| channel_label(c)).collect();
            format!("{}: {}", s.name, ch.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ");
    html! {
        form.usa-form.usa-form--large method="post" action=(SECTION) novalidate {
            (ui::csrf(staff))
            (group(errors, "service", "Service", None, |d| html! {
                select.usa-select #service name="service" aria-describedby=[d] {
                    option value="" { "- Select a service -" }
                    @for s in services {
                        option value=(s.slug) selected[s.slug == input.service] { (s.name) }
                    }
                }
            }))
            (group(errors, "channel", "Channel", Some(&format!(
                "The channel of the transaction point: one the service is delivered through. {channel_hint}."
            )), |d| html! {
                select.usa-select #channel name="channel" aria-describedby=[d] {
                    option value="" { "- Select a channel -" }
                    @for c in registry::CHANNELS {
                        option value=(c) selected[c == input.channel] { (channel_label(c)) }
                    }
                }
            }))
            (instrument_group(state, staff, input, errors))
            (group(errors, "transaction_point", "Transaction point",
                Some("Where in the customer's journey the survey is offered, e.g. \"After online renewal\"."),
                |d| html! {
                    input.usa-input #transaction_point name="transaction_point" type="text"
                        maxlength="300" value=(input.transaction_point) aria-describedby=[d];
                }))
            (origins_group(errors, &input.allowed_origins))
            (access_group(errors, &input.access))
            button.usa-button type="submit" { "Create the deployment" }
        }
    }
}

fn instrument_group(
    state: &AppState,
    staff: &Staff,
    input: &NewInput,
    errors: Errors<'_>,
) -> Markup {
    let choices: Vec<(String, String)> = state
        .defs
        .instruments
        .values()
        .filter_map(|v| v.last())
        .map(|ins| {
            let title = ins
                .title
                .get(&ins.locales[0])
                .map(|t| t.replace("{agency}", &staff.agency_name))
                .unwrap_or_default();
            let label = format!(
                "{} — {title} (OMB {}, clearance until {})",
                ins.id, ins.pra.omb_control_number, ins.pra.expiration_date
            );
            (ins.id.clone(), label)
        })
        .collect();
    group(
        errors,
        "instrument",
        "Instrument",
        Some("The survey, as its PRA clearance approved it."),
        |d| {
            html! {
                select.usa-select #instrument name="instrument" aria-describedby=[d] {
                    option value="" { "- Select an instrument -" }
                    @for (id, label) in &choices {
                        option value=(id) selected[*id == input.instrument] { (label) }
                    }
                }
            }
        },
    )
}

fn origins_group(errors: Errors<'_>, value: &str) -> Markup {
    group(
        errors,
        "allowed_origins",
        "Allowed origins (optional)",
        Some("The web sites that may show the survey widget, one per line, e.g. https://www.example.gov. Leave empty for the hosted survey page only."),
        |d| {
            html! {
                textarea.usa-textarea #allowed_origins name="allowed_origins" rows="4" aria-describedby=[d] { (value) }
            }
        },
    )
}

fn access_group(errors: Errors<'_>, value: &str) -> Markup {
    let err = error_id(errors, "access");
    html! {
        fieldset.usa-fieldset.usa-form-group.usa-form-group--error[err.is_some()] aria-describedby=[err.as_deref()] {
            legend.usa-legend { "Who may answer" }
            @if let (Some(id), Some(msg)) = (&err, ui::error_for(errors, "access")) {
                span.usa-error-message #(id) { (msg) }
            }
            div.usa-radio {
                input.usa-radio__input #access type="radio" name="access" value="open" checked[value == "open"];
                label.usa-radio__label for="access" { "Open: anyone with the page or widget" }
            }
            div.usa-radio {
                input.usa-radio__input #access-invitation type="radio" name="access" value="invitation" checked[value == "invitation"];
                label.usa-radio__label for="access-invitation" { "By invitation only: single-use links sent by email" }
            }
        }
    }
}

/// The origins textarea's non-blank lines with their line numbers (1-based), so a bad one is
/// named by the line the person sees.
fn origin_lines(raw: &str) -> Vec<(usize, String)> {
    raw.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .filter(|(_, l)| !l.is_empty())
        .collect()
}

/// The API's field problems as the form shows them: fixed wording per field (an origin's says
/// its line), in the order of the form, one message per field.
fn form_errors(
    errs: &[FieldError],
    missing: &[FieldError],
    lines: &[(usize, String)],
) -> Vec<(String, String)> {
    const ORDER: [&str; 6] = [
        "service",
        "channel",
        "instrument",
        "transaction_point",
        "allowed_origins",
        "access",
    ];
    let mut out: Vec<(String, String)> = vec![];
    let mut origin_problems = vec![];
    for e in errs.iter().chain(missing) {
        if let Some(i) = e.field.strip_prefix("allowed_origins[") {
            let i: usize = i.trim_end_matches(']').parse().unwrap_or(0);
            let line = lines.get(i).map_or(i + 1, |l| l.0);
            origin_problems.push(format!("line {line}: {}", e.detail));
            continue;
        }
        let msg = match e.field.as_str() {
            "service" => "Choose one of your agency's services.".to_string(),
            "channel" if e.detail.contains("not delivered through") => {
                "Choose a channel the service is delivered through.".into()
            }
            "channel" => "Choose a channel.".into(),
            "instrument" => "Choose one of the loaded instruments.".into(),
            "transaction_point" => "Enter the transaction point: 1 to 300 characters.".into(),
            "allowed_origins" => "Enter at most 50 origins, one per line.".into(),
            "access" => "Choose who may answer: open or by invitation only.".into(),
            _ => e.detail.clone(),
        };
        if !out.iter().any(|(f, _)| *f == e.field) {
            out.push((e.field.clone(), msg));
        }
    }
    if !origin_problems.is_empty() && !out.iter().any(|(f, _)| f == "allowed_origins") {
        let text = format!("Fix the origins: {}.", origin_problems.join("; "));
        out.push(("allowed_origins".into(), text));
    }
    out.sort_by_key(|(f, _)| ORDER.iter().position(|o| o == f).unwrap_or(ORDER.len()));
    out
}

/// `POST /admin/deployments` (managers and admins): creates it and shows its page, or the form
/// again with each field's problem (`422`, nothing stored).
pub async fn create(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    let staff = change.staff;
    staff.require(Role::Manager)?;
    let input = NewInput::read(&change.form);
    let lines = origin_lines(&input.allowed_origins);
    let (agency, actor) = (staff.agency_id.clone(), staff.actor().to_string());
    let detail = format!(
        "service {}, channel {}, instrument {}",
        input.service, input.channel, input.instrument
    );
    let audit = move |c: &mut AnyConnection, id: &str| {
        crate::staff::record(c, &agency, &actor, "deployment.create", id, &detail)
    };
    let errs =
        match structure::create_deployment_in(&state, &staff.agency_id, input.body(&lines), audit)
            .await
        {
            Ok((d, _)) => return Ok(ui::see_other(&format!("{}?ok=created", detail_path(&d.id)))),
            Err(ApiError::Invalid(errs)) => errs,
            Err(e) => return Err(e.into()),
        };
    create_page(
        &state,
        &staff,
        &input,
        &form_errors(&errs, &missing(&input), &lines),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await
}

/// The required fields left empty. The API stops at its first group of problems (the body's
/// rules, then the names, then the service), so the form names these itself: every empty
/// field in one round.
fn missing(input: &NewInput) -> Vec<FieldError> {
    [
        ("service", &input.service),
        ("channel", &input.channel),
        ("instrument", &input.instrument),
        ("transaction_point", &input.transaction_point),
    ]
    .into_iter()
    .filter(|(_, v)| v.trim().is_empty())
    .map(|(f, _)| FieldError::new(f, "is required"))
    .collect()
}

/// The agency's deployment `id` with its service's name; another agency's, or no such id, `404`.
async fn load(
    state: &AppState,
    staff: &Staff,
    id: &str,
) -> Result<(Deployment, String), ConsoleError> {
    let id = crate::paths::deployment_id(id)?;
    let agency = staff.agency_id.clone();
    let found = state
        .db(move |c| {
            let Some(d) = registry::find_deployment(c, &agency, &id)? else {
                return Ok(None);
            };
            let name = services::table
                .find(&d.service_id)
                .select(services::name)
                .first::<String>(c)?;
            Ok(Some((d, name)))
        })
        .await?;
    found.ok_or(ConsoleError::NotFound)
}

/// The change form's values: origins (one per line) and access.
struct EditInput {
    allowed_origins: String,
    access: String,
}

impl EditInput {
    fn of(d: &Deployment) -> Self {
        EditInput {
            allowed_origins: d.origins().join("\n"),
            access: d.access.as_str().to_string(),
        }
    }
}

/// `GET /admin/deployments/{id}`.
pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ConsoleError> {
    let (d, service) = load(&state, &staff, &path).await?;
    let edit = EditInput::of(&d);
    let page = Detail {
        d: &d,
        service: &service,
        edit: &edit,
        errors: &[],
        notice: notice_for(&req),
    };
    Ok(page.render(&state, &staff, StatusCode::OK))
}

/// A deployment's page, as shown or after a change that could not be made.
struct Detail<'a> {
    d: &'a Deployment,
    service: &'a str,
    edit: &'a EditInput,
    errors: Errors<'a>,
    notice: Option<&'a str>,
}

impl Detail<'_> {
    fn render(&self, state: &AppState, staff: &Staff, status: StatusCode) -> HttpResponse {
        let d = self.d;
        let title = format!("Deployment: {}", d.transaction_point);
        let body = html! {
            h1 { (title) }
            (ui::notice(self.notice))
            (ui::error_summary(self.errors))
            (facts(state, d, self.service))
            (embed(state, d))
            @if staff.may(Role::Manager) {
                (self.manage(staff))
            }
        };
        ui::page_with(status, staff, SECTION, &title, body)
    }

    /// The change form and the close link, or why a registry-managed deployment has neither.
    fn manage(&self, staff: &Staff) -> Markup {
        let d = self.d;
        let action = detail_path(&d.id);
        html! {
            h2 { "Change this deployment" }
            @if let Some(file) = &d.managed_by {
                p {
                    "This deployment is declared in the registry file " code { (file) }
                    ", its source of truth: change it there and restart the service. It cannot be changed or closed here."
                }
            } @else {
                form.usa-form.usa-form--large method="post" action=(action) novalidate {
                    (ui::csrf(staff))
                    input type="hidden" name="version" value=(structure::etag(d));
                    (origins_group(self.errors, &self.edit.allowed_origins))
                    (access_group(self.errors, &self.edit.access))
                    button.usa-button type="submit" { "Save changes" }
                }
                @if d.is_open() {
                    h2 { "Close this deployment" }
                    p { "Closing stops it taking answers. Responses already received stay and are still reported." }
                    p { a.usa-button.usa-button--secondary href={ (action) "/close" } { "Close this deployment" } }
                }
            }
        }
    }
}

fn facts(state: &AppState, d: &Deployment, service: &str) -> Markup {
    let ins = state.instrument(&d.instrument_id);
    let origins = d.origins();
    html! {
        table.usa-table.usa-table--borderless {
            caption { "About this deployment" }
            tbody {
                tr { th scope="row" { "Service" } td { (service) } }
                tr { th scope="row" { "Channel" } td { (channel_label(&d.channel)) } }
                tr { th scope="row" { "Instrument" } td {
                    (d.instrument_id)
                    @if let Some(i) = ins { " (version " (i.version) ")" }
                } }
                @if let Some(i) = ins {
                    tr { th scope="row" { "PRA clearance" } td {
                        "OMB " (i.pra.omb_control_number) ", expires " (i.pra.expiration_date.to_string())
                    } }
                }
                tr { th scope="row" { "Status" } td { (status_label(state, d)) } }
                tr { th scope="row" { "Access" } td { (access_label(d.access)) } }
                tr { th scope="row" { "Allowed origins" } td {
                    @if origins.is_empty() { "None: the hosted survey page only" }
                    @else { (origins.join(", ")) }
                } }
                tr { th scope="row" { "Created" } td { (ui::when(d.created_at)) } }
                tr { th scope="row" { "Last changed" } td { (ui::when(d.updated_at)) } }
                tr { th scope="row" { "Deployment id" } td { code { (d.id) } } }
            }
        }
    }
}

/// The embed snippet the widget needs (docs/widget.md), for the agency's page.
pub fn snippet(state: &AppState, id: &str) -> String {
    format!(
        "<script src=\"{}/widget.js\" data-deployment=\"{id}\" data-mode=\"modal\" defer></script>",
        state.settings.public_url
    )
}

/// The snippet and the survey link as selectable read-only text, each with a copy button that
/// `console.js` shows when the clipboard is available; the preview opens the hosted page.
fn embed(state: &AppState, d: &Deployment) -> Markup {
    let url = format!("{}/s/{}", state.settings.public_url, d.id);
    html! {
        h2 { "Embed the survey" }
        div.usa-form-group {
            label.usa-label for="embed-snippet" { "Embed code" }
            span.usa-hint #embed-snippet-hint {
                "Paste it into the page shown after the transaction. The page's site must be one of the allowed origins."
            }
            textarea.usa-textarea.cx-snippet #embed-snippet readonly aria-describedby="embed-snippet-hint" {
                (snippet(state, &d.id))
            }
            div.cx-actions {
                button.usa-button.usa-button--outline type="button" hidden
                    data-copy-target="embed-snippet" data-copy-status="embed-snippet-status" { "Copy the embed code" }
                span #embed-snippet-status role="status" {}
            }
        }
        h2 { "Hosted survey page" }
        div.usa-form-group {
            label.usa-label for="survey-url" { "Survey link" }
            span.usa-hint #survey-url-hint { "For emails, receipts and QR codes: the survey on its own page." }
            input.usa-input #survey-url type="text" readonly value=(url) aria-describedby="survey-url-hint";
            div.cx-actions {
                button.usa-button.usa-button--outline type="button" hidden
                    data-copy-target="survey-url" data-copy-status="survey-url-status" { "Copy the survey link" }
                span #survey-url-status role="status" {}
            }
        }
        p {
            a.usa-link href={ "/s/" (d.id) } target="_blank" rel="noopener noreferrer" {
                "Preview the survey (opens in a new tab)"
            }
        }
        @if d.invitation_only() {
            p.usa-hint {
                "This deployment is by invitation only: its survey link and the preview answer \
                 only through the links sent with invitations, and say so to anyone else."
            }
        }
    }
}

/// An audit hook writing `action` with the deployment's stored access and origins.
fn audit_after(staff: &Staff, action: &'static str) -> impl structure::AfterChange {
    let (agency, actor) = (staff.agency_id.clone(), staff.actor().to_string());
    move |c: &mut AnyConnection, id: &str| {
        let (status, access, origins) = deployments::table
            .find(id)
            .select((
                deployments::status,
                deployments::access,
                deployments::allowed_origins,
            ))
            .first::<(DeploymentStatus, Access, String)>(c)?;
        let detail = format!(
            "status {}, access {}, origins {origins}",
            status.as_str(),
            access.as_str()
        );
        crate::staff::record(c, &agency, &actor, action, id, &detail)
    }
}

/// `POST /admin/deployments/{id}` (managers and admins): new origins and access.
pub async fn change(
    state: web::Data<AppState>,
    change: Change,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let staff = change.staff;
    staff.require(Role::Manager)?;
    let edit = EditInput {
        allowed_origins: change.form.get("allowed_origins").unwrap_or("").to_string(),
        access: change.form.text("access"),
    };
    let lines = origin_lines(&edit.allowed_origins);
    let patch = DeploymentPatch {
        allowed_origins: Some(lines.iter().map(|(_, o)| o.clone()).collect()),
        access: (!edit.access.is_empty()).then(|| edit.access.clone()),
        ..DeploymentPatch::default()
    };
    let version = Some(change.form.text("version")).filter(|v| !v.is_empty());
    let audit = audit_after(&staff, "deployment.change");
    let done =
        structure::change_deployment(&state, &staff.agency_id, &path, patch, version, audit).await;
    let (errors, status) = match done {
        Ok((d, _)) => return Ok(ui::see_other(&format!("{}?ok=changed", detail_path(&d.id)))),
        Err(ApiError::Invalid(errs)) => (
            form_errors(&errs, &[], &lines),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(e) => return refused(&state, &staff, &path, e).await,
    };
    let (d, service) = load(&state, &staff, &path).await?;
    let page = Detail {
        d: &d,
        service: &service,
        edit: &edit,
        errors: &errors,
        notice: None,
    };
    Ok(page.render(&state, &staff, status))
}

/// A change the deployment's state refused: declared in a registry file (`409`), or changed by
/// someone else since the page was read (`409`, its current values shown). Others as they are.
async fn refused(
    state: &AppState,
    staff: &Staff,
    id: &str,
    e: ApiError,
) -> Result<HttpResponse, ConsoleError> {
    let msg = match e {
        ApiError::Conflict { .. } => {
            "This deployment is declared in a registry file: change it there, not here."
        }
        ApiError::PreconditionFailed(_) => {
            "Someone changed this deployment after you opened the page, so your change was not saved. Its current settings are shown: make your change again."
        }
        other => return Err(other.into()),
    };
    let (d, service) = load(state, staff, id).await?;
    let edit = EditInput::of(&d);
    let errors = [("allowed_origins".to_string(), msg.to_string())];
    let page = Detail {
        d: &d,
        service: &service,
        edit: &edit,
        errors: &errors,
        notice: None,
    };
    Ok(page.render(state, staff, StatusCode::CONFLICT))
}

/// `GET /admin/deployments/{id}/close`: the confirmation step (works without JavaScript).
pub async fn confirm_close(
    state: web::Data<AppState>,
    staff: Staff,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    staff.require(Role::Manager)?;
    let (d, service) = load(&state, &staff, &path).await?;
    let back = detail_path(&d.id);
    let title = format!("Close the deployment {}?", d.transaction_point);
    let body = html! {
        h1 { (title) }
        @if d.managed_by.is_some() {
            p { "This deployment is declared in a registry file: close it there, not here." }
            p { a.usa-link href=(back) { "Back to the deployment" } }
        } @else if !d.is_open() {
            p { "This deployment is already closed." }
            p { a.usa-link href=(back) { "Back to the deployment" } }
        } @else {
            p.usa-intro {
                "Closing " strong { (d.transaction_point) } " (" (service) ", " (channel_label(&d.channel)) ") stops it taking answers: \
                 the widget shows nothing and the survey page says the survey is closed. Responses already received stay and are still reported."
            }
            form method="post" action={ (back) "/close" } {
                (ui::csrf(&staff))
                div.cx-actions {
                    button.usa-button.usa-button--secondary type="submit" { "Close the deployment" }
                    a.usa-link href=(back) { "Cancel: keep it open" }
                }
            }
        }
    };
    Ok(ui::page(&staff, SECTION, &title, body))
}

/// `POST /admin/deployments/{id}/close` (managers and admins).
pub async fn close(
    state: web::Data<AppState>,
    change: Change,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let staff = change.staff;
    staff.require(Role::Manager)?;
    let patch = DeploymentPatch {
        status: Some(DeploymentStatus::Closed.as_str().to_string()),
        ..DeploymentPatch::default()
    };
    let audit = audit_after(&staff, "deployment.close");
    // No version check: closing is right whatever else changed since the page was read.
    match structure::change_deployment(&state, &staff.agency_id, &path, patch, None, audit).await {
        Ok((d, _)) => Ok(ui::see_other(&format!("{}?ok=closed", detail_path(&d.id)))),
        Err(e) => refused(&state, &staff, &path, e).await,
    }
}
