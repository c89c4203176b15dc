//! `/admin/volumes`: each service's operational volumes for a fiscal quarter, one form per
//! service with every channel it is delivered through. Saved through the admin API's own
//! function (`admin::structure::save_volumes`), so both store the same rows.

use std::collections::{BTreeMap, HashMap};

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use diesel::prelude::*;
use maud::{html, Markup};

use super::session::{Change, Form, Staff};
use super::ui::{self, ConsoleError};
use super::upload::{self, Errors};
use crate::admin::structure::{save_volumes, VolumeEntry, MAX_VOLUME};
use crate::app::AppState;
use crate::db::schema::{hisps, service_volumes, services};
use crate::domain::Role;
use crate::fiscal::FiscalQuarter;
use crate::registry::{self, Service};

pub fn routes(cfg: &mut web::ServiceConfig) {
    use web::{get, post, resource};
    cfg.service(
        resource("/volumes")
            .route(get().to(show))
            .route(post().to(save)),
    );
}

const PATH: &str = "/admin/volumes";

/// Channels where nothing records impressions (no widget or hosted page counts who was
/// offered the survey): their survey opportunities are entered with the volumes.
const NO_IMPRESSIONS: [&str; 8] = [
    "phone",
    "automated_phone",
    "in_person",
    "paper",
    "postal_mail",
    "fax",
    "self_service_kiosk",
    "other_non_digital",
];

