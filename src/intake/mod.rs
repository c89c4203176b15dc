//! Public intake: what a renderer needs to show a deployment, and the response and impression
//! endpoints, with PRA enforcement, per-deployment origins and per-address rate limits.

pub mod answers;
pub mod limit;
pub mod view;
pub mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use chrono::Utc;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::app::AppState;
use crate::body::read_body;
use crate::domain::DeploymentId;
use crate::error::{ApiError, FieldError};
use crate::registry::{self, DeploymentView};
use crate::responses::{NewImpression, NewResponse, Stored};
use crate::survey::{pra, Instrument};
pub use limit::{ClientBucket, RateLimiter};

pub const MAX_BODY: usize = 64 * 1024;
/// A bot that fills this invisible field gets a normal-looking answer and stores nothing.
pub const HONEYPOT_FIELD: &str = "fax_number";

pub fn routes(cfg: &mut web::ServiceConfig) {
    for (path, post) in [
        ("/api/v1/deployments/{id}", None),
        (
            "/api/v1/deployments/{id}/responses",
            Some(Handler::Response),
        ),
        (
            "/api/v1/deployments/{id}/impressions",
            Some(Handler::Impression),
        ),
    ] {
        let r = web::resource(path)
            .wrap(from_fn(cors))
            .route(web::method(actix_web::http::Method::OPTIONS).to(preflight));
        cfg.service(match post {
            None => r.route(web::get().to(get_deployment)),
            Some(Handler::Response) => r.route(web::post().to(submit_response)),
            Some(Handler::Impression) => r.route(web::post().to(record_impression)),
        });
    }
}

enum Handler {
    Response,
    Impression,
}

/// The origin a handler decided to grant, applied to whatever it answers, errors included: a
/// widget must be able to read a `422`, a `410` or a `429` and its `Retry-After`.
#[derive(Clone)]
struct CorsGrant(HeaderValue);

async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let mut grant = res.request().extensions().get::<CorsGrant>().cloned();
    // A `503` may come before the origin could be checked (the database holding the allowed
    // origins is down). It says only "come back later", so any page may read it and its
    // `Retry-After`: the widget then waits as told instead of guessing.
    if grant.is_none() && res.status() == actix_web::http::StatusCode::SERVICE_UNAVAILABLE {
        grant = res
            .request()
            .headers()
            .get(header::ORIGIN)
            .cloned()
            .map(CorsGrant);
    }
    let h = res.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(CorsGrant(origin)) = grant {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After"),
        );
    }
    Ok(res)
}

/// The local rate limit; the bucket the writer counts the submission in across instances.
pub(crate) fn rate_limit(
    state: &AppState,
    req: &HttpRequest,
) -> Result<Option<ClientBucket>, ApiError> {
    match &state.limiter {
        Some(l) => l.admit(req),
        None => Ok(None),
    }
}

pub(crate) async fn load(state: &AppState, id: &str) -> Result<Arc<DeploymentView>, ApiError> {
    if let Some(v) = state.deployments.get(id) {
        return Ok(v);
    }
    let id = crate::paths::deployment_id(id)?;
    let view = state
        .db(move |c| registry::deployment_view(c, id.as_str()).map_err(ApiError::from))
        .await?
        .ok_or(ApiError::NotFound("deployment"))?;
    let view = Arc::new(view);
    state.deployments.put(view.clone());
    Ok(view)
}

/// Checks the page's origin against the deployment and records the CORS grant for the
/// response; `403` (and no grant) if it is not allowed.
pub fn check_origin(
    state: &AppState,
    req: &HttpRequest,
    view: &DeploymentView,
) -> Result<(), ApiError> {
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        // Not a browser cross-origin call (server, app, curl): origins do not apply.
        return Ok(());
    };
    let o = origin.to_str().unwrap_or("");
    if o == state.public_origin || view.deployment.origins().iter().any(|a| a == o) {
        req.extensions_mut().insert(CorsGrant(origin.clone()));
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "origin {o:?} is not allowed for this deployment"
        )))
    }
}

/// `410` once the PRA clearance has ended (end of its day in the report time zone) or the
/// deployment is closed.
pub(crate) fn ensure_collecting<'a>(
    state: &'a AppState,
    view: &DeploymentView,
) -> Result<&'a Instrument, ApiError> {
    let ins = state
        .instrument(&view.deployment.instrument_id)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "instrument {} is not loaded",
                view.deployment.instrument_id
            ))
        })?;
    if !view.deployment.is_open() {
        return Err(ApiError::Gone(
            "this survey is closed and no longer collecting responses".into(),
        ));
    }
    if pra::is_expired(
        ins.pra.expiration_date,
        state.settings.report_tz,
        Utc::now(),
    ) {
        return Err(ApiError::Gone(format!(
            "the PRA clearance (OMB control number {}) expired on {}; this survey is no longer collecting responses",
            ins.pra.omb_control_number, ins.pra.expiration_date
        )));
    }
    Ok(ins)
}

