//! The hosted survey page `/s/{deployment}`: a plain HTML form that works with JavaScript off
//! (POST, then a server-side thank-you page) and is enhanced by `hosted.js` when it is on.
//! It goes through the same admission checks and the same writer as the JSON intake.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use super::page::{self, words, FormState, SurveyForm};
use crate::app::AppState;
use crate::error::{ApiError, FieldError};
use crate::intake::{self, answers, wanted_locales, HONEYPOT_FIELD, MAX_BODY};
use crate::registry::DeploymentView;
use crate::responses::{NewResponse, Stored};
use crate::survey::{Instrument, QuestionType};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/s/{id}")
            .route(web::get().to(show))
            .route(web::post().to(answer)),
    )
    .route("/s/{id}/thanks", web::get().to(thanks));
}

/// Every HTML page: no caching (each form carries its own submission id), a strict CSP that
/// allows only this service's own files, no framing.
pub fn html(status: StatusCode, body: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             font-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; \
             frame-ancestors 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        ))
        .body(body)
}

/// The locale of a page that has no instrument (unknown survey): Spanish if asked for first.
fn plain_locale(wanted: &[String]) -> &'static str {
    match wanted.first().map(|w| w.get(..2).unwrap_or(w)) {
        Some("es") => "es",
        _ => "en",
    }
}

/// The page for an error of the admission checks.
pub fn error_page(
    e: ApiError,
    locale: &str,
    view: Option<&DeploymentView>,
    ins: Option<&Instrument>,
) -> HttpResponse {
    let w = words(locale);
    let agency = view.map(|v| v.agency.name.as_str());
    match e {
        ApiError::NotFound(_) => html(
            StatusCode::NOT_FOUND,
            page::message_page(
                locale,
                None,
                "warning",
                w.not_found_title,
                &[w.not_found_body.into()],
                None,
            ),
        ),
        ApiError::Gone(_) => {
            let mut body = vec![];
            if let (Some(v), Some(ins)) = (view, ins) {
                if v.deployment.is_open() {
                    body.push(
                        w.gone_expired
                            .replace("{omb}", ins.pra.omb_control_number.as_str())
                            .replace("{date}", &ins.pra.expiration_date.to_string()),
                    );
                } else {
                    body.push(w.gone_closed.into());
                }
            }
            html(
                StatusCode::GONE,
                page::message_page(locale, agency, "info", w.gone_title, &body, ins),
            )
        }
        ApiError::RateLimited(secs) => {
            let mut r = html(
                StatusCode::TOO_MANY_REQUESTS,
                page::message_page(locale, agency, "warning", w.slow_down, &[], None),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            r
        }
        other => {
            // The same status and words as the JSON API, on a page.
            let status = actix_web::ResponseError::status_code(&other);
            let mut r = html(
                status,
                page::message_page(
                    locale,
                    agency,
                    "error",
                    status.canonical_reason().unwrap_or("Error"),
                    &[other.to_string()],
                    None,
                ),
            );
            if let ApiError::Unavailable { retry_after, .. } = other {
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            }
            r
        }
    }
}

/// The deployment, if it is known and collecting, with the page's locale (the first of `wanted`
/// the instrument offers) and its instrument; else the page that says why not.
pub(crate) async fn collecting<'a>(
    state: &'a AppState,
    id: &str,
    wanted: &[String],
) -> Result<(std::sync::Arc<DeploymentView>, &'static str, &'a Instrument), HttpResponse> {
    let fallback = plain_locale(wanted);
    let view = intake::load(state, id)
        .await
        .map_err(|e| error_page(e, fallback, None, None))?;
    let ins = state.instrument(&view.deployment.instrument_id);
    let wanted_refs: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let locale = page::page_locale(ins.map_or(fallback, |i| i.pick_locale(&wanted_refs)));
    if let Err(e) = intake::ensure_collecting(state, &view) {
        return Err(error_page(e, locale, Some(&view), ins));
    }
    let ins = ins.ok_or_else(|| {
        error_page(
            ApiError::internal("instrument not loaded"),
            locale,
            None,
            None,
        )
    })?;
    Ok((view, locale, ins))
}

/// A posted form's fields, or the page for a body that is too large or not a form.
pub(crate) async fn read_form(
    req: &HttpRequest,
    payload: web::Payload,
    locale: &str,
) -> Result<HashMap<String, Vec<String>>, HttpResponse> {
    let body = crate::body::read_body(req, payload, MAX_BODY)
        .await
        .map_err(|e| error_page(e, locale, None, None))?;
    parse_form(&body).map_err(|e| error_page(e, locale, None, None))
}

pub(crate) fn form<'a>(
    view: &'a DeploymentView,
    ins: &'a Instrument,
    locale: &'a str,
    action: String,
    submission_id: String,
    state: FormState,
) -> SurveyForm<'a> {
    let other_locale = ins.locales.iter().find(|l| *l != locale).map(|l| {
        (
            format!("{}?locale={l}", action.split('?').next().unwrap_or("")),
            l.clone(),
        )
    });
    SurveyForm {
        view,
        ins,
        locale,
        action,
        other_locale,
        submission_id,
        honeypot: HONEYPOT_FIELD,
        state,
    }
}