/// `in_person` → "In person".
pub fn channel_label(channel: &str) -> String {
    let spaced = channel.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map_or(String::new(), |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// The fiscal quarter a GET form asks for (the current one when it names none), with the
/// form's raw values to show again, or the form's problems.
pub fn asked_quarter(
    state: &AppState,
    query: &HashMap<String, String>,
) -> (String, String, Result<FiscalQuarter, Errors>) {
    let fy = query.get("fiscal_year").map(|s| s.trim().to_string());
    let q = query.get("quarter").map(|s| s.trim().to_string());
    let (Some(fy), Some(q)) = (fy, q) else {
        let now = FiscalQuarter::containing(chrono::Utc::now(), state.settings.report_tz);
        return (now.year.to_string(), now.quarter.to_string(), Ok(now));
    };
    let mut errors = Errors::new();
    let year = fy.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if year.is_none() {
        errors.push((
            "fiscal_year".into(),
            "Enter a fiscal year from 2000 to 2100, like 2026".into(),
        ));
    }
    let quarter = q.parse::<u8>().ok().filter(|n| (1..=4).contains(n));
    if quarter.is_none() {
        errors.push(("quarter".into(), "Choose a quarter from 1 to 4".into()));
    }
    let fq = match (year, quarter) {
        (Some(y), Some(n)) => FiscalQuarter::new(y, n).map_err(|_| errors),
        _ => Err(errors),
    };
    (fy, q, fq)
}

/// The fiscal year and quarter picker (a GET form to `action`).
pub fn quarter_form(action: &str, fy: &str, q: &str, errors: &Errors) -> Markup {
    html! {
        form.usa-form.cx-quarter-form method="get" action=(action) {
            (upload::group(errors, "fiscal_year", "Fiscal year", Some("October to September, named by the year it ends"), |desc| html! {
                input.usa-input.usa-input--small #fiscal_year name="fiscal_year" type="number" min="2000" max="2100" value=(fy) aria-describedby=[desc];
            }))
            (upload::group(errors, "quarter", "Quarter", None, |desc| html! {
                select.usa-select #quarter name="quarter" aria-describedby=[desc] {
                    @for (n, months) in [("1", "Oct–Dec"), ("2", "Jan–Mar"), ("3", "Apr–Jun"), ("4", "Jul–Sep")] {
                        option value=(n) selected[q == n] { "Q" (n) " (" (months) ")" }
                    }
                }
            }))
            button.usa-button.usa-button--outline type="submit" { "Show quarter" }
        }
    }
}

/// The agency's services with their HISP's name, by HISP and service name.
type Listed = Vec<(Service, String)>;
/// Stored volumes by (service id, channel): customers and opportunities.
type Stored = BTreeMap<(String, String), (i64, Option<i64>)>;

async fn load(
    state: &AppState,
    staff: &Staff,
    fq: FiscalQuarter,
) -> Result<(Listed, Stored), ConsoleError> {
    let agency = staff.agency_id.clone();
    Ok(state
        .db(move |c| {
            let list: Listed = services::table
                .inner_join(hisps::table)
                .filter(services::agency_id.eq(&agency))
                .order((hisps::name, services::name, services::id))
                .select((Service::as_select(), hisps::name))
                .load(c)?;
            let ids: Vec<&str> = list.iter().map(|(s, _)| s.id.as_str()).collect();
            use service_volumes as v;
            let stored = v::table
                .filter(v::service_id.eq_any(&ids))
                .filter(v::fiscal_year.eq(fq.year))
                .filter(v::quarter.eq(fq.quarter as i16))
                .select((
                    v::service_id,
                    v::channel,
                    v::volume_of_customers,
                    v::survey_opportunities,
                ))
                .load::<(String, String, i64, Option<i64>)>(c)?
                .into_iter()
                .map(|(s, ch, n, o)| ((s, ch), (n, o)))
                .collect();
            Ok((list, stored))
        })
        .await?)
}

pub async fn show(
    state: web::Data<AppState>,
    staff: Staff,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ConsoleError> {
    let (fy, q, fq) = asked_quarter(&state, &query);
    let notice = (query.get("ok").map(String::as_str) == Some("saved")).then_some("Volumes saved.");
    let (status, main) = match fq {
        Ok(fq) => (
            StatusCode::OK,
            page(&state, &staff, fq, notice, None).await?,
        ),
        Err(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            html! {
                h1 { "Quarterly volumes" }
                (ui::error_summary(&errors))
                (quarter_form(PATH, &fy, &q, &errors))
            },
        ),
    };
    Ok(ui::page_with(
        status,
        &staff,
        PATH,
        "Quarterly volumes",
        main,
    ))
}

/// A service's form sent back with problems: its slug, the values sent, the problems.
struct Sent<'a> {
    service: &'a str,
    form: &'a Form,
    errors: &'a Errors,
}

async fn page(
    state: &AppState,
    staff: &Staff,
    fq: FiscalQuarter,
    notice: Option<&str>,
    sent: Option<Sent<'_>>,
) -> Result<Markup, ConsoleError> {
    let (list, stored) = load(state, staff, fq).await?;
    let no_errors = Errors::new();
    let errors = sent.as_ref().map_or(&no_errors, |s| s.errors);
    Ok(html! {
        h1 { "Quarterly volumes" }
        (ui::notice(notice))
        (ui::error_summary(errors))
        (quarter_form(PATH, &fq.year.to_string(), &fq.quarter.to_string(), &no_errors))
        p { "The number of customers each service served through each channel in FY" (fq.year) " Q" (fq.quarter)
            ", for the quarterly report. Survey opportunities are asked only for channels where nothing records who was offered the survey (paper, phone, in person). Leave a channel blank to remove its numbers." }
        @if list.is_empty() {
            p { "Your agency has no services yet." }
        }
        @for (s, hisp) in &list {
            @let mine = sent.as_ref().filter(|x| x.service == s.slug);
            (service_form(staff, fq, s, hisp, &stored, mine))
        }
    })
}

/// Whether a channel's form asks for survey opportunities: a channel without impressions, or
/// one that has them stored already (so saving the form does not drop them).
fn asks_opportunities(channel: &str, stored: Option<&(i64, Option<i64>)>) -> bool {
    NO_IMPRESSIONS.contains(&channel) || stored.is_some_and(|v| v.1.is_some())
}

fn service_form(
    staff: &Staff,
    fq: FiscalQuarter,
    s: &Service,
    hisp: &str,
    stored: &Stored,
    sent: Option<&Sent<'_>>,
) -> Markup {
    let heading = format!("svc-{}", s.slug);
    let no_errors = Errors::new();
    let errors = sent.map_or(&no_errors, |x| x.errors);
    html! {
        section.cx-volume-service aria-labelledby=(heading) {
            h2 #(heading) { (s.name) " " span.cx-muted { "(" (hisp) ")" } }
            @if staff.may(Role::Manager) {
                form.usa-form.usa-form--large method="post" action=(PATH) {
                    (ui::csrf(staff))
                    input type="hidden" name="fiscal_year" value=(fq.year);
                    input type="hidden" name="quarter" value=(fq.quarter);
                    input type="hidden" name="service" value=(s.slug);
                    @for ch in s.channel_list() {
                        @let kept = stored.get(&(s.id.clone(), ch.clone()));
                        (channel_fields(s, &ch, kept, sent.map(|x| x.form), errors))
                    }
                    button.usa-button type="submit" { "Save " (s.name) }
                }
            } @else {
                (read_only(s, stored))
            }
        }
    }
}

fn channel_fields(
    s: &Service,
    ch: &str,
    kept: Option<&(i64, Option<i64>)>,
    form: Option<&Form>,
    errors: &Errors,
) -> Markup {
    // The values sent (a form with problems shows them again), else those stored.
    let value = |name: &str, stored: Option<i64>| match form {
        Some(f) => f.text(&format!("{name}.{ch}")),
        None => stored.map(|n| n.to_string()).unwrap_or_default(),
    };
    let customers = format!("customers-{}-{ch}", s.slug);
    let opportunities = format!("opportunities-{}-{ch}", s.slug);
    html! {
        fieldset.usa-fieldset {
            legend.usa-legend { (channel_label(ch)) }
            (upload::group(errors, &customers, "Volume of customers", None, |desc| html! {
                input.usa-input #(customers) type="number" min="0" step="1" inputmode="numeric"
                    name={ "volume_of_customers." (ch) } value=(value("volume_of_customers", kept.map(|k| k.0))) aria-describedby=[desc];
            }))
            @if asks_opportunities(ch, kept) {
                (upload::group(errors, &opportunities, "Survey opportunities", Some("Customers offered the survey through this channel"), |desc| html! {
                    input.usa-input #(opportunities) type="number" min="0" step="1" inputmode="numeric"
                        name={ "survey_opportunities." (ch) } value=(value("survey_opportunities", kept.and_then(|k| k.1))) aria-describedby=[desc];
                }))
            }
        }
    }
}

fn read_only(s: &Service, stored: &Stored) -> Markup {
    html! {
        table.usa-table {
            caption { "Volumes of " (s.name) }
            thead { tr { th scope="col" { "Channel" } th scope="col" { "Volume of customers" } th scope="col" { "Survey opportunities" } } }
            tbody {
                @for ch in s.channel_list() {
                    @let v = stored.get(&(s.id.clone(), ch.clone()));
                    tr {
                        th scope="row" { (channel_label(&ch)) }
                        td { (v.map(|v| v.0.to_string()).unwrap_or_else(|| "–".into())) }
                        td { (v.and_then(|v| v.1).map(|n| n.to_string()).unwrap_or_else(|| "–".into())) }
                    }
                }
            }
        }
    }
}

/// A count as entered: blank is none; otherwise a whole number from 0 to `MAX_VOLUME`.
fn count(raw: &str, what: &str) -> Result<Option<i64>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<i64>() {
        Ok(n) if n < 0 => Err(format!("{what} must be 0 or more")),
        Ok(n) if n > MAX_VOLUME => Err(format!("{what} must be at most {MAX_VOLUME}")),
        Ok(n) => Ok(Some(n)),
        Err(_) => Err(format!("{what} must be a whole number, like 1200")),
    }
}