/// `403` for a deployment that takes answers only through invitation links.
pub(crate) fn ensure_open_access(view: &DeploymentView) -> Result<(), ApiError> {
    if view.deployment.invitation_only() {
        return Err(ApiError::Forbidden(
            "this survey takes answers only through the personal link in an invitation email"
                .into(),
        ));
    }
    Ok(())
}

/// The checks every public submission passes first: known deployment, origin, rate limit
/// (after the origin, so a `429` carries the CORS grant a widget needs to read `Retry-After`).
async fn admit(
    state: &AppState,
    req: &HttpRequest,
    id: &str,
) -> Result<(Arc<DeploymentView>, Option<ClientBucket>), ApiError> {
    let view = load(state, id).await?;
    check_origin(state, req, &view)?;
    ensure_open_access(&view)?;
    let client = rate_limit(state, req)?;
    Ok((view, client))
}

async fn preflight(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: DeploymentId,
) -> Result<HttpResponse, ApiError> {
    let max_age = match load(&state, id.as_str()).await {
        Ok(view) => {
            check_origin(&state, &req, &view)?;
            "600"
        }
        // The allowed origins cannot be read: let the request through the browser, uncached,
        // so that its `503` and `Retry-After` reach the widget (the request itself is refused
        // until the database is back, and origin-checked then).
        Err(e @ ApiError::Unavailable { .. }) => match req.headers().get(header::ORIGIN) {
            Some(origin) => {
                req.extensions_mut().insert(CorsGrant(origin.clone()));
                "0"
            }
            None => return Err(e),
        },
        Err(e) => return Err(e),
    };
    Ok(HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS"))
        .insert_header((
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "content-type, accept-language",
        ))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, max_age))
        .finish())
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: String,
}

/// Locales asked for: `first` (e.g. a form's field), then `?locale=`, then `Accept-Language`,
/// most wanted first.
pub fn wanted_locales(req: &HttpRequest, first: Option<&str>) -> Vec<String> {
    let query = web::Query::<HashMap<String, String>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let mut wanted: Vec<String> = first.map(str::to_string).into_iter().collect();
    wanted.extend(query.get("locale").cloned());
    if let Some(al) = req
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
    {
        wanted.extend(
            al.split(',')
                .map(|p| p.split(';').next().unwrap_or("").trim().to_string()),
        );
    }
    wanted
}

/// What a renderer needs to show a deployment.
#[utoipa::path(get, path = "/api/v1/deployments/{id}", tag = "public",
    params(("id" = String, Path, description = "Deployment id"), ("locale" = Option<String>, Query, description = "en or es")),
    responses((status = 200, description = "Questions, PRA block and status", body = view::PublicDeployment),
              (status = 404, body = crate::error::Problem), (status = 410, body = crate::error::Problem)))]
pub async fn get_deployment(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: DeploymentId,
) -> Result<HttpResponse, ApiError> {
    let view = load(&state, id.as_str()).await?;
    check_origin(&state, &req, &view)?;
    let ins = ensure_collecting(&state, &view)?;
    let wanted = wanted_locales(&req, None);
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let locale = ins.pick_locale(&wanted).to_string();
    let body = view::render(&view, ins, &locale);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_LANGUAGE, locale))
        .json(body))
}

/// A submission parsed and checked against its instrument.
pub struct Submission {
    pub submission_id: uuid::Uuid,
    pub locale: String,
    pub page_url: Option<String>,
    pub honeypot: bool,
    pub answers: answers::ValidAnswers,
}

pub fn parse_submission(body: &[u8], ins: &Instrument) -> Result<Submission, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::field("body", format!("not valid JSON: {e}")))?;
    let Value::Object(obj) = value else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    let mut errs: Vec<FieldError> = obj
        .keys()
        .filter(|k| {
            !matches!(
                k.as_str(),
                "submission_id" | "answers" | "locale" | "page_url"
            ) && *k != HONEYPOT_FIELD
        })
        .map(|k| FieldError::new(k.clone(), "unknown field"))
        .collect();
    let submission_id = submission_id(&obj, &mut errs);
    let locale = submission_locale(&obj, ins, &mut errs);
    let page_url = page_url(&obj, &mut errs);
    let honeypot = obj.get(HONEYPOT_FIELD).is_some_and(|v| match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        _ => true,
    });
    let valid = submission_answers(&obj, ins, &mut errs);
    match (errs.is_empty(), submission_id, valid) {
        (true, Some(submission_id), Some(answers)) => Ok(Submission {
            submission_id,
            locale,
            page_url,
            honeypot,
            answers,
        }),
        _ => Err(ApiError::Invalid(errs)),
    }
}

