//! HISPs, services, deployments and operational volumes of the caller's agency.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::{Validate, ValidationError};

use super::page::{self, PageQuery, PageRequest};
use super::{validate, AdminKey};
use crate::app::AppState;
use crate::body::json_body;
use crate::db::schema::service_volumes;
use crate::db::{self, to_utc, AnyConnection};
use crate::domain::{Access, AgencyId, DeploymentStatus};
use crate::error::{ApiError, FieldError};
use crate::fiscal::FiscalQuarter;
use crate::registry::{self, Deployment, Hisp, Service};

const BODY_LIMIT: usize = 64 * 1024;

fn slug(s: &str) -> Result<(), ValidationError> {
    if crate::survey::is_slug(s) {
        Ok(())
    } else {
        Err(ValidationError::new("slug")
            .with_message("must be 1 to 64 characters of lowercase a-z, 0-9 and -".into()))
    }
}

fn not_blank(s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        Err(ValidationError::new("blank").with_message("must not be blank".into()))
    } else {
        Ok(())
    }
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHisp {
    #[validate(custom(function = "slug"))]
    pub slug: String,
    #[validate(length(min = 1, max = 200), custom(function = "not_blank"))]
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct HispOut {
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<Hisp> for HispOut {
    fn from(h: Hisp) -> Self {
        HispOut {
            slug: h.slug,
            name: h.name,
            created_at: to_utc(h.created_at),
        }
    }
}

/// `201 Created` with `body` and `Location: location`.
fn created<B: Serialize>(location: String, body: &B) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

const ADMIN: &str = "/api/v1/admin";

#[utoipa::path(post, path = "/api/v1/admin/hisps", tag = "admin", security(("bearer" = [])), request_body = NewHisp,
    responses((status = 201, body = HispOut, headers(("Location" = String, description = "The new HISP: /api/v1/admin/hisps/{slug}"))), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_hisp(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewHisp = json_body(&req, payload, BODY_LIMIT).await?;
    validate(&body)?;
    let h = state
        .db(move |c| registry::create_hisp(c, &key.agency_id, &body.slug, body.name.trim()))
        .await?;
    Ok(created(
        format!("{ADMIN}/hisps/{}", h.slug),
        &HispOut::from(h),
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/hisps/{slug}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "HISP slug")),
    responses((status = 200, body = HispOut), (status = 404, body = crate::error::Problem)))]
pub async fn get_hisp(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner();
    let h = state
        .db(move |c| {
            registry::find_hisp(c, &key.agency_id, &slug)?.ok_or(ApiError::NotFound("HISP"))
        })
        .await?;
    Ok(HttpResponse::Ok().json(HispOut::from(h)))
}

#[utoipa::path(get, path = "/api/v1/admin/hisps", tag = "admin", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = HispList, headers(("Link" = String, description = "`<next>; rel=\"next\"` while another page follows"))),
              (status = 422, body = crate::error::Problem, description = "A bad `limit` or `after`")))]
pub async fn list_hisps(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pr = PageRequest::from_request(&req)?;
    let (after, n) = (pr.after.clone(), pr.fetch());
    let mut list = state
        .db(move |c| Ok(registry::list_hisps(c, &key.agency_id, after, n)?))
        .await?;
    let next = pr.finish(&mut list, req.path(), |h| (h.slug.clone(), h.id.clone()));
    let out: Vec<HispOut> = list.into_iter().map(HispOut::from).collect();
    Ok(page::respond(
        &HispList {
            hisps: out,
            next: next.clone(),
        },
        next.as_deref(),
    ))
}

