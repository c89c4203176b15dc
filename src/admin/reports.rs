//! The quarterly report as JSON, scoped to the caller's agency.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use super::AdminKey;
use crate::app::AppState;
use crate::error::{ApiError, FieldError};
use crate::fiscal::FiscalQuarter;
use crate::report::{self, Scope};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    pub fiscal_year: Option<i32>,
    pub quarter: Option<u8>,
    pub hisp: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/admin/reports/quarterly", tag = "admin", security(("bearer" = [])),
    params(("fiscal_year" = i32, Query), ("quarter" = u8, Query), ("hisp" = Option<String>, Query)),
    responses((status = 200, description = "The report (as report.json) for the key's agency", body = report::Report),
              (status = 422, body = crate::error::Problem),
              (status = 503, body = crate::error::Problem, description = "Another report kept this instance busy for 30 s, or the database is unavailable",
               headers(("Retry-After" = u64, description = "Seconds to wait")))))]
pub async fn quarterly(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let q = web::Query::<ReportQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::field("query", e.to_string()))?
        .into_inner();
    let mut errs = vec![];
    if q.fiscal_year.is_none() {
        errs.push(FieldError::new("fiscal_year", "is required"));
    }
    if q.quarter.is_none() {
        errs.push(FieldError::new("quarter", "is required"));
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let fq = FiscalQuarter::new(
        q.fiscal_year.unwrap_or_default(),
        q.quarter.unwrap_or_default(),
    )
    .map_err(|e| {
        let field = if e.starts_with("quarter") {
            "quarter"
        } else {
            "fiscal_year"
        };
        ApiError::field(field, e)
    })?;
    let scope = Scope {
        agency_id: Some(key.agency_id),
        hisp: q.hisp,
    };
    let _turn = report_turn(&state).await?;
    let st = state.clone();
    let r = web::block(move || {
        report::build(&st.export_pool, &st.defs, fq, st.settings.report_tz, &scope)
    })
    .await?
    .map_err(report_error)?;
    Ok(HttpResponse::Ok().json(r))
}

/// This instance's one report at a time: waits its turn behind another report for a while,
/// then says to come back (`503`). Hold the permit while the report is built.
pub async fn report_turn(state: &AppState) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    tokio::time::timeout(std::time::Duration::from_secs(30), state.reports.acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| ApiError::Unavailable {
            detail: "another report is being built on this instance; retry shortly".into(),
            retry_after: 10,
        })
}

/// A failed report as the API answers it.
pub fn report_error(e: report::files::ReportError) -> ApiError {
    match e {
        report::files::ReportError::Pool(p) => ApiError::from(p),
        report::files::ReportError::Db(d) => ApiError::from(d),
        other => ApiError::internal(other),
    }
}