/// The client's `submission_id`: required, a UUID other than the nil one.
fn submission_id(obj: &Map<String, Value>, errs: &mut Vec<FieldError>) -> Option<uuid::Uuid> {
    match obj
        .get("submission_id")
        .and_then(Value::as_str)
        .map(uuid::Uuid::parse_str)
    {
        Some(Ok(u)) if !u.is_nil() => Some(u),
        None if !obj.contains_key("submission_id") => {
            errs.push(FieldError::new(
                "submission_id",
                "is required (a UUID chosen by the client)",
            ));
            None
        }
        _ => {
            errs.push(FieldError::new("submission_id", "must be a UUID"));
            None
        }
    }
}

/// The `locale` answered in: one of the instrument's, its first when absent.
fn submission_locale(
    obj: &Map<String, Value>,
    ins: &Instrument,
    errs: &mut Vec<FieldError>,
) -> String {
    match obj.get("locale") {
        None | Some(Value::Null) => ins.locales[0].clone(),
        Some(Value::String(l)) if ins.locales.contains(l) => l.clone(),
        Some(_) => {
            errs.push(FieldError::new(
                "locale",
                format!("must be one of: {}", ins.locales.join(", ")),
            ));
            String::new()
        }
    }
}

/// The optional `page_url`, cleaned of query and fragment.
fn page_url(obj: &Map<String, Value>, errs: &mut Vec<FieldError>) -> Option<String> {
    match obj.get("page_url") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match clean_page_url(s) {
            Ok(u) => Some(u),
            Err(e) => {
                errs.push(FieldError::new("page_url", e));
                None
            }
        },
        Some(_) => {
            errs.push(FieldError::new("page_url", "must be a URL string"));
            None
        }
    }
}

/// The `answers` object, validated against the instrument.
fn submission_answers(
    obj: &Map<String, Value>,
    ins: &Instrument,
    errs: &mut Vec<FieldError>,
) -> Option<answers::ValidAnswers> {
    match obj.get("answers") {
        Some(Value::Object(a)) => match answers::validate(a, ins, "answers") {
            Ok(v) => Some(v),
            Err(e) => {
                errs.extend(e);
                None
            }
        },
        None => {
            errs.push(FieldError::new("answers", "is required"));
            None
        }
        Some(_) => {
            errs.push(FieldError::new(
                "answers",
                "must be an object keyed by question",
            ));
            None
        }
    }
}

/// Keeps scheme, host and path only: query strings and fragments often carry personal data.
fn clean_page_url(s: &str) -> Result<String, String> {
    if s.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    let mut u = url::Url::parse(s).map_err(|_| "must be an absolute http(s) URL".to_string())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("must be an absolute http(s) URL".into());
    }
    u.set_query(None);
    u.set_fragment(None);
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Ok(u.to_string())
}

/// Stores one response. `201` only after commit; the same submission_id again answers `200`.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/responses", tag = "public",
    params(("id" = String, Path, description = "Deployment id")),
    request_body(content = Object, description = "{submission_id, answers, locale?, page_url?}"),
    responses((status = 201, body = Created, headers(("Location" = String, description = "The stored response as the admin API names it: /api/v1/admin/responses/{id}"))),
              (status = 200, body = Created, description = "Already stored"),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 410, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem), (status = 429, body = crate::error::Problem)))]
pub async fn submit_response(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: DeploymentId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (view, client) = admit(&state, &req, id.as_str()).await?;
    let ins = ensure_collecting(&state, &view)?;
    let body = read_body(&req, payload, MAX_BODY).await?;
    let m = crate::metrics::metrics();
    let sub = parse_submission(&body, ins)
        .inspect_err(|_| m.responses.with_label_values(&["rejected"]).inc())?;
    if sub.honeypot {
        m.responses.with_label_values(&["honeypot"]).inc();
        let fake = Created {
            id: uuid::Uuid::now_v7().to_string(),
        };
        return Ok(created(fake));
    }
    let row = NewResponse {
        submission_id: Some(sub.submission_id.to_string()),
        locale: sub.locale,
        page_url: sub.page_url,
        ..NewResponse::counted(&view.deployment, ins, "web", sub.answers)
    };
    Ok(match state.writer.store_response(row, client).await? {
        Stored::Created(id) => {
            m.responses.with_label_values(&["stored"]).inc();
            created(Created { id })
        }
        Stored::Duplicate(id) => {
            m.responses.with_label_values(&["duplicate"]).inc();
            HttpResponse::Ok().json(Created { id })
        }
    })
}

/// `201` with the response's id and `Location`: the path the admin API knows it by (triage at
/// `PATCH`, its audit below it). A bot's fake answer looks the same.
fn created(c: Created) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((
            actix_web::http::header::LOCATION,
            format!("/api/v1/admin/responses/{}", c.id),
        ))
        .json(c)
}