async fn show(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let wanted = wanted_locales(&req, None);
    let (view, locale, ins) = match collecting(&state, &path, &wanted).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if let Err(e) = intake::ensure_open_access(&view) {
        return error_page(e, locale, Some(&view), Some(ins));
    }
    count_impression(&state, &req, &view).await;
    let f = form(
        &view,
        ins,
        locale,
        format!("/s/{}", view.deployment.id),
        uuid::Uuid::new_v4().to_string(),
        FormState::default(),
    );
    html(StatusCode::OK, page::survey_page(&f))
}

/// A page showing an open form is a survey opportunity, as a widget's impression is. It shares
/// the client's rate budget; over it, or with the database away, the page is still shown and
/// only the count is lost.
async fn count_impression(state: &AppState, req: &HttpRequest, view: &DeploymentView) {
    let Ok(client) = intake::rate_limit(state, req) else {
        return;
    };
    let imp = crate::responses::NewImpression {
        deployment_id: view.deployment.id.clone(),
        occurred_at: crate::db::now(),
    };
    if let Err(e) = state.writer.record_impression(imp, client).await {
        tracing::info!(error = %e, "hosted page impression not recorded");
    }
}

/// The form's fields, each name with all its values in order.
pub fn parse_form(body: &[u8]) -> Result<HashMap<String, Vec<String>>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| ApiError::field("body", format!("not a valid form: {e}")))?;
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for (k, v) in pairs {
        out.entry(k).or_default().push(v);
    }
    Ok(out)
}

/// Turns the fields of the form into the `answers` object of the JSON API. A browser without
/// JavaScript shows both driver lists, so the one the trust answer does not reveal is dropped
/// rather than refused. Returns the per-question errors in the page's words.
pub fn answers_from_form(
    fields: &HashMap<String, Vec<String>>,
    ins: &Instrument,
    locale: &str,
) -> Result<answers::ValidAnswers, Vec<(String, String)>> {
    let w = words(locale);
    let first = |k: &str| {
        fields
            .get(k)
            .and_then(|v| v.first())
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    };
    let trust = first("trust").and_then(|t| t.parse::<i64>().ok());
    let mut answers = Map::new();
    let mut errs = vec![];
    for q in &ins.questions {
        match q.kind {
            QuestionType::Thumbs | QuestionType::Likert5 => match first(&q.key) {
                None if q.required => errs.push((q.key.clone(), w.err_required.into())),
                None => {}
                Some(v) => match v.parse::<i64>() {
                    Ok(n) => {
                        answers.insert(q.key.clone(), n.into());
                    }
                    Err(_) => errs.push((q.key.clone(), w.err_invalid.into())),
                },
            },
            QuestionType::Drivers => {
                if let Some(chosen) = revealed_drivers(fields, ins, q, trust) {
                    answers.insert(q.key.clone(), chosen);
                }
            }
            QuestionType::Text => {
                let max = q.max_length.unwrap_or(crate::survey::COMMENT_MAX_CHARS);
                match first(&q.key) {
                    None if q.required => errs.push((q.key.clone(), w.err_required.into())),
                    None => {}
                    Some(v) if v.chars().count() > max => errs.push((
                        q.key.clone(),
                        w.err_too_long.replace("{n}", &max.to_string()),
                    )),
                    Some(v) => {
                        answers.insert(q.key.clone(), v.into());
                    }
                }
            }
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    // Anything left (a value outside the scale, an unknown driver) is refused by the same rules
    // as the JSON API; the page names the question.
    answers::validate(&answers, ins, "answers").map_err(|fe| per_question(fe, w.err_invalid))
}

/// The drivers chosen on a list, if the trust answer reveals that list (and any was chosen).
fn revealed_drivers(
    fields: &HashMap<String, Vec<String>>,
    ins: &Instrument,
    q: &crate::survey::Question,
    trust: Option<i64>,
) -> Option<Value> {
    let chosen: Vec<Value> = fields
        .get(&q.key)
        .into_iter()
        .flatten()
        .map(|s| Value::from(s.as_str()))
        .collect();
    let positive = q.polarity == Some(crate::survey::Polarity::Positive);
    let revealed =
        trust.is_some_and(
            |t| match crate::survey::sentiment(ins.trust().kind, t as i16) {
                crate::survey::Sentiment::Positive => positive,
                _ => !positive,
            },
        );
    (revealed && !chosen.is_empty()).then_some(Value::Array(chosen))
}

/// The API's field errors as one error per question, in the page's words.
fn per_question(errors: Vec<FieldError>, invalid: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = vec![];
    for e in errors {
        let key = e
            .field
            .trim_start_matches("answers.")
            .split(['.', '['])
            .next()
            .unwrap_or("")
            .to_string();
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((key, invalid.into()));
        }
    }
    out
}

/// A form post is accepted from this service's own pages (same host, or CX_PUBLIC_URL) and from
/// the deployment's allowed origins; browsers always send `Origin` on a cross-site POST.
fn origin_allowed(state: &AppState, req: &HttpRequest, view: &DeploymentView) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    else {
        return true;
    };
    let same_host = url::Url::parse(origin).ok().is_some_and(|u| {
        let host = match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => return false,
        };
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .is_some_and(|h| h.eq_ignore_ascii_case(&host))
    });
    same_host || intake::check_origin(state, req, view).is_ok()
}