/// One page of the agency's HISPs, by slug.
#[derive(Serialize, ToSchema)]
pub struct HispList {
    pub hisps: Vec<HispOut>,
    /// The next page's path with its query, or null on the last page.
    pub next: Option<String>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewService {
    #[validate(custom(function = "slug"))]
    pub slug: String,
    #[validate(length(min = 1, max = 200), custom(function = "not_blank"))]
    pub name: String,
    /// Slug of one of the agency's HISPs.
    pub hisp: String,
    /// OMB channel names.
    #[validate(length(min = 1, max = 18))]
    pub channels: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ServiceOut {
    pub slug: String,
    pub name: String,
    pub hisp: String,
    pub channels: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn service_out(s: Service, hisp: String) -> ServiceOut {
    ServiceOut {
        channels: s.channel_list(),
        slug: s.slug,
        name: s.name,
        hisp,
        created_at: to_utc(s.created_at),
    }
}

fn check_channels(channels: &[String]) -> Vec<FieldError> {
    let mut errs = vec![];
    for (i, c) in channels.iter().enumerate() {
        if !registry::is_channel(c) {
            errs.push(FieldError::new(
                format!("channels[{i}]"),
                format!(
                    "{c:?} is not an OMB channel ({})",
                    registry::CHANNELS.join(", ")
                ),
            ));
        } else if channels[..i].contains(c) {
            errs.push(FieldError::new(
                format!("channels[{i}]"),
                format!("{c:?} is listed twice"),
            ));
        }
    }
    errs
}

#[utoipa::path(post, path = "/api/v1/admin/services", tag = "admin", security(("bearer" = [])), request_body = NewService,
    responses((status = 201, body = ServiceOut, headers(("Location" = String, description = "The new service: /api/v1/admin/services/{slug}"))), (status = 409, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn create_service(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewService = json_body(&req, payload, BODY_LIMIT).await?;
    validate(&body)?;
    let errs = check_channels(&body.channels);
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let out = state
        .db(move |c| {
            let hisp = registry::find_hisp(c, &key.agency_id, &body.hisp)?.ok_or_else(|| {
                ApiError::field("hisp", format!("no HISP {:?} in your agency", body.hisp))
            })?;
            let s =
                registry::create_service(c, &hisp, &body.slug, body.name.trim(), &body.channels)?;
            Ok(service_out(s, hisp.slug))
        })
        .await?;
    Ok(created(format!("{ADMIN}/services/{}", out.slug), &out))
}

#[utoipa::path(get, path = "/api/v1/admin/services/{slug}", tag = "admin", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Service slug")),
    responses((status = 200, body = ServiceOut), (status = 404, body = crate::error::Problem)))]
pub async fn get_service(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let slug = path.into_inner();
    let out = state
        .db(move |c| {
            let s = registry::find_service(c, &key.agency_id, &slug)?
                .ok_or(ApiError::NotFound("service"))?;
            let hisp = crate::db::schema::hisps::table
                .find(&s.hisp_id)
                .select(crate::db::schema::hisps::slug)
                .first::<String>(c)?;
            Ok(service_out(s, hisp))
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

#[utoipa::path(get, path = "/api/v1/admin/services", tag = "admin", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = ServiceList, headers(("Link" = String, description = "`<next>; rel=\"next\"` while another page follows"))),
              (status = 422, body = crate::error::Problem, description = "A bad `limit` or `after`")))]
pub async fn list_services(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pr = PageRequest::from_request(&req)?;
    let (after, n) = (pr.after.clone(), pr.fetch());
    let mut list = state
        .db(move |c| Ok(registry::list_services(c, &key.agency_id, after, n)?))
        .await?;
    let next = pr.finish(&mut list, req.path(), |(s, _)| {
        (s.slug.clone(), s.id.clone())
    });
    let out: Vec<ServiceOut> = list.into_iter().map(|(s, h)| service_out(s, h)).collect();
    Ok(page::respond(
        &ServiceList {
            services: out,
            next: next.clone(),
        },
        next.as_deref(),
    ))
}

/// One page of the agency's services, by slug.
#[derive(Serialize, ToSchema)]
pub struct ServiceList {
    pub services: Vec<ServiceOut>,
    /// The next page's path with its query, or null on the last page.
    pub next: Option<String>,
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDeployment {
    /// Instrument id from survey-defs, e.g. `a11-v2-thumbs`.
    pub instrument: String,
    /// Slug of one of the agency's services.
    pub service: String,
    pub channel: String,
    #[validate(length(min = 1, max = 300), custom(function = "not_blank"))]
    pub transaction_point: String,
    #[serde(default)]
    #[validate(length(max = 50))]
    pub allowed_origins: Vec<String>,
    /// `open` (default: anyone with the page or widget may answer) or `invitation` (answers
    /// only through single-use invitation links).
    pub access: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DeploymentOut {
    pub id: String,
    pub status: DeploymentStatus,
    pub instrument: String,
    pub instrument_version: Option<i32>,
    pub service: String,
    pub channel: String,
    pub transaction_point: String,
    pub allowed_origins: Vec<String>,
    pub access: Access,
    /// The registry file that declares this deployment (change it there), or null.
    pub managed_by: Option<String>,
    pub survey_url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn deployment_out(state: &AppState, d: Deployment, service: String) -> DeploymentOut {
    DeploymentOut {
        instrument_version: state.instrument(&d.instrument_id).map(|i| i.version),
        survey_url: format!("{}/s/{}", state.settings.public_url, d.id),
        allowed_origins: d.origins(),
        access: d.access,
        managed_by: d.managed_by,
        id: d.id,
        status: d.status,
        instrument: d.instrument_id,
        service,
        channel: d.channel,
        transaction_point: d.transaction_point,
        created_at: to_utc(d.created_at),
        updated_at: to_utc(d.updated_at),
    }
}

/// `access` parsed, if given; an unknown word goes to `errs`.
fn parse_access(access: Option<&str>, errs: &mut Vec<FieldError>) -> Option<Access> {
    let a = access?;
    let parsed = Access::parse(a);
    if parsed.is_none() {
        errs.push(FieldError::new(
            "access",
            "must be \"open\" or \"invitation\"",
        ));
    }
    parsed
}

fn parse_origins(list: &[String]) -> Result<Vec<String>, Vec<FieldError>> {
    let mut errs = vec![];
    let mut out = vec![];
    for (i, o) in list.iter().enumerate() {
        match registry::parse_origin(o) {
            Ok(o) if !out.contains(&o) => out.push(o),
            Ok(_) => {}
            Err(e) => errs.push(FieldError::new(format!("allowed_origins[{i}]"), e)),
        }
    }
    if errs.is_empty() {
        Ok(out)
    } else {
        Err(errs)
    }
}

#[utoipa::path(post, path = "/api/v1/admin/deployments", tag = "admin", security(("bearer" = [])), request_body = NewDeployment,
    responses((status = 201, body = DeploymentOut, headers(("Location" = String, description = "The new deployment: /api/v1/admin/deployments/{id}"),
                                                            ("ETag" = String, description = "The deployment's version, for If-Match"))), (status = 422, body = crate::error::Problem)))]
pub async fn create_deployment(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body: NewDeployment = json_body(&req, payload, BODY_LIMIT).await?;
    let (d, slug) = create_deployment_in(&state, &key.agency_id, body, |_, _| Ok(())).await?;
    let tag = etag(&d);
    let out = deployment_out(&state, d, slug);
    let mut r = HttpResponse::Created();
    r.insert_header((header::LOCATION, format!("{ADMIN}/deployments/{}", out.id)))
        .insert_header((header::ETAG, tag));
    Ok(r.json(out))
}

/// What runs inside a deployment change's transaction after the change, given the deployment's
/// id: the console's audit line, so a change is never stored without it.
pub trait AfterChange:
    FnOnce(&mut AnyConnection, &str) -> QueryResult<()> + Send + 'static
{
}
impl<F: FnOnce(&mut AnyConnection, &str) -> QueryResult<()> + Send + 'static> AfterChange for F {}

/// Checks `body` and creates the deployment in `agency`, returning it with its service's slug.
/// The admin API's POST and the console's form both call this, so they accept and refuse the
/// same input, in the same order (`422` each time): the body's rules, then the instrument,
/// channel, access and origins together, then the service and its channels.
pub async fn create_deployment_in(
    state: &AppState,
    agency: &AgencyId,
    body: NewDeployment,
    then: impl AfterChange,
) -> Result<(Deployment, String), ApiError> {
    let (access, origins) = check_new_deployment(state, &body)?;
    let agency = agency.clone();
    state
        .db(move |c| {
            let service = registry::find_service(c, &agency, &body.service)?.ok_or_else(|| {
                ApiError::field(
                    "service",
                    format!("no service {:?} in your agency", body.service),
                )
            })?;
            if !service.channel_list().contains(&body.channel) {
                return Err(ApiError::field(
                    "channel",
                    format!(
                        "service {:?} is not delivered through {:?}",
                        service.slug, body.channel
                    ),
                ));
            }
            let now = db::now();
            let d = Deployment {
                id: registry::new_id(),
                agency_id: agency.clone(),
                service_id: service.id.clone(),
                instrument_id: body.instrument.clone(),
                channel: body.channel.clone(),
                transaction_point: body.transaction_point.trim().to_string(),
                allowed_origins: serde_json::to_string(&origins).unwrap_or_default(),
                status: DeploymentStatus::Open,
                created_at: now,
                updated_at: now,
                access: access.unwrap_or(Access::Open),
                managed_by: None,
            };
            c.transaction(|c| {
                registry::insert_deployment(c, &d)?;
                then(c, &d.id)
            })?;
            Ok((d, service.slug))
        })
        .await
}

/// The checks of a new deployment that need no database: the access and origins, parsed.
fn check_new_deployment(
    state: &AppState,
    body: &NewDeployment,
) -> Result<(Option<Access>, Vec<String>), ApiError> {
    validate(body)?;
    let mut errs = vec![];
    if state.instrument(&body.instrument).is_none() {
        let known: Vec<&str> = state.defs.instruments.keys().map(String::as_str).collect();
        errs.push(FieldError::new(
            "instrument",
            format!(
                "no instrument {:?} (loaded: {})",
                body.instrument,
                known.join(", ")
            ),
        ));
    }
    if !registry::is_channel(&body.channel) {
        errs.push(FieldError::new(
            "channel",
            format!("{:?} is not an OMB channel", body.channel),
        ));
    }
    let access = parse_access(body.access.as_deref(), &mut errs);
    let origins = parse_origins(&body.allowed_origins).unwrap_or_else(|e| {
        errs.extend(e);
        vec![]
    });
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    Ok((access, origins))
}

#[utoipa::path(get, path = "/api/v1/admin/deployments", tag = "admin", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = DeploymentList, headers(("Link" = String, description = "`<next>; rel=\"next\"` while another page follows"))),
              (status = 422, body = crate::error::Problem, description = "A bad `limit` or `after`")))]
pub async fn list_deployments(
    state: web::Data<AppState>,
    key: AdminKey,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let pr = PageRequest::from_request(&req)?;
    let after = match &pr.after {
        Some((k, id)) => Some((page::parse_time_key(k)?, id.clone())),
        None => None,
    };
    let n = pr.fetch();
    let mut list = state
        .db(move |c| Ok(registry::list_deployments(c, &key.agency_id, after, n)?))
        .await?;
    let next = pr.finish(&mut list, req.path(), |(d, _)| {
        (page::time_key(&d.created_at), d.id.clone())
    });
    let out: Vec<DeploymentOut> = list
        .into_iter()
        .map(|(d, s)| deployment_out(&state, d, s))
        .collect();
    Ok(page::respond(
        &DeploymentList {
            deployments: out,
            next: next.clone(),
        },
        next.as_deref(),
    ))
}

/// One page of the agency's deployments, oldest first.
#[derive(Serialize, ToSchema)]
pub struct DeploymentList {
    pub deployments: Vec<DeploymentOut>,
    /// The next page's path with its query, or null on the last page.
    pub next: Option<String>,
}

/// A deployment's entity tag: a strong tag of its id and `updated_at` (which every change moves
/// forward), hashed so it says nothing of either.
pub fn etag(d: &Deployment) -> String {
    use sha2::{Digest, Sha256};
    let h = Sha256::digest(format!("{}|{}", d.id, page::time_key(&d.updated_at)).as_bytes());
    format!("\"{}\"", hex::encode(&h[..12]))
}

/// Whether an `If-Match` header value lets a change to the version tagged `current` through:
/// `*`, or a list naming it (strong comparison: a weak `W/` tag never matches).
fn if_match_allows(header: &str, current: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t == current)
}

