//! Response export (CSV or JSON, streamed), triage with an audit log.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::response_query::{self, Filter, Key, Order};
use super::AdminKey;
use crate::app::AppState;
use crate::body::json_body;
use crate::db::schema::{deployments, response_audit, responses};
use crate::db::{self, to_utc, AnyConnection};
use crate::domain::{AgencyId, ResponseStatus};
use crate::error::{ApiError, FieldError};
use crate::fiscal::FiscalQuarter;
use crate::report::upload::{csv_safe, driver_cells, UPLOAD_HEADER};

pub use super::response_query::ResponseRow;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    pub deployment: Option<String>,
    pub fiscal_year: Option<i32>,
    pub quarter: Option<u8>,
    pub status: Option<String>,
    pub format: Option<String>,
}

fn parse_filter(
    state: &AppState,
    key: &AdminKey,
    q: ExportQuery,
) -> Result<(Filter, bool), ApiError> {
    let mut errs = vec![];
    let csv = match q.format.as_deref() {
        None | Some("csv") => true,
        Some("json") => false,
        Some(_) => {
            errs.push(FieldError::new("format", "must be csv or json"));
            true
        }
    };
    let tz = state.settings.report_tz;
    let (from, to) = match (q.fiscal_year, q.quarter) {
        (None, None) => (None, None),
        (Some(y), Some(qn)) => match FiscalQuarter::new(y, qn) {
            Ok(fq) => {
                let (a, b) = fq.bounds(tz);
                (Some(a.naive_utc()), Some(b.naive_utc()))
            }
            Err(e) => {
                errs.push(FieldError::new("quarter", e));
                (None, None)
            }
        },
        (Some(y), None) => match (FiscalQuarter::new(y, 1), FiscalQuarter::new(y, 4)) {
            (Ok(a), Ok(b)) => (
                Some(a.bounds(tz).0.naive_utc()),
                Some(b.bounds(tz).1.naive_utc()),
            ),
            (Err(e), _) | (_, Err(e)) => {
                errs.push(FieldError::new("fiscal_year", e));
                (None, None)
            }
        },
        (None, Some(_)) => {
            errs.push(FieldError::new("fiscal_year", "is required with quarter"));
            (None, None)
        }
    };
    let status = q.status.as_deref().and_then(|s| {
        let parsed = ResponseStatus::parse(s);
        if parsed.is_none() {
            errs.push(FieldError::new(
                "status",
                format!("must be one of {}", ResponseStatus::words()),
            ));
        }
        parsed
    });
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    Ok((
        Filter {
            agency_id: key.agency_id.clone(),
            deployment: q.deployment,
            from,
            to,
            status,
            words: vec![],
        },
        csv,
    ))
}

const EXPORT_COLUMNS: [&str; 10] = [
    "id",
    "external_id",
    "deployment_id",
    "instrument_id",
    "instrument_version",
    "submitted_at",
    "status",
    "source",
    "channel",
    "locale",
];

fn csv_record(state: &AppState, r: &ResponseRow) -> Vec<String> {
    let ins = state.defs.version(&r.instrument_id, r.instrument_version);
    let mut rec = vec![
        r.id.clone(),
        r.external_id.clone().unwrap_or_default(),
        r.deployment_id.clone(),
        r.instrument_id.clone(),
        r.instrument_version.to_string(),
        to_utc(r.submitted_at).to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        r.status.to_string(),
        r.source.clone(),
        r.channel.clone(),
        r.locale.clone(),
        r.trust.map(|t| t.to_string()).unwrap_or_default(),
    ];
    rec.extend(driver_cells(ins, r.drivers_positive, r.drivers_negative));
    rec.push(r.comment.clone().unwrap_or_default());
    rec.push(r.answers.clone());
    rec.into_iter().map(|c| csv_safe(&c)).collect()
}

