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
use crate::domain::AgencyId;
use crate::error::{ApiError, FieldError};
use crate::intake::answers;
use crate::registry::Deployment;
use crate::report::upload::UPLOAD_HEADER;
use crate::responses::{insert_batch, NewResponse};
use crate::survey::{pra, Instrument, Polarity, QuestionType, DRIVERS};

pub const IMPORT_LIMIT: usize = 16 * 1024 * 1024;
/// The file is read no further once this many problems were found.
pub const MAX_ERRORS: usize = 100;

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
    let deployment = owned_deployment(&state, &key.agency_id, &path).await?;
    let body = read_body(&req, payload, IMPORT_LIMIT).await?;
    let rows = checked_rows(&state, &deployment, &body)?;
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

/// Deployment `raw_id` of `agency`, or `404`.
pub async fn owned_deployment(
    state: &AppState,
    agency: &AgencyId,
    raw_id: &str,
) -> Result<Deployment, ApiError> {
    let (agency, id) = (agency.clone(), crate::paths::deployment_id(raw_id)?);
    state
        .db(move |c| {
            crate::registry::find_deployment(c, &agency, &id)?
                .ok_or(ApiError::NotFound("deployment"))
        })
        .await
}

/// The file's rows for `deployment`, checked as its instrument and PRA clearance require, or
/// every problem by line (`422`). Nothing is stored: `store` does that.
pub fn checked_rows(
    state: &AppState,
    deployment: &Deployment,
    body: &[u8],
) -> Result<Vec<(u64, NewResponse)>, ApiError> {
    let ins = state
        .instrument(&deployment.instrument_id)
        .ok_or_else(|| ApiError::internal("instrument not loaded"))?;
    parse_csv(body, ins, deployment, state.settings.report_tz)
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
    let header = header(&mut rdr)?;
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

/// The file's column names, each known and there once, all there.
fn header(rdr: &mut csv::Reader<&[u8]>) -> Result<Vec<String>, ApiError> {
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
    Ok(header)
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
    if let Err(e) = check_external_id(&ext, seen) {
        errs.push(e);
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
    driver_lists(&get, ins, &mut a, &mut errs);
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
    let valid = answers::validate(&a, ins, "answers")
        .map_err(|list| list.into_iter().map(as_column).collect::<Vec<_>>());
    match (valid, submitted_at, errs.is_empty()) {
        (Ok(v), Some(t), true) => Ok((ext, t, v)),
        (Err(more), _, _) => {
            errs.extend(more);
            Err(errs)
        }
        _ => Err(errs),
    }
}

/// An external id: 1 to 200 characters, once in the file (`seen` holds those met before).
fn check_external_id(ext: &str, seen: &mut HashSet<String>) -> Result<(), FieldError> {
    if ext.is_empty() || ext.len() > 200 {
        Err(FieldError::new(
            "external_id",
            "must be 1 to 200 characters",
        ))
    } else if !seen.insert(ext.to_string()) {
        Err(FieldError::new(
            "external_id",
            format!("{ext:?} appears twice in the file"),
        ))
    } else {
        Ok(())
    }
}

/// The `positive_*` and `negative_*` driver columns as the instrument's two driver lists in
/// `a`; a list with nothing chosen is left out.
fn driver_lists<'a>(
    get: &impl Fn(&str) -> &'a str,
    ins: &Instrument,
    a: &mut Map<String, Value>,
    errs: &mut Vec<FieldError>,
) {
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
}

/// An answer's problem under the upload column it came from.
fn as_column(e: FieldError) -> FieldError {
    let field = match e.field.as_str() {
        "answers.trust" => "question_1".to_string(),
        "answers.comments" => "question_4".to_string(),
        f => f
            .replace("answers.went_well", "positive_drivers")
            .replace("answers.went_poorly", "negative_drivers"),
    };
    FieldError::new(field, e.detail)
}

/// Stores checked rows all or nothing: a row whose `external_id` this deployment already has
/// refuses the whole file (`422`, each such line named). Nested in the caller's transaction,
/// if any (the console's audit line).
pub fn store(c: &mut AnyConnection, rows: Vec<(u64, NewResponse)>) -> Result<(), ApiError> {
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn instrument(file: &str) -> Instrument {
        let path = format!("{}/survey-defs/{file}.json", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    const TZ: Tz = chrono_tz::America::New_York;

    /// `row` on cells given as (column, value); the others are empty.
    fn parse(
        file: &str,
        cells: &[(&'static str, &'static str)],
        seen: &mut HashSet<String>,
    ) -> Result<Parsed, Vec<(String, String)>> {
        let cells: HashMap<&str, &'static str> = cells.iter().copied().collect();
        row(
            |k| cells.get(k).copied().unwrap_or(""),
            &instrument(file),
            TZ,
            seen,
        )
        .map_err(|errs| errs.into_iter().map(|e| (e.field, e.detail)).collect())
    }

    const AT: (&str, &str) = ("submitted_at", "2026-01-15T14:30:00-05:00");

    #[test]
    fn a_row_becomes_the_answers_a_respondent_would_send() {
        let (ext, at, valid) = parse(
            "a11-v2-thumbs",
            &[
                ("external_id", "p-1"),
                AT,
                ("question_1", "1"),
                ("positive_ease", "1"),
                ("positive_other", "0"),
                ("negative_ease", "null"),
                ("question_4", " kind staff "),
            ],
            &mut HashSet::new(),
        )
        .unwrap();
        assert_eq!(ext, "p-1");
        assert_eq!(at.to_string(), "2026-01-15 19:30:00");
        assert_eq!(valid.trust, Some(1));
        assert_eq!(
            valid.drivers_positive,
            crate::survey::driver_bit("ease").unwrap()
        );
        assert_eq!(valid.comment.as_deref(), Some("kind staff"));
    }

    #[test]
    fn external_ids_are_required_and_unique_in_the_file() {
        let mut seen = HashSet::new();
        let cells = [("external_id", "p-1"), AT, ("question_1", "0")];
        assert!(parse("a11-v2-thumbs", &cells, &mut seen).is_ok());
        assert_eq!(
            parse("a11-v2-thumbs", &cells, &mut seen).unwrap_err(),
            vec![(
                "external_id".to_string(),
                "\"p-1\" appears twice in the file".to_string()
            )]
        );
        let errs = parse("a11-v2-thumbs", &[AT, ("question_1", "0")], &mut seen).unwrap_err();
        assert_eq!(errs[0].1, "must be 1 to 200 characters");
    }

    #[test]
    fn bad_cells_are_named_by_their_column() {
        let errs = parse(
            "a11-v1",
            &[
                ("external_id", "p-2"),
                ("submitted_at", "yesterday"),
                ("question_1", "four"),
                ("positive_ease", "1"),
                ("negative_other", "yes"),
            ],
            &mut HashSet::new(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            fields,
            vec![
                "submitted_at",
                "question_1",
                "positive_ease",
                "negative_other",
                "question_1"
            ]
        );
        assert_eq!(
            errs[2].1,
            "this instrument does not offer that driver; use null"
        );
        assert_eq!(errs[3].1, "must be 1, 0 or null");
        assert_eq!(errs[4].1, "is required");
    }

    #[test]
    fn answers_rules_apply_under_the_upload_columns() {
        let errs = parse(
            "a11-v2-thumbs",
            &[
                ("external_id", "p-3"),
                AT,
                ("question_1", "1"),
                ("negative_ease", "1"),
            ],
            &mut HashSet::new(),
        )
        .unwrap_err();
        assert_eq!(
            errs,
            vec![(
                "negative_drivers".to_string(),
                "this list is not shown for the given trust answer".to_string()
            )]
        );
    }

    #[test]
    fn submitted_at_must_fall_within_the_clearance_and_not_ahead() {
        let ins = instrument("a11-v2-thumbs");
        assert!(submitted_at("2026-01-15T14:30:00Z", &ins, TZ).is_ok());
        let future = (Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
        assert_eq!(
            submitted_at(&future, &ins, TZ).unwrap_err().detail,
            "is in the future"
        );
        let mut expired = ins.clone();
        expired.pra.expiration_date = chrono::NaiveDate::from_ymd_opt(2026, 1, 14).unwrap();
        // The clearance ends with its last day in the report time zone (UTC-5 in January).
        assert!(submitted_at("2026-01-15T04:59:59Z", &expired, TZ).is_ok());
        let after = submitted_at("2026-01-15T05:00:00Z", &expired, TZ).unwrap_err();
        assert!(
            after.detail.starts_with("is after the PRA clearance"),
            "{}",
            after.detail
        );
        assert!(submitted_at("2026-01-15 14:30", &ins, TZ).is_err());
    }

    #[test]
    fn the_header_names_each_column_once() {
        let ok = format!("{},submitted_at\n", UPLOAD_HEADER.join(","));
        assert!(header(&mut csv::Reader::from_reader(ok.as_bytes())).is_ok());
        let bad = format!("\u{feff}{},question_1,colour\n", UPLOAD_HEADER.join(","));
        let Err(ApiError::Invalid(errs)) = header(&mut csv::Reader::from_reader(bad.as_bytes()))
        else {
            panic!("accepted")
        };
        let details: Vec<&str> = errs.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(
            details,
            vec![
                "line 1: column \"question_1\" appears twice",
                "line 1: unknown column \"colour\"",
                "line 1: missing column \"submitted_at\"",
            ]
        );
    }
}