async fn answer(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
) -> HttpResponse {
    let fields = match read_form(&req, payload, "en").await {
        Ok(f) => f,
        Err(page) => return page,
    };
    let form_locale = fields.get("locale").and_then(|v| v.first()).cloned();
    let wanted = wanted_locales(&req, form_locale.as_deref());
    let (view, locale, ins) = match collecting(&state, &path, &wanted).await {
        Ok(v) => v,
        Err(page) => return page,
    };
    if let Err(e) = intake::ensure_open_access(&view) {
        return error_page(e, locale, Some(&view), Some(ins));
    }
    if !origin_allowed(&state, &req, &view) {
        let e = ApiError::Forbidden("this form was posted from another site".into());
        return error_page(e, locale, Some(&view), Some(ins));
    }
    let client = match intake::rate_limit(&state, &req) {
        Ok(c) => c,
        Err(e) => return error_page(e, locale, Some(&view), Some(ins)),
    };
    let submission_id = fields
        .get("submission_id")
        .and_then(|v| v.first())
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .filter(|u| !u.is_nil())
        .unwrap_or_else(uuid::Uuid::new_v4);
    let action = format!("/s/{}", view.deployment.id);
    let honeypot = fields
        .get(HONEYPOT_FIELD)
        .is_some_and(|v| v.iter().any(|s| !s.is_empty()));
    let answering = Answering {
        view: &view,
        ins,
        locale,
        thanks: format!("{action}/thanks?locale={locale}"),
        action,
        submission_id: submission_id.to_string(),
        source: "hosted",
    };
    let state = &state;
    store_answers(answering, fields, |row| async move {
        let m = crate::metrics::metrics();
        if honeypot {
            m.responses.with_label_values(&["honeypot"]).inc();
            return Ok(());
        }
        match state.writer.store_response(row, client).await? {
            Stored::Created(_) => m.responses.with_label_values(&["stored"]).inc(),
            Stored::Duplicate(_) => m.responses.with_label_values(&["duplicate"]).inc(),
        }
        Ok(())
    })
    .await
}

/// A posted form of one deployment, to be stored as one response.
pub(crate) struct Answering<'a> {
    pub view: &'a DeploymentView,
    pub ins: &'a Instrument,
    pub locale: &'static str,
    /// Where the form posts; with errors it is shown again, posting there.
    pub action: String,
    pub submission_id: String,
    /// Where the respondent goes once the response is stored.
    pub thanks: String,
    /// The response's `source`: `hosted` or `email`.
    pub source: &'static str,
}

/// Validates the posted `fields`, has `store` keep the response, then sends the respondent to
/// the thank-you page. Answers that do not validate show the form again with its errors
/// (`422`); a store that fails, the error page.
pub(crate) async fn store_answers<F, Fut>(
    a: Answering<'_>,
    fields: HashMap<String, Vec<String>>,
    store: F,
) -> HttpResponse
where
    F: FnOnce(NewResponse) -> Fut,
    Fut: std::future::Future<Output = Result<(), ApiError>>,
{
    let valid = match answers_from_form(&fields, a.ins, a.locale) {
        Ok(v) => v,
        Err(errors) => {
            let values = fields;
            let f = form(
                a.view,
                a.ins,
                a.locale,
                a.action,
                a.submission_id,
                FormState { values, errors },
            );
            return html(StatusCode::UNPROCESSABLE_ENTITY, page::survey_page(&f));
        }
    };
    let row = NewResponse {
        submission_id: Some(a.submission_id),
        locale: a.locale.to_string(),
        ..NewResponse::counted(&a.view.deployment, a.ins, a.source, valid)
    };
    if let Err(e) = store(row).await {
        return error_page(e, a.locale, Some(a.view), Some(a.ins));
    }
    // Post/Redirect/Get: reloading the thank-you page does not post again.
    see_other(&a.thanks)
}

pub(crate) fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

async fn thanks(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let wanted = wanted_locales(&req, None);
    let locale = plain_locale(&wanted);
    let view = match intake::load(&state, &path).await {
        Ok(v) => v,
        Err(e) => return error_page(e, locale, None, None),
    };
    let ins = state.instrument(&view.deployment.instrument_id);
    thanks_page(&wanted, Some(&view.agency.name), ins)
}

/// The thank-you page, in the first of `wanted` locales we have words for.
pub(crate) fn thanks_page(
    wanted: &[String],
    agency: Option<&str>,
    ins: Option<&Instrument>,
) -> HttpResponse {
    let locale = plain_locale(wanted);
    let w = words(locale);
    html(
        StatusCode::OK,
        page::message_page(
            locale,
            agency,
            "success",
            w.thanks_title,
            &[w.thanks_body.into()],
            ins,
        ),
    )
}