fn json_record(r: &ResponseRow) -> serde_json::Value {
    serde_json::json!({
        "id": r.id,
        "external_id": r.external_id,
        "deployment_id": r.deployment_id,
        "instrument": {"id": r.instrument_id, "version": r.instrument_version},
        "submitted_at": to_utc(r.submitted_at),
        "status": r.status,
        "source": r.source,
        "channel": r.channel,
        "locale": r.locale,
        "answers": serde_json::from_str::<serde_json::Value>(&r.answers).unwrap_or_default(),
    })
}

/// Rows per keyset page: one query on a connection of the export pool, which goes back to the
/// pool before the page is sent, so a client that reads slowly holds no connection.
const PAGE_ROWS: i64 = 2000;
/// How long a later page may wait for a connection of the export pool (a report can hold most
/// of it for a while) before the export is given up and the transfer cut.
const PAGE_WAIT: Duration = Duration::from_secs(30);

/// An export that failed is logged and counted; `stage` is `start` (answered with an error
/// status) or `stream` (the transfer is cut after its `200`).
fn export_failed(stage: &'static str, e: &ApiError) {
    crate::metrics::metrics()
        .export_failures
        .with_label_values(&[stage])
        .inc();
    tracing::error!(stage, error = ?e, "response export failed");
}

/// Where an export stands between two pages.
struct Cursor {
    state: web::Data<AppState>,
    filter: Arc<Filter>,
    csv: bool,
    after: Option<Key>,
    /// JSON: a record was written, so the next one needs a comma.
    any: bool,
    done: bool,
}

impl Cursor {
    /// The CSV header row, or the opening of the JSON object.
    fn head(&self) -> Vec<u8> {
        if !self.csv {
            return b"{\"responses\":[".to_vec();
        }
        let mut w = csv::Writer::from_writer(vec![]);
        let mut h: Vec<&str> = EXPORT_COLUMNS.to_vec();
        h.extend(UPLOAD_HEADER.iter().skip(1));
        h.push("answers");
        let _ = w.write_record(&h);
        w.into_inner().unwrap_or_default()
    }

    /// Appends `rows` to `buf` and remembers where the next page starts; a short page is the
    /// last one, and closes the JSON.
    fn encode(&mut self, rows: &[(ResponseRow, String)], mut buf: Vec<u8>) -> web::Bytes {
        if let Some((last, _)) = rows.last() {
            self.after = Some((last.submitted_at, last.id.clone()));
        }
        if self.csv {
            let mut w = csv::Writer::from_writer(&mut buf);
            for (r, _) in rows {
                let _ = w.write_record(csv_record(&self.state, r));
            }
            drop(w);
        } else {
            for (r, _) in rows {
                if self.any {
                    buf.push(b',');
                }
                self.any = true;
                let _ = serde_json::to_writer(&mut buf, &json_record(r));
            }
        }
        self.done = (rows.len() as i64) < PAGE_ROWS;
        if self.done && !self.csv {
            buf.extend_from_slice(b"]}");
        }
        web::Bytes::from(buf)
    }

    /// Reads and encodes the next page (after `head` on the first) on a blocking thread: both
    /// take milliseconds a page, too long for an async worker that also serves intake. `wait`
    /// bounds the wait for a connection, which is back in the pool before the bytes are sent.
    async fn page(mut self, head: bool, wait: Duration) -> Result<(web::Bytes, Cursor), ApiError> {
        web::block(move || {
            let mut c = self.state.export_pool.get_timeout(wait)?;
            let rows = response_query::page(
                &mut c,
                &self.filter,
                self.after.as_ref(),
                Order::OldestFirst,
                PAGE_ROWS,
            )?;
            drop(c);
            let buf = if head { self.head() } else { vec![] };
            let bytes = self.encode(&rows, buf);
            Ok((bytes, self))
        })
        .await?
    }

    /// The next page's bytes, `None` after the last; an error cuts the transfer.
    async fn next(self) -> Result<Option<(web::Bytes, Cursor)>, ApiError> {
        if self.done {
            return Ok(None);
        }
        let (bytes, cur) = self
            .page(false, PAGE_WAIT)
            .await
            .inspect_err(|e| export_failed("stream", e))?;
        Ok(Some((bytes, cur)))
    }
}

