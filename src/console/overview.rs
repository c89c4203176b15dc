//! `GET /admin`: the agency at a glance for the current fiscal quarter. Per HISP and service:
//! respondents, trust share with its 95 % interval, deployments collecting; and the PRA
//! clearances of the agency's open deployments that end within 60 days. The figures are the
//! quarterly report's (`report::build`), so the console and the OMB files never disagree.

use std::collections::BTreeMap;

use actix_web::{web, HttpResponse};
use chrono::{Days, NaiveDate, Utc};
use diesel::prelude::*;
use maud::{html, Markup};

use super::deployments::collecting;
use super::session::Staff;
use super::ui::{self, ConsoleError};
use crate::app::AppState;
use crate::db::schema::{hisps, services};
use crate::db::AnyConnection;
use crate::domain::{AgencyId, DeploymentStatus, Role};
use crate::error::ApiError;
use crate::fiscal::FiscalQuarter;
use crate::registry::Deployment;
use crate::report::{self, Report, Scope};

/// How far ahead a clearance's end is worth a warning.
const EXPIRY_DAYS: i64 = 60;

/// One row of the table: a service under its HISP.
struct Row {
    hisp: String,
    service: String,
    respondents: i64,
    positive: i64,
    collecting: usize,
}

/// (service id, service slug, service name, HISP slug, HISP name) of every service of the agency.
type ServiceRow = (String, String, String, String, String);

fn services_of(c: &mut AnyConnection, agency: &AgencyId) -> QueryResult<Vec<ServiceRow>> {
    services::table
        .inner_join(hisps::table)
        .filter(services::agency_id.eq(agency))
        .order((hisps::name, services::name, services::id))
        .select((
            services::id,
            services::slug,
            services::name,
            hisps::slug,
            hisps::name,
        ))
        .load(c)
}

fn deployments_of(c: &mut AnyConnection, agency: &AgencyId) -> QueryResult<Vec<Deployment>> {
    use crate::db::schema::deployments as d;
    d::table
        .filter(d::agency_id.eq(agency))
        .select(Deployment::as_select())
        .load(c)
}

pub async fn show(state: web::Data<AppState>, staff: Staff) -> Result<HttpResponse, ConsoleError> {
    let tz = state.settings.report_tz;
    let fq = FiscalQuarter::containing(Utc::now(), tz);
    let agency = staff.agency_id.clone();
    let (services, deps) = state
        .db(move |c| Ok((services_of(c, &agency)?, deployments_of(c, &agency)?)))
        .await?;
    let body = if deps.is_empty() {
        empty(&staff)
    } else {
        let r = quarter_report(&state, &staff, fq).await?;
        let today = Utc::now().with_timezone(&tz).date_naive();
        html! {
            (services_table(&rows(&state, &services, &deps, &r), &r))
            (expiring(&state, &deps, today))
        }
    };
    Ok(ui::page(
        &staff,
        "/admin",
        "Overview",
        html! {
            h1 { "Overview: " (staff.agency_name) }
            (body)
        },
    ))
}

fn empty(staff: &Staff) -> Markup {
    html! {
        @if staff.may(Role::Manager) {
            p.usa-intro {
                "No deployments yet — " a.usa-link href="/admin/deployments/new" { "create one" } "."
            }
        } @else {
            p.usa-intro { "No deployments yet. A manager of your agency can create one." }
        }
    }
}