/// The agency's deployment `id` with its service's slug; another agency's is `404`.
pub async fn owned_deployment(
    state: &AppState,
    agency: &AgencyId,
    id: &str,
) -> Result<(Deployment, String), ApiError> {
    let (agency, id) = (agency.clone(), crate::paths::deployment_id(id)?);
    state
        .db(move |c| {
            let d = registry::find_deployment(c, &agency, &id)?
                .ok_or(ApiError::NotFound("deployment"))?;
            let slug = crate::db::schema::services::table
                .find(&d.service_id)
                .select(crate::db::schema::services::slug)
                .first::<String>(c)?;
            Ok((d, slug))
        })
        .await
}

#[utoipa::path(get, path = "/api/v1/admin/deployments/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "Deployment id")),
    responses((status = 200, body = DeploymentOut, headers(("ETag" = String, description = "The deployment's version: send it as If-Match with a PATCH"))),
              (status = 404, body = crate::error::Problem)))]
pub async fn get_deployment(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (d, s) = owned_deployment(&state, &key.agency_id, &path).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&d)))
        .json(deployment_out(&state, d, s)))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct DeploymentPatch {
    /// `open` or `closed`.
    pub status: Option<String>,
    pub transaction_point: Option<String>,
    pub allowed_origins: Option<Vec<String>>,
    /// `open` or `invitation`.
    pub access: Option<String>,
}