/// Streams every matching response of the caller's agency, oldest first.
#[utoipa::path(get, path = "/api/v1/admin/responses", tag = "admin", security(("bearer" = [])),
    params(("deployment" = Option<String>, Query), ("fiscal_year" = Option<i32>, Query), ("quarter" = Option<u8>, Query),
           ("status" = Option<String>, Query), ("format" = Option<String>, Query, description = "csv (default) or json")),
    responses((status = 200, description = "CSV or {\"responses\": [...]}, streamed (chunked). If the database fails \
                after the first bytes the transfer is cut without its final chunk: a client sees a read error, never a \
                complete-looking file."),
              (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem),
              (status = 500, description = "The export failed before its first byte", body = crate::error::Problem),
              (status = 503, description = "No database connection for exports (their own small pool is busy or the \
                database is down); retry after `Retry-After` seconds", body = crate::error::Problem,
               headers(("Retry-After" = u64, description = "Seconds to wait before retrying")))))]
pub async fn export(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = web::Query::<ExportQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::field("query", e.to_string()))?
        .into_inner();
    let (filter, csv) = parse_filter(&state, &key, q)?;
    if let Some(d) = filter.deployment.clone() {
        let (agency, d) = (key.agency_id.clone(), crate::paths::deployment_id(&d)?);
        state
            .db(move |c| {
                crate::registry::find_deployment(c, &agency, &d)?
                    .ok_or(ApiError::NotFound("deployment"))
            })
            .await?;
    }
    stream(state, filter, csv).await
}

