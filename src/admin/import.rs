//! Responses collected on paper, by phone or at a kiosk, uploaded in the OMB response upload
//! format plus `submitted_at`. All-or-nothing: one bad row rejects the file, and so does a row
//! answered when its instrument's PRA clearance did not cover it (after it ended, or in the future).

use std::collections::HashSet;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use chrono_tz::Tz;
use diesel::prelude::*;
use serde_json::{Map, Value};

use super::AdminKey;
use crate::app::AppState;
use crate::body::read_body;
use crate::csv_lines;
use crate::db::schema::responses;
use crate::db::{self, AnyConnection};
use crate::error::{ApiError, FieldError};
use crate::intake::answers;
use crate::registry::Deployment;
use crate::report::upload::UPLOAD_HEADER;
use crate::responses::{insert_batch, NewResponse};
use crate::survey::{pra, Instrument, Polarity, QuestionType, DRIVERS};

pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;
const MAX_ERRORS: usize = 100;

#[utoipa::path(post, path = "/api/v1/admin/deployments/{id}/responses/import", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = String, content_type = "text/csv", description = "OMB upload header + submitted_at; \
        a submitted_at in the future or after the instrument's PRA clearance ended (end of its expiration date in CX_REPORT_TZ) refuses the file"),
    responses((status = 201, body = Imported, headers(("Location" = String, description = "The deployment's responses in the export: /api/v1/admin/responses?deployment={id}&format=json"))), (status = 404, body = crate::error::Problem),
              (status = 413, body = crate::error::Problem), (status = 415, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem, description = "every bad row, each with its line (where the row starts); nothing stored")))]
pub async fn import_responses(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let ctype = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype.starts_with("text/csv") {
        return Err(ApiError::field("Content-Type", "must be text/csv"));
    }
    let agency = key.agency_id.clone();
    let id = crate::paths::deployment_id(&path)?;
    let deployment = state
        .db(move |c| {
            crate::registry::find_deployment(c, &agency, &id)?
                .ok_or(ApiError::NotFound("deployment"))
        })
        .await?;
    let body = read_body(&req, payload, IMPORT_LIMIT).await?;
    let ins = state
        .instrument(&deployment.instrument_id)
        .ok_or_else(|| ApiError::internal("instrument not loaded"))?;
    let rows = parse_csv(&body, ins, &deployment, state.settings.report_tz)?;
    let count = rows.len();
    state.db(move |c| store(c, rows)).await?;
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!(
                "/api/v1/admin/responses?deployment={}&format=json",
                deployment.id
            ),
        ))
        .json(Imported { imported: count }))
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Imported {
    /// Responses stored.
    pub imported: usize,
}

/// (line, row) pairs ready to insert, or every problem found (up to a cap). `tz` is the report
/// time zone, in which the instrument's PRA clearance ends.
pub fn parse_csv(
    body: &[u8],
    ins: &Instrument,
    deployment: &Deployment,
    tz: Tz,
) -> Result<Vec<(u64, NewResponse)>, ApiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(body);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| {
            ApiError::Invalid(vec![FieldError::new(
                "header",
                format!("unreadable CSV: {e}"),
            )
            .at_line(1)])
        })?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut expected: Vec<&str> = UPLOAD_HEADER.to_vec();
    expected.push("submitted_at");
    let mut herrs = vec![];
    for (i, h) in header.iter().enumerate() {
        if !expected.contains(&h.as_str()) {
            herrs.push(FieldError::new("header", format!("unknown column {h:?}")).at_line(1));
        } else if header[..i].contains(h) {
            herrs.push(FieldError::new("header", format!("column {h:?} appears twice")).at_line(1));
        }
    }
    for e in &expected {
        if !header.iter().any(|h| h == e) {
            herrs.push(FieldError::new("header", format!("missing column {e:?}")).at_line(1));
        }
    }
    if !herrs.is_empty() {
        return Err(ApiError::Invalid(herrs));
    }
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .expect("checked above")
    };
    let mut errs = vec![];
    let mut out = vec![];
    let mut seen = HashSet::new();
    for (line, rec) in csv_lines::records(&mut rdr, body) {
        if errs.len() >= MAX_ERRORS {
            break;
        }
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let why = format!("unreadable row: {}", csv_lines::describe(&e));
                errs.push(FieldError::new("row", why).at_line(line));
                continue;
            }
        };
        let get = |name: &str| rec.get(col(name)).unwrap_or("").trim();
        match row(get, ins, tz, &mut seen) {
            Ok((ext, submitted_at, valid)) => out.push((
                line,
                NewResponse {
                    external_id: Some(ext),
                    submitted_at,
                    ..NewResponse::counted(deployment, ins, "import", valid)
                },
            )),
            Err(list) => errs.extend(list.into_iter().map(|e| e.at_line(line))),
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    if out.is_empty() {
        return Err(ApiError::Invalid(vec![FieldError::new(
            "body",
            "the file has no rows",
        )]));
    }
    Ok(out)
}

type Parsed = (String, NaiveDateTime, answers::ValidAnswers);

