//! The quarterly OMB report: per-HISP collections, per-deployment details, v1 scale counts and
//! the trend, aggregated in the database (never by loading responses), in a stable order so the
//! same data always gives the same bytes.

mod aggregate;
pub mod files;
pub mod html;
pub mod seed;
pub mod upload;

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde::Serialize;

use crate::db::schema::{agencies, deployments, hisps, service_volumes, services};
use crate::db::{AnyConnection, Pool};
use crate::definitions::LoadedDefs;
use crate::domain::AgencyId;
use crate::fiscal::FiscalQuarter;
use crate::registry::{Agency, Deployment, DeploymentView, Hisp, Service};
use crate::survey::{sentiment, Instrument, Sentiment, SurveyType, DRIVERS};
pub use aggregate::Counts;
use files::ReportError;

/// Which deployments a report covers.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// Only this agency's (the admin API's key); `None` for the operator's CLI.
    pub agency_id: Option<AgencyId>,
    pub hisp: Option<String>,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct Collection {
    pub fiscal_year: i32,
    pub quarter: u8,
    pub agency: String,
    pub hisp: String,
    pub hisp_name: String,
    pub service: String,
    pub service_name: String,
    pub volume_of_respondents: i64,
    pub trust_positive: i64,
    pub trust_responses: i64,
    pub trust_score: Option<f64>,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct Detail {
    pub fiscal_year: i32,
    pub quarter: u8,
    pub agency: String,
    pub hisp: String,
    pub service: String,
    pub deployment_id: String,
    pub channel: String,
    pub transaction_point: String,
    pub instrument_id: String,
    pub instrument_version: i32,
    pub omb_control_number: String,
    pub federal_register_url: String,
    pub survey_title: String,
    pub survey_type: String,
    pub trust_question_text: String,
    /// Operational volume entered for the service and channel; `None` (blank) if none was.
    pub volume_of_customers: Option<i64>,
    pub volume_of_customers_provided_survey_opportunity: i64,
    pub impressions: i64,
    pub invitations_delivered: i64,
    /// Opportunities the agency entered with the service × channel's volume, if any.
    pub survey_opportunities_entered: Option<i64>,
    /// Set where respondents exceed opportunities: the response rate is then not computable.
    pub warning: Option<String>,
    pub volume_of_respondents: i64,
    pub trust_positive: i64,
    pub trust_negative: i64,
    pub trust_neutral: i64,
    pub trust_score: Option<f64>,
    pub trust_score_ci_low: Option<f64>,
    pub trust_score_ci_high: Option<f64>,
    /// Times each driver was chosen, per list.
    pub went_well: BTreeMap<String, i64>,
    pub went_poorly: BTreeMap<String, i64>,
    pub response_file: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct V1Row {
    pub standardized_question_number: u8,
    pub standardized_question_identifier: String,
    pub customized_question_text: String,
    pub likert: [i64; 5],
    pub response_volume: i64,
    pub notes: String,
    pub start_date: String,
    pub end_date: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct V1Table {
    pub deployment_id: String,
    pub rows: Vec<V1Row>,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct TrendPoint {
    pub agency: String,
    pub hisp: String,
    pub service: String,
    pub fiscal_year: i32,
    pub quarter: u8,
    pub volume_of_respondents: i64,
    pub trust_positive: i64,
    pub trust_score: Option<f64>,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct PraFacts {
    pub instrument_id: String,
    pub version: i32,
    pub title: String,
    pub survey_type: String,
    pub omb_control_number: String,
    pub expiration_date: String,
    pub burden_minutes: u32,
    pub federal_register_url: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct Flag {
    pub deployment_id: String,
    pub kind: String,
    pub detail: String,
}

#[derive(Serialize, Clone, Debug, PartialEq, utoipa::ToSchema)]
pub struct Report {
    pub fiscal_year: i32,
    pub quarter: u8,
    pub time_zone: String,
    /// `[start, end)` in UTC, and the first and last local day.
    pub period_start: String,
    pub period_end: String,
    pub first_day: String,
    pub last_day: String,
    pub hisp: Option<String>,
    pub collections: Vec<Collection>,
    pub details: Vec<Detail>,
    pub v1: Vec<V1Table>,
    pub trend: Vec<TrendPoint>,
    pub instruments: Vec<PraFacts>,
    pub flags: Vec<Flag>,
}

/// One decimal, as OMB's files show it.
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// positive ÷ responses, in percent with one decimal.
pub fn trust_score(positive: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| round1(100.0 * positive as f64 / n as f64))
}

/// Wilson score 95% interval (z = 1.96, no continuity correction), in percent, one decimal.
pub fn wilson(positive: i64, n: i64) -> Option<(f64, f64)> {
    if n <= 0 {
        return None;
    }
    let (z, n, p) = (1.96_f64, n as f64, positive as f64 / n as f64);
    let denom = 1.0 + z * z / n;
    let center = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    Some((
        round1(100.0 * (center - half).max(0.0)),
        round1(100.0 * (center + half).min(1.0)),
    ))
}

pub type Scoped = DeploymentView;

fn scoped_deployments(c: &mut AnyConnection, scope: &Scope) -> QueryResult<Vec<Scoped>> {
    let mut q = deployments::table
        .inner_join(services::table.inner_join(hisps::table.inner_join(agencies::table)))
        .select((
            Deployment::as_select(),
            Service::as_select(),
            Hisp::as_select(),
            Agency::as_select(),
        ))
        .order((
            agencies::slug,
            hisps::slug,
            services::slug,
            deployments::created_at,
            deployments::id,
        ))
        .into_boxed();
    if let Some(a) = &scope.agency_id {
        q = q.filter(deployments::agency_id.eq(a.clone()));
    }
    if let Some(h) = &scope.hisp {
        q = q.filter(hisps::slug.eq(h.clone()));
    }
    Ok(q.load::<(Deployment, Service, Hisp, Agency)>(c)?
        .into_iter()
        .map(|(deployment, service, hisp, agency)| Scoped {
            deployment,
            service,
            hisp,
            agency,
        })
        .collect())
}

fn utc_bounds(fq: FiscalQuarter, tz: Tz) -> (NaiveDateTime, NaiveDateTime) {
    let (s, e) = fq.bounds(tz);
    (s.naive_utc(), e.naive_utc())
}

fn previous(fq: FiscalQuarter) -> FiscalQuarter {
    if fq.quarter == 1 {
        FiscalQuarter {
            year: fq.year - 1,
            quarter: 4,
        }
    } else {
        FiscalQuarter {
            year: fq.year,
            quarter: fq.quarter - 1,
        }
    }
}

/// Builds the report for `fq` from aggregates computed by the database.
pub fn build(
    pool: &Pool,
    defs: &LoadedDefs,
    fq: FiscalQuarter,
    tz: Tz,
    scope: &Scope,
) -> Result<Report, ReportError> {
    let mut conn = pool.get()?;
    let c = &mut *conn;
    let deps = scoped_deployments(c, scope)?;
    let ids: Vec<String> = deps.iter().map(|d| d.deployment.id.clone()).collect();
    let (start, end) = utc_bounds(fq, tz);
    let v1_all = v1_deployments(defs, &deps);
    let quarter = Quarter {
        fq,
        start,
        end,
        counts: aggregate::counts(pool, start, end, &ids, &v1_all)?,
        impressions: aggregate::impressions(pool, start, end, &ids)?,
        volumes: volumes(c, fq)?,
    };
    let (first_day, last_day) = first_and_last_day(fq);
    let rows = detail_rows(c, defs, &quarter, &deps)?;
    let counts = &quarter.counts;

    let v1 = v1_tables(
        defs,
        &deps,
        &rows.v1_ids,
        counts,
        &first_day.to_string(),
        &last_day.to_string(),
    );
    let collections = collections(fq, &deps, &rows.details);
    let trend = trend(pool, defs, fq, tz, &deps, &ids, counts)?;
    let (s, e) = fq.bounds(tz);
    Ok(Report {
        fiscal_year: fq.year,
        quarter: fq.quarter,
        time_zone: tz.name().to_string(),
        period_start: s.to_rfc3339(),
        period_end: e.to_rfc3339(),
        first_day: first_day.to_string(),
        last_day: last_day.to_string(),
        hisp: scope.hisp.clone(),
        collections,
        details: rows.details,
        v1,
        trend,
        instruments: rows.used.into_values().collect(),
        flags: rows.flags,
    })
}

/// The deployments whose latest instrument asks the v1 scale questions.
fn v1_deployments(defs: &LoadedDefs, deps: &[Scoped]) -> Vec<String> {
    deps.iter()
        .filter(|d| {
            defs.latest(&d.deployment.instrument_id)
                .is_some_and(|i| i.survey_type == SurveyType::V1Likert)
        })
        .map(|d| d.deployment.id.clone())
        .collect()
}

/// The quarter's first and last day.
fn first_and_last_day(fq: FiscalQuarter) -> (NaiveDate, NaiveDate) {
    let first_day = fq.first_day();
    let last_day = fq
        .next()
        .first_day()
        .checked_sub_days(Days::new(1))
        .unwrap_or(first_day);
    (first_day, last_day)
}

/// The quarter and what the database counted in it, by deployment id (volumes by service ×
/// channel).
struct Quarter {
    fq: FiscalQuarter,
    start: NaiveDateTime,
    end: NaiveDateTime,
    counts: BTreeMap<String, Counts>,
    impressions: BTreeMap<String, i64>,
    volumes: Volumes,
}

/// What the pass over the deployments collects.
#[derive(Default)]
struct Rows {
    details: Vec<Detail>,
    flags: Vec<Flag>,
    v1_ids: Vec<String>,
    used: BTreeMap<(String, i32), PraFacts>,
}

/// The survey opportunities of one deployment: impressions, invitations delivered and those
/// entered with the volumes.
struct Opportunities {
    volume: Option<i64>,
    impressions: i64,
    invited: i64,
    entered: Option<i64>,
}

impl Opportunities {
    fn total(&self) -> i64 {
        self.impressions + self.invited + self.entered.unwrap_or(0)
    }
}

/// One detail row per deployment with anything to report, in `deps` order, with the flags,
/// the v1 deployments and the instruments used.
fn detail_rows(
    c: &mut AnyConnection,
    defs: &LoadedDefs,
    q: &Quarter,
    deps: &[Scoped],
) -> Result<Rows, ReportError> {
    // An entered opportunity count is the service × channel's: it goes to the first of its
    // deployments in the report, so two deployments sharing a channel do not both count it.
    let mut entered_taken = std::collections::BTreeSet::new();
    let mut rows = Rows::default();
    for d in deps {
        let dep = &d.deployment;
        let agg = q.counts.get(&dep.id).cloned().unwrap_or_default();
        let imps = q.impressions.get(&dep.id).copied().unwrap_or(0);
        let key = (d.service.id.clone(), dep.channel.clone());
        let (volume, entered) = q.volumes.get(&key).copied().unzip();
        let invited = crate::email::delivered(c, &dep.id, q.start, q.end)?;
        if agg.n == 0 && imps == 0 && invited == 0 && volume.is_none() {
            continue;
        }
        let Some(ins) = instrument_of(defs, &dep.instrument_id, &agg) else {
            continue;
        };
        let opp = Opportunities {
            volume,
            impressions: imps,
            invited,
            entered: entered.flatten().filter(|_| entered_taken.insert(key)),
        };
        let warning = opportunity_warning(agg.n, opp.total());
        if let Some(w) = &warning {
            rows.flags.push(Flag {
                deployment_id: dep.id.clone(),
                kind: "opportunity_below_respondents".into(),
                detail: w.clone(),
            });
        }
        if ins.survey_type == SurveyType::V1Likert {
            rows.v1_ids.push(dep.id.clone());
        }
        rows.used
            .entry((ins.id.clone(), ins.version))
            .or_insert_with(|| pra_facts(d, ins));
        rows.details
            .push(detail(defs, q.fq, d, ins, &agg, &opp, warning));
    }
    Ok(rows)
}

fn opportunity_warning(respondents: i64, opportunity: i64) -> Option<String> {
    (opportunity < respondents).then(|| format!(
        "{} respondents but only {} survey opportunities (impressions, invitations delivered and opportunities entered with the volumes); the response rate is not shown. Check that the widget records impressions, or enter the survey opportunities of channels without them (paper, phone, in person)",
        respondents, opportunity
    ))
}

/// A text of `ins` in its first locale, with the deployment's service and agency filled in.
fn in_first_locale(d: &Scoped, ins: &Instrument, m: &crate::survey::Localized) -> String {
    d.fill(m.get(&ins.locales[0]).map_or("", String::as_str))
}

fn pra_facts(d: &Scoped, ins: &Instrument) -> PraFacts {
    PraFacts {
        instrument_id: ins.id.clone(),
        version: ins.version,
        title: in_first_locale(d, ins, &ins.title),
        survey_type: ins.survey_type.omb_name().into(),
        omb_control_number: ins.pra.omb_control_number.to_string(),
        expiration_date: ins.pra.expiration_date.to_string(),
        burden_minutes: ins.pra.burden_minutes,
        federal_register_url: ins.pra.federal_register_url.clone(),
    }
}

fn detail(
    defs: &LoadedDefs,
    fq: FiscalQuarter,
    d: &Scoped,
    ins: &Instrument,
    agg: &Counts,
    opp: &Opportunities,
    warning: Option<String>,
) -> Detail {
    let dep = &d.deployment;
    let (pos, neg, neu) = classify(defs, &dep.instrument_id, agg);
    let ci = wilson(pos, agg.n);
    let named = |counts: &[i64; 7]| -> BTreeMap<String, i64> {
        DRIVERS
            .iter()
            .zip(counts)
            .map(|(k, n)| (k.to_string(), *n))
            .collect()
    };
    Detail {
        fiscal_year: fq.year,
        quarter: fq.quarter,
        agency: d.agency.slug.clone(),
        hisp: d.hisp.slug.clone(),
        service: d.service.slug.clone(),
        deployment_id: dep.id.clone(),
        channel: dep.channel.clone(),
        transaction_point: dep.transaction_point.clone(),
        instrument_id: ins.id.clone(),
        instrument_version: ins.version,
        omb_control_number: ins.pra.omb_control_number.to_string(),
        federal_register_url: ins.pra.federal_register_url.clone(),
        survey_title: in_first_locale(d, ins, &ins.title),
        survey_type: ins.survey_type.omb_name().into(),
        trust_question_text: in_first_locale(d, ins, &ins.trust().text),
        volume_of_customers: opp.volume,
        volume_of_customers_provided_survey_opportunity: opp.total(),
        impressions: opp.impressions,
        invitations_delivered: opp.invited,
        survey_opportunities_entered: opp.entered,
        warning,
        volume_of_respondents: agg.n,
        trust_positive: pos,
        trust_negative: neg,
        trust_neutral: neu,
        trust_score: trust_score(pos, agg.n),
        trust_score_ci_low: ci.map(|c| c.0),
        trust_score_ci_high: ci.map(|c| c.1),
        went_well: named(&agg.positive),
        went_poorly: named(&agg.negative),
        response_file: format!("responses/{}.csv", dep.id),
    }
}

/// Per (service id, channel): customers, and the survey opportunities entered if any.
type Volumes = BTreeMap<(String, String), (i64, Option<i64>)>;

/// The service × channel volumes of the quarter.
fn volumes(c: &mut AnyConnection, fq: FiscalQuarter) -> QueryResult<Volumes> {
    use service_volumes as v;
    Ok(v::table
        .filter(
            v::fiscal_year
                .eq(fq.year)
                .and(v::quarter.eq(fq.quarter as i16)),
        )
        .select((
            v::service_id,
            v::channel,
            v::volume_of_customers,
            v::survey_opportunities,
        ))
        .load::<(String, String, i64, Option<i64>)>(c)?
        .into_iter()
        .map(|(s, ch, n, o)| ((s, ch), (n, o)))
        .collect())
}

/// The definition a deployment's row names: the newest version that collected its responses
/// this quarter, else the newest known (from the files, or the database if its file is gone).
fn instrument_of<'a>(defs: &'a LoadedDefs, id: &str, agg: &Counts) -> Option<&'a Instrument> {
    agg.trust_by_version
        .keys()
        .next_back()
        .and_then(|v| defs.version(id, *v))
        .or_else(|| defs.latest(id))
}

/// (positive, negative, neutral) trust answers, each read with the version it answered.
fn classify(defs: &LoadedDefs, id: &str, agg: &Counts) -> (i64, i64, i64) {
    let (mut pos, mut neg, mut neu) = (0, 0, 0);
    for (version, counts) in &agg.trust_by_version {
        let Some(kind) = defs.version(id, *version).map(|i| i.trust().kind) else {
            continue;
        };
        for (value, n) in counts.iter().enumerate() {
            match sentiment(kind, value as i16) {
                _ if *n == 0 => {}
                Sentiment::Positive => pos += n,
                Sentiment::Negative => neg += n,
                Sentiment::Neutral => neu += n,
            }
        }
    }
    (pos, neg, neu)
}

/// One row per agency × HISP × service present in the details, in the details' order.
fn collections(fq: FiscalQuarter, deps: &[Scoped], details: &[Detail]) -> Vec<Collection> {
    let mut out: Vec<Collection> = vec![];
    for det in details {
        let d = deps
            .iter()
            .find(|d| d.deployment.id == det.deployment_id)
            .expect("detail of a scoped deployment");
        let same = |c: &Collection| {
            c.agency == det.agency && c.hisp == det.hisp && c.service == det.service
        };
        if !out.last().is_some_and(same) {
            out.push(Collection {
                fiscal_year: fq.year,
                quarter: fq.quarter,
                agency: det.agency.clone(),
                hisp: det.hisp.clone(),
                hisp_name: d.hisp.name.clone(),
                service: det.service.clone(),
                service_name: d.service.name.clone(),
                volume_of_respondents: 0,
                trust_positive: 0,
                trust_responses: 0,
                trust_score: None,
            });
        }
        let c = out.last_mut().expect("just pushed");
        c.volume_of_respondents += det.volume_of_respondents;
        c.trust_positive += det.trust_positive;
        c.trust_responses += det.volume_of_respondents;
        c.trust_score = trust_score(c.trust_positive, c.trust_responses);
    }
    out
}

/// Trust per service over this quarter and the three before it, oldest first.
fn trend(
    pool: &Pool,
    defs: &LoadedDefs,
    fq: FiscalQuarter,
    tz: Tz,
    deps: &[Scoped],
    ids: &[String],
    current: &BTreeMap<String, Counts>,
) -> Result<Vec<TrendPoint>, ReportError> {
    let mut quarters = vec![fq];
    for _ in 0..3 {
        quarters.push(previous(*quarters.last().expect("non-empty")));
    }
    quarters.reverse();
    let mut out = vec![];
    for q in quarters {
        let counts = if q == fq {
            current.clone()
        } else {
            let (s, e) = utc_bounds(q, tz);
            // Trust only: no v1 scale counts needed for the trend.
            aggregate::counts(pool, s, e, ids, &[])?
        };
        // Every service in scope, so a quarter without responses shows as such.
        let mut by_service: BTreeMap<(String, String, String), (i64, i64)> = deps
            .iter()
            .map(|d| {
                (
                    (
                        d.agency.slug.clone(),
                        d.hisp.slug.clone(),
                        d.service.slug.clone(),
                    ),
                    (0, 0),
                )
            })
            .collect();
        for d in deps {
            let Some(agg) = counts.get(&d.deployment.id) else {
                continue;
            };
            let (pos, _, _) = classify(defs, &d.deployment.instrument_id, agg);
            let e = by_service
                .entry((
                    d.agency.slug.clone(),
                    d.hisp.slug.clone(),
                    d.service.slug.clone(),
                ))
                .or_default();
            e.0 += agg.n;
            e.1 += pos;
        }
        for ((agency, hisp, service), (n, pos)) in by_service {
            out.push(TrendPoint {
                agency,
                hisp,
                service,
                fiscal_year: q.year,
                quarter: q.quarter,
                volume_of_respondents: n,
                trust_positive: pos,
                trust_score: trust_score(pos, n),
            });
        }
    }
    Ok(out)
}

fn v1_tables(
    defs: &LoadedDefs,
    deps: &[Scoped],
    v1_ids: &[String],
    counts: &BTreeMap<String, Counts>,
    first_day: &str,
    last_day: &str,
) -> Vec<V1Table> {
    let mut out = vec![];
    for id in v1_ids {
        let d = deps
            .iter()
            .find(|d| &d.deployment.id == id)
            .expect("scoped");
        let agg = counts.get(id).cloned().unwrap_or_default();
        let Some(ins) = instrument_of(defs, &d.deployment.instrument_id, &agg) else {
            continue;
        };
        let mut rows = vec![];
        let mut qs: Vec<_> = ins
            .questions
            .iter()
            .filter(|q| q.standard_number.is_some())
            .collect();
        qs.sort_by_key(|q| q.standard_number);
        for q in qs {
            let likert = counts.get(id).map(|k| k.scale(&q.key)).unwrap_or_default();
            let text = q.text.get(&ins.locales[0]).cloned().unwrap_or_default();
            rows.push(V1Row {
                standardized_question_number: q.standard_number.unwrap_or(0),
                standardized_question_identifier: q.key.clone(),
                customized_question_text: d.fill(&text),
                response_volume: likert.iter().sum(),
                likert,
                notes: String::new(),
                start_date: first_day.to_string(),
                end_date: last_day.to_string(),
            });
        }
        out.push(V1Table {
            deployment_id: id.clone(),
            rows,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_by_hand() {
        // 8 of 10: p = .8, centre = (.8 + .19208) / 1.38416 = .71674, half = .22658 → 49.0–94.3
        assert_eq!(wilson(8, 10), Some((49.0, 94.3)));
        assert_eq!(wilson(0, 0), None);
        assert_eq!(wilson(0, 5), Some((0.0, 43.4)));
        assert_eq!(wilson(5, 5), Some((56.6, 100.0)));
        assert_eq!(trust_score(2, 3), Some(66.7));
    }
}