#[utoipa::path(patch, path = "/api/v1/admin/deployments/{id}", tag = "admin", security(("bearer" = [])), request_body = DeploymentPatch,
    params(("id" = String, Path, description = "Deployment id"),
           ("If-Match" = Option<String>, Header, description = "The ETag of the version this change was made from (optional, recommended): \
             a stale tag answers 412 and changes nothing. Without it the change applies to whatever is stored.")),
    responses((status = 200, body = DeploymentOut, headers(("ETag" = String, description = "The changed deployment's version"))),
              (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem, description = "The deployment is declared in a registry file, its source of truth"),
              (status = 412, body = crate::error::Problem, description = "If-Match names another version: the deployment changed since it was read; nothing was changed"),
              (status = 422, body = crate::error::Problem)))]
pub async fn update_deployment(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let patch: DeploymentPatch = json_body(&req, payload, BODY_LIMIT).await?;
    let if_match = req
        .headers()
        .get(header::IF_MATCH)
        .map(|h| h.to_str().unwrap_or("").to_string());
    let (d, slug) = change_deployment(
        &state,
        &key.agency_id,
        &path,
        patch,
        if_match,
        |_, _| Ok(()),
    )
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, etag(&d)))
        .json(deployment_out(&state, d, slug)))
}

/// Applies `patch` to the agency's deployment `id` and returns it as stored after the change.
/// The admin API's PATCH and the console's forms both call this: the same checks in the same
/// order (`422` for bad fields, `404` for another agency's, `409` for a registry file's, `412`
/// when `if_match`, the `If-Match` value, names an older version).
pub async fn change_deployment(
    state: &AppState,
    agency: &AgencyId,
    id: &str,
    patch: DeploymentPatch,
    if_match: Option<String>,
    then: impl AfterChange,
) -> Result<(Deployment, String), ApiError> {
    let change = DeploymentChange::parse(patch)?;
    let (d, slug) = owned_deployment(state, agency, id).await?;
    let checked = editable(&d, if_match.as_deref())?;
    let (id, read_at) = (d.id.clone(), d.updated_at);
    // Always later than the version read, so every change gets a new tag.
    let now = db::now().max(read_at + chrono::Duration::microseconds(1));
    state
        .db(move |c| {
            c.transaction(|c| {
                change.apply(c, &id, checked.then_some(read_at), now)?;
                Ok(then(c, &id)?)
            })
        })
        .await?;
    state.deployments.forget(&d.id);
    let (d, _) = owned_deployment(state, agency, &d.id).await?;
    Ok((d, slug))
}