/// The agency's report for `fq`, built like the admin API's: one report at a time per instance.
async fn quarter_report(
    state: &web::Data<AppState>,
    staff: &Staff,
    fq: FiscalQuarter,
) -> Result<Report, ConsoleError> {
    let _turn = tokio::time::timeout(std::time::Duration::from_secs(30), state.reports.acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or(ConsoleError::Unavailable)?;
    let scope = Scope {
        agency_id: Some(staff.agency_id.clone()),
        hisp: None,
    };
    let st = state.clone();
    let built = web::block(move || {
        report::build(&st.export_pool, &st.defs, fq, st.settings.report_tz, &scope)
    })
    .await
    .map_err(|_| ConsoleError::Internal)?;
    built.map_err(|e| match e {
        report::files::ReportError::Pool(p) => ApiError::from(p).into(),
        report::files::ReportError::Db(d) => ApiError::from(d).into(),
        other => {
            tracing::error!(error = %other, "overview: report failed");
            ConsoleError::Internal
        }
    })
}

/// Every service of the agency, with the report's figures where it has any.
fn rows(state: &AppState, services: &[ServiceRow], deps: &[Deployment], r: &Report) -> Vec<Row> {
    services
        .iter()
        .map(|(id, slug, name, hisp_slug, hisp_name)| {
            let c = r
                .collections
                .iter()
                .find(|c| c.hisp == *hisp_slug && c.service == *slug);
            Row {
                hisp: hisp_name.clone(),
                service: name.clone(),
                respondents: c.map_or(0, |c| c.trust_responses),
                positive: c.map_or(0, |c| c.trust_positive),
                collecting: deps
                    .iter()
                    .filter(|d| d.service_id == *id && collecting(state, d).is_ok())
                    .count(),
            }
        })
        .collect()
}

/// `1234567` → `1,234,567`.
fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

fn services_table(rows: &[Row], r: &Report) -> Markup {
    let caption = format!(
        "FY{} Q{} ({} to {}, so far), by HISP and service",
        r.fiscal_year, r.quarter, r.first_day, r.last_day
    );
    html! {
        h2 { "This quarter" }
        div.cx-table-scroll tabindex="0" role="region" aria-label="This quarter by service" {
            table.usa-table.usa-table--borderless {
                caption { (caption) }
                thead { tr {
                    th scope="col" { "HISP" }
                    th scope="col" { "Service" }
                    th scope="col" { "Respondents" }
                    th scope="col" { "Trust" }
                    th scope="col" { "95 % interval" }
                    th scope="col" { "Deployments collecting" }
                } }
                tbody {
                    @for row in rows {
                        tr {
                            td { (row.hisp) }
                            td { (row.service) }
                            td.text-right { (thousands(row.respondents)) }
                            @match (report::trust_score(row.positive, row.respondents), report::wilson(row.positive, row.respondents)) {
                                (Some(t), Some((lo, hi))) => {
                                    td.text-right { (format!("{t:.1} %")) }
                                    td { (format!("{lo:.1} to {hi:.1} %")) }
                                }
                                _ => {
                                    td { "No responses" }
                                    td { "—" }
                                }
                            }
                            td.text-right { (row.collecting) }
                        }
                    }
                }
            }
        }
        p.usa-hint {
            "Trust: the share of respondents who answered the trust question positively, as \
             the quarterly report counts it. The interval is its Wilson 95 % score interval."
        }
    }
}

/// An instrument in use whose clearance ends soon: (title, OMB number, last day, days left,
/// deployments using it).
type Expiring = (String, String, NaiveDate, i64, usize);

/// The clearances of the instruments the agency's open deployments use that end within
/// [`EXPIRY_DAYS`] of `today` (or have ended), soonest first.
fn expiring_list(state: &AppState, deps: &[Deployment], today: NaiveDate) -> Vec<Expiring> {
    let horizon = today.checked_add_days(Days::new(EXPIRY_DAYS as u64));
    let mut uses: BTreeMap<&str, usize> = BTreeMap::new();
    for d in deps.iter().filter(|d| d.status == DeploymentStatus::Open) {
        *uses.entry(d.instrument_id.as_str()).or_default() += 1;
    }
    let mut out: Vec<Expiring> = uses
        .into_iter()
        .filter_map(|(id, n)| state.instrument(id).map(|i| (i, n)))
        .filter(|(i, _)| horizon.is_some_and(|h| i.pra.expiration_date <= h))
        .map(|(i, n)| {
            let days = (i.pra.expiration_date - today).num_days();
            let title = format!("{} (version {})", i.id, i.version);
            let omb = i.pra.omb_control_number.to_string();
            (title, omb, i.pra.expiration_date, days, n)
        })
        .collect();
    out.sort_by_key(|e| (e.2, e.0.clone()));
    out
}

fn expiring(state: &AppState, deps: &[Deployment], today: NaiveDate) -> Markup {
    let list = expiring_list(state, deps, today);
    html! {
        h2 { "PRA clearances ending within " (EXPIRY_DAYS) " days" }
        @if list.is_empty() {
            p { "None: the clearances of your open deployments' instruments run longer than " (EXPIRY_DAYS) " days." }
        } @else {
            p {
                "A deployment stops taking answers when its instrument's clearance ends. Renew the \
                 clearance with OMB, then load the instrument's new version."
            }
            div.cx-table-scroll tabindex="0" role="region" aria-label="PRA clearances ending soon" {
                table.usa-table.usa-table--borderless {
                    caption { "Clearances of instruments in use, soonest first" }
                    thead { tr {
                        th scope="col" { "Instrument" }
                        th scope="col" { "OMB control number" }
                        th scope="col" { "Clearance ends" }
                        th scope="col" { "Open deployments using it" }
                    } }
                    tbody {
                        @for (title, omb, date, days, n) in &list {
                            tr {
                                td { (title) }
                                td { (omb) }
                                td {
                                    (date.to_string())
                                    @if *days < 0 { " (ended)" }
                                    @else if *days == 0 { " (today)" }
                                    @else { " (in " (days) " days)" }
                                }
                                td.text-right { (n) }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_grouped() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1000), "1,000");
        assert_eq!(super::thousands(1234567), "1,234,567");
        assert_eq!(super::thousands(-12345), "-12,345");
    }
}