/// When the row was answered: a time its instrument's PRA clearance covered. Paper collected
/// after the clearance ended (or dated in the future) was not lawfully collected under it, so
/// it is refused rather than counted.
fn submitted_at(raw: &str, ins: &Instrument, tz: Tz) -> Result<NaiveDateTime, FieldError> {
    let t = DateTime::parse_from_rfc3339(raw)
        .map_err(|_| {
            FieldError::new(
                "submitted_at",
                "must be an RFC 3339 timestamp, e.g. 2026-01-15T14:30:00-05:00",
            )
        })?
        .with_timezone(&Utc);
    // Five minutes allow for the uploader's clock running ahead of ours.
    if t > Utc::now() + chrono::Duration::minutes(5) {
        return Err(FieldError::new("submitted_at", "is in the future"));
    }
    if t >= pra::clearance_ends(ins.pra.expiration_date, tz) {
        return Err(FieldError::new(
            "submitted_at",
            format!(
                "is after the PRA clearance (OMB control number {}) expired on {} (end of day, {tz}); \
                 responses collected without a valid clearance cannot be counted",
                ins.pra.omb_control_number, ins.pra.expiration_date
            ),
        ));
    }
    Ok(t.naive_utc().trunc_subsecs(6))
}

fn row<'a>(
    get: impl Fn(&str) -> &'a str,
    ins: &Instrument,
    tz: Tz,
    seen: &mut HashSet<String>,
) -> Result<Parsed, Vec<FieldError>> {
    let mut errs = vec![];
    let ext = get("external_id").to_string();
    if ext.is_empty() || ext.len() > 200 {
        errs.push(FieldError::new(
            "external_id",
            "must be 1 to 200 characters",
        ));
    } else if !seen.insert(ext.clone()) {
        errs.push(FieldError::new(
            "external_id",
            format!("{ext:?} appears twice in the file"),
        ));
    }
    let submitted_at = submitted_at(get("submitted_at"), ins, tz)
        .map_err(|e| errs.push(e))
        .ok();
    // Rebuild the answers a live respondent would have sent, then apply the same rules.
    let mut a = Map::new();
    let q1 = get("question_1");
    if !q1.is_empty() {
        match q1.parse::<i64>() {
            Ok(n) => drop(a.insert("trust".into(), Value::from(n))),
            Err(_) => errs.push(FieldError::new("question_1", "must be a whole number")),
        }
    }
    for (polarity, prefix) in [
        (Polarity::Positive, "positive"),
        (Polarity::Negative, "negative"),
    ] {
        let offered = ins.offered_drivers(polarity);
        let list_key = ins
            .questions
            .iter()
            .find(|q| q.kind == QuestionType::Drivers && q.polarity == Some(polarity))
            .map(|q| q.key.clone());
        let mut chosen = vec![];
        for (bit, d) in DRIVERS.iter().enumerate() {
            let name = format!("{prefix}_{d}");
            match get(&name) {
                "1" if offered & (1 << bit) != 0 => chosen.push(Value::from(*d)),
                "1" => errs.push(FieldError::new(
                    name,
                    "this instrument does not offer that driver; use null",
                )),
                "0" | "" | "null" => {}
                _ => errs.push(FieldError::new(name, "must be 1, 0 or null")),
            }
        }
        if let (Some(k), false) = (list_key, chosen.is_empty()) {
            a.insert(k, Value::Array(chosen));
        }
    }
    let q4 = get("question_4");
    if !q4.is_empty() {
        if ins.question("comments").is_some() {
            a.insert("comments".into(), Value::from(q4));
        } else {
            errs.push(FieldError::new(
                "question_4",
                "this instrument has no comments question",
            ));
        }
    }
    let valid = answers::validate(&a, ins, "answers").map_err(|list| {
        list.into_iter()
            .map(|e| {
                let field = match e.field.as_str() {
                    "answers.trust" => "question_1".to_string(),
                    "answers.comments" => "question_4".to_string(),
                    f => f
                        .replace("answers.went_well", "positive_drivers")
                        .replace("answers.went_poorly", "negative_drivers"),
                };
                FieldError::new(field, e.detail)
            })
            .collect::<Vec<_>>()
    });
    match (valid, submitted_at, errs.is_empty()) {
        (Ok(v), Some(t), true) => Ok((ext, t, v)),
        (Err(more), _, _) => {
            errs.extend(more);
            Err(errs)
        }
        _ => Err(errs),
    }
}

fn store(c: &mut AnyConnection, rows: Vec<(u64, NewResponse)>) -> Result<(), ApiError> {
    c.transaction::<_, ApiError, _>(|c| {
        let dep = rows[0].1.deployment_id.clone();
        let mut dup = vec![];
        for chunk in rows.chunks(500) {
            let ids: Vec<&str> = chunk
                .iter()
                .filter_map(|(_, r)| r.external_id.as_deref())
                .collect();
            let found: Vec<Option<String>> = responses::table
                .filter(
                    responses::deployment_id
                        .eq(&dep)
                        .and(responses::external_id.eq_any(&ids)),
                )
                .select(responses::external_id)
                .load(c)?;
            let found: HashSet<String> = found.into_iter().flatten().collect();
            for (line, r) in chunk {
                if r.external_id.as_ref().is_some_and(|e| found.contains(e)) {
                    dup.push(
                        FieldError::new("external_id", "was already imported for this deployment")
                            .at_line(*line),
                    );
                }
            }
        }
        if !dup.is_empty() {
            return Err(ApiError::Invalid(dup));
        }
        let plain: Vec<NewResponse> = rows.into_iter().map(|(_, r)| r).collect();
        insert_batch(c, &plain, &[]).map_err(|e| {
            if db::is_unique_violation(&e) {
                ApiError::field("external_id", "a row was imported concurrently; retry")
            } else {
                e.into()
            }
        })?;
        Ok(())
    })
}