/// A deployment PATCH, validated: every bad field named at once.
struct DeploymentChange {
    status: Option<DeploymentStatus>,
    transaction_point: Option<String>,
    access: Option<Access>,
    origins: Option<Vec<String>>,
}

impl DeploymentChange {
    fn parse(body: DeploymentPatch) -> Result<Self, ApiError> {
        let mut errs = vec![];
        let status = body.status.as_deref().and_then(|s| {
            let parsed = DeploymentStatus::parse(s);
            if parsed.is_none() {
                errs.push(FieldError::new("status", "must be \"open\" or \"closed\""));
            }
            parsed
        });
        if let Some(t) = &body.transaction_point {
            if t.trim().is_empty() || t.len() > 300 {
                errs.push(FieldError::new(
                    "transaction_point",
                    "must be 1 to 300 characters",
                ));
            }
        }
        let access = parse_access(body.access.as_deref(), &mut errs);
        let origins = match body.allowed_origins.as_deref().map(parse_origins) {
            Some(Err(e)) => {
                errs.extend(e);
                None
            }
            Some(Ok(o)) => Some(o),
            None => None,
        };
        if !errs.is_empty() {
            return Err(ApiError::Invalid(errs));
        }
        Ok(DeploymentChange {
            status,
            transaction_point: body.transaction_point.map(|t| t.trim().to_string()),
            access,
            origins,
        })
    }