/// Streams every response `filter` matches, oldest first, as CSV or JSON: the admin API's
/// export and the console's. The caller has checked the filter's deployment is the agency's.
pub async fn stream(
    state: web::Data<AppState>,
    filter: Filter,
    csv: bool,
) -> Result<HttpResponse, ApiError> {
    let cur = Cursor {
        state: state.clone(),
        filter: Arc::new(filter),
        csv,
        after: None,
        any: false,
        done: false,
    };
    // The first page is read before the status is sent: a failure there is an honest 5xx.
    let wait = state.export_pool.connection_timeout();
    let (first, cur) = cur
        .page(true, wait)
        .await
        .inspect_err(|e| export_failed("start", e))?;
    let rest = futures_util::stream::try_unfold(cur, Cursor::next);
    let stream = futures_util::stream::once(async { Ok(first) }).chain(rest);
    let mut resp = HttpResponse::Ok();
    if csv {
        resp.content_type("text/csv; charset=utf-8").insert_header((
            "Content-Disposition",
            "attachment; filename=\"responses.csv\"",
        ));
    } else {
        resp.content_type("application/json");
    }
    Ok(resp.streaming(stream))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TriageIn {
    /// counted, spam, test or deleted
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct TriageOut {
    pub id: String,
    pub status: ResponseStatus,
    pub previous_status: ResponseStatus,
}

/// The response if it belongs to the agency (else `None`, shown as 404).
pub fn owned_status(
    c: &mut AnyConnection,
    agency: &AgencyId,
    id: &str,
) -> QueryResult<Option<ResponseStatus>> {
    responses::table
        .inner_join(deployments::table)
        .filter(responses::id.eq(id).and(deployments::agency_id.eq(agency)))
        .select(responses::status)
        .first(c)
        .optional()
}

/// Holds the agency's response row until the transaction ends, so the status read next is the
/// one the update replaces: two concurrent triages otherwise both read `counted` and both log
/// `from=counted`, and the audit log stops being a chain.
pub fn lock_response(c: &mut AnyConnection, agency: &AgencyId, id: &str) -> QueryResult<()> {
    let sql = match c {
        // A concurrent triage waits here until this one commits, then reads its result.
        AnyConnection::Postgresql(_) => {
            "SELECT r.id FROM responses r JOIN deployments d ON d.id = r.deployment_id \
             WHERE r.id = $1 AND d.agency_id = $2 FOR UPDATE OF r"
        }
        // One writer at a time: writing first takes the write lock (waiting out the busy
        // timeout) before any read. Reading first would pin a snapshot that a concurrent
        // commit makes stale, and the update would then fail with SQLITE_BUSY.
        AnyConnection::Sqlite(_) => {
            "UPDATE responses SET status = status WHERE id = $1 \
             AND deployment_id IN (SELECT id FROM deployments WHERE agency_id = $2)"
        }
    };
    diesel::sql_query(sql)
        .bind::<diesel::sql_types::Text, _>(id)
        .bind::<diesel::sql_types::Text, _>(agency.as_str())
        .execute(c)
        .map(drop)
}

#[utoipa::path(patch, path = "/api/v1/admin/responses/{id}", tag = "admin", security(("bearer" = [])), request_body = TriageIn,
    params(("id" = String, Path)),
    responses((status = 200, body = TriageOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn triage(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: TriageIn = json_body(&req, payload, 4096).await?;
    let Some(status) = ResponseStatus::parse(&body.status) else {
        return Err(ApiError::field(
            "status",
            format!("must be one of {}", ResponseStatus::words()),
        ));
    };
    let id = path.into_inner();
    let out = state
        .db(move |c| {
            c.transaction::<_, ApiError, _>(|c| {
                lock_response(c, &key.agency_id, &id)?;
                let prev =
                    owned_status(c, &key.agency_id, &id)?.ok_or(ApiError::NotFound("response"))?;
                if prev != status {
                    diesel::update(responses::table.find(&id))
                        .set(responses::status.eq(status))
                        .execute(c)?;
                    diesel::insert_into(response_audit::table)
                        .values((
                            response_audit::response_id.eq(&id),
                            response_audit::agency_id.eq(&key.agency_id),
                            response_audit::api_key_id.eq(&key.key_id),
                            response_audit::from_status.eq(prev),
                            response_audit::to_status.eq(status),
                            response_audit::changed_at.eq(db::now()),
                        ))
                        .execute(c)?;
                }
                Ok(TriageOut {
                    id,
                    status,
                    previous_status: prev,
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[derive(Serialize, ToSchema)]
pub struct AuditEntry {
    pub from_status: ResponseStatus,
    pub to_status: ResponseStatus,
    /// The API key that made the change, or null when a person did in the console.
    pub api_key_id: Option<String>,
    /// The person who made the change in the console, or null.
    pub staff_email: Option<String>,
    /// The reason given in the console, or null.
    pub reason: Option<String>,
    pub changed_at: DateTime<Utc>,
}

type AuditRow = (
    ResponseStatus,
    ResponseStatus,
    Option<String>,
    Option<String>,
    Option<String>,
    chrono::NaiveDateTime,
);

#[utoipa::path(get, path = "/api/v1/admin/responses/{id}/audit", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = AuditLog), (status = 404, body = crate::error::Problem)))]
pub async fn audit(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path.into_inner();
    let entries = state
        .db(move |c| {
            owned_status(c, &key.agency_id, &id)?.ok_or(ApiError::NotFound("response"))?;
            let rows: Vec<AuditRow> = response_audit::table
                .filter(response_audit::response_id.eq(&id))
                .order(response_audit::id)
                .select((
                    response_audit::from_status,
                    response_audit::to_status,
                    response_audit::api_key_id,
                    response_audit::staff_email,
                    response_audit::reason,
                    response_audit::changed_at,
                ))
                .load(c)?;
            Ok(rows
                .into_iter()
                .map(
                    |(from_status, to_status, api_key_id, staff_email, reason, at)| AuditEntry {
                        from_status,
                        to_status,
                        api_key_id,
                        staff_email,
                        reason,
                        changed_at: to_utc(at),
                    },
                )
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(HttpResponse::Ok().json(AuditLog { audit: entries }))
}

/// A response's status changes, oldest first.
#[derive(Serialize, ToSchema)]
pub struct AuditLog {
    pub audit: Vec<AuditEntry>,
}