/// The service's channels as sent, or the problems (each naming its channel and field).
fn entries(s: &Service, form: &Form) -> Result<Vec<VolumeEntry>, Errors> {
    let mut out = vec![];
    let mut errors = Errors::new();
    for ch in s.channel_list() {
        let label = channel_label(&ch);
        let customers = count(
            &form.text(&format!("volume_of_customers.{ch}")),
            &format!("{label}: volume of customers"),
        );
        let opportunities = count(
            &form.text(&format!("survey_opportunities.{ch}")),
            &format!("{label}: survey opportunities"),
        );
        match (customers, opportunities) {
            (Ok(None), Ok(Some(_))) => errors.push((
                format!("customers-{}-{ch}", s.slug),
                format!("{label}: enter the volume of customers too, or leave both blank"),
            )),
            (Ok(v), Ok(o)) => out.push(VolumeEntry {
                channel: ch.clone(),
                volume_of_customers: v,
                survey_opportunities: o,
            }),
            (c, o) => {
                if let Err(m) = c {
                    errors.push((format!("customers-{}-{ch}", s.slug), m));
                }
                if let Err(m) = o {
                    errors.push((format!("opportunities-{}-{ch}", s.slug), m));
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

pub async fn save(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    change.staff.require(Role::Manager)?;
    let (staff, form) = (&change.staff, &change.form);
    let year = form
        .text("fiscal_year")
        .parse::<i32>()
        .map_err(|_| ConsoleError::BadRequest)?;
    let quarter = form
        .text("quarter")
        .parse::<u8>()
        .map_err(|_| ConsoleError::BadRequest)?;
    let fq = FiscalQuarter::new(year, quarter).map_err(|_| ConsoleError::BadRequest)?;
    let (agency, slug) = (staff.agency_id.clone(), form.text("service"));
    let s = state
        .db(move |c| Ok(registry::find_service(c, &agency, &slug)?))
        .await?
        .ok_or(ConsoleError::NotFound)?;
    let list = match entries(&s, form) {
        Ok(list) => list,
        Err(errors) => {
            let sent = Sent {
                service: &s.slug,
                form,
                errors: &errors,
            };
            let main = page(&state, staff, fq, None, Some(sent)).await?;
            return Ok(ui::page_with(
                StatusCode::UNPROCESSABLE_ENTITY,
                staff,
                PATH,
                "Quarterly volumes: not saved",
                main,
            ));
        }
    };
    let detail = format!(
        "FY{} Q{}: {}",
        fq.year,
        fq.quarter,
        list.iter()
            .map(|e| match (e.volume_of_customers, e.survey_opportunities) {
                (None, _) => format!("{} cleared", e.channel),
                (Some(v), None) => format!("{} {v}", e.channel),
                (Some(v), Some(o)) => format!("{} {v} (opportunities {o})", e.channel),
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let (agency, actor, slug) = (
        staff.agency_id.clone(),
        staff.actor().to_string(),
        s.slug.clone(),
    );
    state
        .db(move |c| {
            c.transaction(|c| {
                save_volumes(c, &s, fq, &list)?;
                crate::staff::record(c, &agency, &actor, "volumes.save", &s.slug, &detail)?;
                Ok::<_, crate::error::ApiError>(())
            })
        })
        .await?;
    Ok(ui::see_other(&format!(
        "{PATH}?fiscal_year={}&quarter={}&ok=saved#svc-{slug}",
        fq.year, fq.quarter
    )))
}