    /// Applies the change inside the caller's transaction. First, and conditional on the
    /// version read when `If-Match` was given: a change committed since (another editor's)
    /// matches no row and the whole change is refused. The row lock (or SQLite's write lock)
    /// taken here holds off a concurrent PATCH until commit.
    fn apply(
        &self,
        c: &mut crate::db::AnyConnection,
        id: &str,
        read_at: Option<chrono::NaiveDateTime>,
        now: chrono::NaiveDateTime,
    ) -> Result<(), ApiError> {
        use crate::db::schema::deployments as t;
        let mut bump = diesel::update(t::table.find(id)).into_boxed();
        if let Some(read_at) = read_at {
            bump = bump.filter(t::updated_at.eq(read_at));
        }
        if bump.set(t::updated_at.eq(now)).execute(c)? == 0 {
            return Err(stale());
        }
        let row = t::table.find(id);
        if let Some(s) = self.status {
            diesel::update(row).set(t::status.eq(s)).execute(c)?;
        }
        if let Some(tp) = &self.transaction_point {
            diesel::update(row)
                .set(t::transaction_point.eq(tp))
                .execute(c)?;
        }
        if let Some(a) = self.access {
            diesel::update(row).set(t::access.eq(a)).execute(c)?;
        }
        if let Some(o) = &self.origins {
            let json = serde_json::to_string(o).unwrap_or_default();
            diesel::update(row)
                .set(t::allowed_origins.eq(json))
                .execute(c)?;
        }
        Ok(())
    }
}

/// Whether the deployment may change through the API (`409` if a registry file declares it)
/// and from the version `If-Match` names (`412` if stale); `true` when `If-Match` was given.
fn editable(d: &Deployment, if_match: Option<&str>) -> Result<bool, ApiError> {
    if let Some(file) = &d.managed_by {
        // A change here would be undone by the file at the next start: refuse it visibly.
        return Err(ApiError::Conflict {
            field: "id".into(),
            detail: format!(
                "this deployment is declared in the registry file {file:?}, its source of truth; change it there and restart"
            ),
        });
    }
    let Some(h) = if_match else {
        return Ok(false);
    };
    if !if_match_allows(h, &etag(d)) {
        return Err(stale());
    }
    Ok(true)
}

fn stale() -> ApiError {
    ApiError::PreconditionFailed(
        "the deployment changed since this If-Match tag was read; nothing was changed: GET it again and reapply the change".into(),
    )
}

#[derive(Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VolumeIn {
    pub channel: String,
    #[validate(range(min = 0, max = 1_000_000_000_000i64))]
    pub volume_of_customers: i64,
    /// Customers offered the survey through this channel, as the agency counted them: for
    /// channels where nothing records impressions (paper, phone, in person). Omitted: the
    /// report counts impressions and delivered invitations only.
    #[validate(range(min = 0, max = 1_000_000_000_000i64))]
    pub survey_opportunities: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct VolumeOut {
    pub service: String,
    pub fiscal_year: i32,
    pub quarter: i16,
    pub channel: String,
    pub volume_of_customers: i64,
    pub survey_opportunities: Option<i64>,
}