/// Counts one showing of the survey toward `volume_of_customers_provided_survey_opportunity`.
#[utoipa::path(post, path = "/api/v1/deployments/{id}/impressions", tag = "public",
    params(("id" = String, Path, description = "Deployment id")),
    responses((status = 204, description = "Recorded"), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 410, body = crate::error::Problem),
              (status = 429, body = crate::error::Problem)))]
pub async fn record_impression(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: DeploymentId,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (view, client) = admit(&state, &req, id.as_str()).await?;
    ensure_collecting(&state, &view)?;
    // The body carries nothing we keep; read it only to bound it.
    read_body(&req, payload, 1024).await?;
    state
        .writer
        .record_impression(
            NewImpression {
                deployment_id: view.deployment.id.clone(),
                occurred_at: crate::db::now(),
            },
            client,
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thumbs() -> Instrument {
        let path = format!(
            "{}/survey-defs/a11-v2-thumbs.json",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    const ID: &str = "0190b0a0-0000-7000-8000-000000000001";

    fn parse(body: &str) -> Result<Submission, Vec<(String, String)>> {
        parse_submission(body.as_bytes(), &thumbs()).map_err(|e| match e {
            ApiError::Invalid(errs) => errs.into_iter().map(|e| (e.field, e.detail)).collect(),
            other => panic!("not a validation error: {other}"),
        })
    }

    fn fields(body: &str) -> Vec<String> {
        parse(body)
            .err()
            .unwrap()
            .into_iter()
            .map(|e| e.0)
            .collect()
    }

    #[test]
    fn a_whole_submission_is_parsed() {
        let s = parse(&format!(
            r#"{{"submission_id": "{ID}", "answers": {{"trust": 1}}, "locale": "en",
                 "page_url": "https://example.gov/apply?ssn=1#top"}}"#
        ))
        .unwrap();
        assert_eq!(s.submission_id.to_string(), ID);
        assert_eq!(s.locale, "en");
        assert_eq!(s.page_url.as_deref(), Some("https://example.gov/apply"));
        assert!(!s.honeypot);
        assert_eq!(s.answers.trust, Some(1));
    }

    #[test]
    fn locale_defaults_to_the_instruments_first() {
        let s = parse(&format!(
            r#"{{"submission_id": "{ID}", "answers": {{"trust": 0}}, "locale": null}}"#
        ))
        .unwrap();
        assert_eq!(s.locale, thumbs().locales[0]);
        assert_eq!(s.page_url, None);
    }

    #[test]
    fn a_filled_honeypot_is_noted_not_refused() {
        let s = parse(&format!(
            r#"{{"submission_id": "{ID}", "answers": {{"trust": 1}}, "{HONEYPOT_FIELD}": "555"}}"#
        ))
        .unwrap();
        assert!(s.honeypot);
        let s = parse(&format!(
            r#"{{"submission_id": "{ID}", "answers": {{"trust": 1}}, "{HONEYPOT_FIELD}": ""}}"#
        ))
        .unwrap();
        assert!(!s.honeypot);
    }

    #[test]
    fn the_body_must_be_a_json_object() {
        assert_eq!(fields("{"), vec!["body"]);
        assert_eq!(parse("[]").err().unwrap()[0].1, "must be a JSON object");
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            parse(r#"{"answers": {"trust": 1}}"#).err().unwrap(),
            vec![(
                "submission_id".to_string(),
                "is required (a UUID chosen by the client)".to_string()
            )]
        );
        assert_eq!(
            fields(
                r#"{"submission_id": "00000000-0000-0000-0000-000000000000", "answers": 3,
                    "locale": "xx", "page_url": "ftp://example.gov/", "extra": 1}"#
            ),
            vec!["extra", "submission_id", "locale", "page_url", "answers"]
        );
        assert_eq!(
            fields(r#"{"submission_id": 7, "page_url": 5}"#),
            vec!["submission_id", "page_url", "answers"]
        );
        assert_eq!(
            fields(&format!(
                r#"{{"submission_id": "{ID}", "answers": {{"trust": 9}}}}"#
            )),
            vec!["answers.trust"]
        );
    }

    #[test]
    fn page_urls_keep_scheme_host_and_path_only() {
        assert_eq!(
            clean_page_url("https://user:pw@example.gov/a/b?q=1#f").unwrap(),
            "https://example.gov/a/b"
        );
        assert_eq!(
            clean_page_url("/relative").unwrap_err(),
            "must be an absolute http(s) URL"
        );
        assert_eq!(
            clean_page_url("javascript:alert(1)").unwrap_err(),
            "must be an absolute http(s) URL"
        );
        let long = format!("https://example.gov/{}", "a".repeat(2048));
        assert_eq!(
            clean_page_url(&long).unwrap_err(),
            "must be at most 2048 characters"
        );
    }
}