#[utoipa::path(put, path = "/api/v1/admin/services/{service}/volumes/{fiscal_year}/{quarter}", tag = "admin", security(("bearer" = [])),
    request_body = VolumeIn,
    params(("service" = String, Path), ("fiscal_year" = i32, Path), ("quarter" = i16, Path)),
    responses((status = 200, body = VolumeOut), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn put_volume(
    state: web::Data<AppState>,
    key: AdminKey,
    path: web::Path<(String, String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let (service, fy, q) = path.into_inner();
    let mut errs = vec![];
    let fy_n = fy.parse::<i32>().ok().filter(|y| (2000..=2100).contains(y));
    if fy_n.is_none() {
        errs.push(FieldError::new(
            "fiscal_year",
            "must be a four-digit fiscal year",
        ));
    }
    let q_n = q.parse::<u8>().ok().filter(|q| (1..=4).contains(q));
    if q_n.is_none() {
        errs.push(FieldError::new("quarter", "must be 1 to 4"));
    }
    let body: VolumeIn = json_body(&req, payload, BODY_LIMIT).await?;
    if let Err(ApiError::Invalid(e)) = validate(&body) {
        errs.extend(e);
    }
    if !errs.is_empty() {
        return Err(ApiError::Invalid(errs));
    }
    let fq = FiscalQuarter::new(fy_n.unwrap_or_default(), q_n.unwrap_or_default())
        .map_err(|e| ApiError::field("quarter", e))?;
    let out = state
        .db(move |c| {
            let s = registry::find_service(c, &key.agency_id, &service)?
                .ok_or(ApiError::NotFound("service"))?;
            let entry = VolumeEntry {
                channel: body.channel.clone(),
                volume_of_customers: Some(body.volume_of_customers),
                survey_opportunities: body.survey_opportunities,
            };
            save_volumes(c, &s, fq, std::slice::from_ref(&entry))?;
            Ok(VolumeOut {
                service: s.slug,
                fiscal_year: fq.year,
                quarter: fq.quarter as i16,
                channel: body.channel,
                volume_of_customers: body.volume_of_customers,
                survey_opportunities: body.survey_opportunities,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// The largest volume either count may hold (the API's and the console's bound).
pub const MAX_VOLUME: i64 = 1_000_000_000_000;

/// One channel's operational volumes of a service's quarter. No `volume_of_customers`: the
/// channel's stored volumes are removed (the console's blank field).
pub struct VolumeEntry {
    pub channel: String,
    pub volume_of_customers: Option<i64>,
    pub survey_opportunities: Option<i64>,
}

/// Stores `entries` as service `s`'s volumes of `fq`, each replacing what its channel had, in
/// one transaction (nested in the caller's, if any). A channel the service is not delivered
/// through is refused (`422`, field `channel`) and nothing is stored.
pub fn save_volumes(
    c: &mut crate::db::AnyConnection,
    s: &Service,
    fq: FiscalQuarter,
    entries: &[VolumeEntry],
) -> Result<(), ApiError> {
    let channels = s.channel_list();
    if let Some(e) = entries.iter().find(|e| !channels.contains(&e.channel)) {
        return Err(ApiError::field(
            "channel",
            format!(
                "service {:?} is not delivered through {:?}",
                s.slug, e.channel
            ),
        ));
    }
    let quarter = fq.quarter as i16;
    c.transaction::<_, diesel::result::Error, _>(|c| {
        use service_volumes as v;
        for e in entries {
            // Delete + insert: an upsert that reads the same on both backends.
            diesel::delete(v::table.find((&s.id, fq.year, quarter, &e.channel))).execute(c)?;
            let Some(volume) = e.volume_of_customers else {
                continue;
            };
            diesel::insert_into(v::table)
                .values((
                    v::service_id.eq(&s.id),
                    v::fiscal_year.eq(fq.year),
                    v::quarter.eq(quarter),
                    v::channel.eq(&e.channel),
                    v::volume_of_customers.eq(volume),
                    v::survey_opportunities.eq(e.survey_opportunities),
                    v::updated_at.eq(db::now()),
                ))
                .execute(c)?;
        }
        Ok(())
    })?;
    Ok(())
}
