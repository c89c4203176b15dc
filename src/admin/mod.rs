//! The admin API: bearer keys scoped to one agency. Every query filters by the key's agency,
//! so another agency's objects answer `404` as if they did not exist.

pub mod import;
pub mod invitations;
pub mod page;
pub mod reports;
pub mod response_query;
pub mod responses;
pub mod structure;

use std::future::Future;
use std::pin::Pin;

use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::app::AppState;
use crate::db::schema::api_keys;
use crate::db::{self, AnyConnection};
use crate::domain::AgencyId;
use crate::error::{ApiError, FieldError};
use crate::registry;

pub fn routes(cfg: &mut web::ServiceConfig) {
    use structure::*;
    use web::{get, patch, post, put, resource};
    // One resource per path, so a known path asked with another method answers `405`.
    cfg.service(
        web::scope("/api/v1/admin")
            .service(
                resource("/hisps")
                    .route(post().to(create_hisp))
                    .route(get().to(list_hisps)),
            )
            .service(resource("/hisps/{slug}").route(get().to(get_hisp)))
            .service(
                resource("/services")
                    .route(post().to(create_service))
                    .route(get().to(list_services)),
            )
            .service(resource("/services/{slug}").route(get().to(get_service)))
            .service(
                resource("/services/{service}/volumes/{fiscal_year}/{quarter}")
                    .route(put().to(put_volume)),
            )
            .service(
                resource("/deployments")
                    .route(post().to(create_deployment))
                    .route(get().to(list_deployments)),
            )
            .service(
                resource("/deployments/{id}")
                    .route(get().to(get_deployment))
                    .route(patch().to(update_deployment)),
            )
            .service(
                resource("/deployments/{id}/responses/import")
                    .route(post().to(import::import_responses)),
            )
            .service(
                resource("/deployments/{id}/invitations")
                    .route(post().to(invitations::create_invitations)),
            )
            .service(resource("/responses").route(get().to(responses::export)))
            .service(resource("/responses/{id}").route(patch().to(responses::triage)))
            .service(resource("/responses/{id}/audit").route(get().to(responses::audit)))
            .service(resource("/reports/quarterly").route(get().to(reports::quarterly))),
    );
}

/// The caller, authenticated by `Authorization: Bearer <key>`.
#[derive(Clone, Debug)]
pub struct AdminKey {
    pub key_id: String,
    pub agency_id: AgencyId,
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
struct ApiKeyRow {
    id: String,
    agency_id: AgencyId,
    label: Option<String>,
    key_hash: String,
    created_at: NaiveDateTime,
    revoked_at: Option<NaiveDateTime>,
}

/// Keys carry 256 random bits, so a plain SHA-256 is a sound stored form (no stretching needed).
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Creates a key for `agency_slug` (creating the agency if new) and returns the key itself,
/// which is shown once and never stored.
pub fn create_key(
    conn: &mut AnyConnection,
    agency_slug: &str,
    name: Option<&str>,
    label: Option<&str>,
) -> Result<String, String> {
    if !crate::survey::is_slug(agency_slug) {
        return Err(format!(
            "--agency {agency_slug:?} must be a slug: lowercase a-z, 0-9 and -"
        ));
    }
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let agency = registry::ensure_agency(conn, agency_slug, name)?;
        insert_key(conn, &agency.id, label).map(|(_, key)| key)
    })
    .map_err(|e| e.to_string())
}

/// Adds a key to `agency` and returns its id and the key itself (only its hash is stored).
/// The caller owns the transaction, so the console can log the new key in the same one.
pub fn insert_key(
    conn: &mut AnyConnection,
    agency: &AgencyId,
    label: Option<&str>,
) -> QueryResult<(String, String)> {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    let key = format!("cxs_{}", hex::encode(raw));
    let id = registry::new_id();
    diesel::insert_into(api_keys::table)
        .values(&ApiKeyRow {
            id: id.clone(),
            agency_id: agency.clone(),
            label: label.map(str::to_string),
            key_hash: hash_key(&key),
            created_at: db::now(),
            revoked_at: None,
        })
        .execute(conn)?;
    Ok((id, key))
}

/// One key as `keys list` shows it: id, created, revoked, label (never the key itself).
pub type KeyInfo = (String, NaiveDateTime, Option<NaiveDateTime>, Option<String>);

/// An agency's keys, newest first.
pub fn list_keys(conn: &mut AnyConnection, agency_slug: &str) -> Result<Vec<KeyInfo>, String> {
    let agency = registry::find_agency_by_slug(conn, agency_slug).map_err(|e| e.to_string())?;
    match agency {
        Some(a) => agency_keys(conn, &a.id).map_err(|e| e.to_string()),
        None => Ok(vec![]),
    }
}

/// The keys of `agency`, newest first (the id breaks ties of one microsecond).
pub fn agency_keys(conn: &mut AnyConnection, agency: &AgencyId) -> QueryResult<Vec<KeyInfo>> {
    api_keys::table
        .filter(api_keys::agency_id.eq(agency))
        .order((api_keys::created_at.desc(), api_keys::id.desc()))
        .select((
            api_keys::id,
            api_keys::created_at,
            api_keys::revoked_at,
            api_keys::label,
        ))
        .load(conn)
}

/// The key `id` if it belongs to `agency`; another agency's key is `None`, as if absent.
pub fn agency_key(
    conn: &mut AnyConnection,
    agency: &AgencyId,
    id: &str,
) -> QueryResult<Option<KeyInfo>> {
    api_keys::table
        .filter(api_keys::agency_id.eq(agency))
        .filter(api_keys::id.eq(id))
        .select((
            api_keys::id,
            api_keys::created_at,
            api_keys::revoked_at,
            api_keys::label,
        ))
        .first(conn)
        .optional()
}

/// Revokes a key by its id (from `keys list`); it stops working at once on every instance.
/// The operator's command: any agency's key. The console uses `revoke_agency_key`.
pub fn revoke_key(conn: &mut AnyConnection, id: &str) -> Result<(), String> {
    let n = diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(db::now())))
    .execute(conn)
    .map_err(|e| e.to_string())?;
    if n == 0 {
        return Err(format!("no active key with id {id}"));
    }
    Ok(())
}

/// Revokes `agency`'s key `id`; `false` when the agency has no active key with that id (another
/// agency's key included), so nothing outside the agency can be touched.
pub fn revoke_agency_key(
    conn: &mut AnyConnection,
    agency: &AgencyId,
    id: &str,
) -> QueryResult<bool> {
    let n = diesel::update(
        api_keys::table
            .filter(api_keys::agency_id.eq(agency))
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null()),
    )
    .set(api_keys::revoked_at.eq(Some(db::now())))
    .execute(conn)?;
    Ok(n == 1)
}

impl FromRequest for AdminKey {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|t| t.trim().to_string());
        Box::pin(async move {
            let (Some(state), Some(token)) = (state, token) else {
                return Err(ApiError::Unauthorized);
            };
            let hash = hash_key(&token);
            let row: Option<(String, AgencyId)> = state
                .db(move |c| {
                    api_keys::table
                        .filter(
                            api_keys::key_hash
                                .eq(hash)
                                .and(api_keys::revoked_at.is_null()),
                        )
                        .select((api_keys::id, api_keys::agency_id))
                        .first(c)
                        .optional()
                        .map_err(ApiError::from)
                })
                .await?;
            row.map(|(key_id, agency_id)| AdminKey { key_id, agency_id })
                .ok_or(ApiError::Unauthorized)
        })
    }
}

/// Runs `validator` rules and turns them into per-field problems.
pub fn validate<T: validator::Validate>(v: &T) -> Result<(), ApiError> {
    v.validate().map_err(|errs| {
        let mut out: Vec<FieldError> = errs
            .field_errors()
            .into_iter()
            .flat_map(|(field, list)| {
                list.iter().map(move |e| {
                    FieldError::new(
                        field.to_string(),
                        e.message
                            .clone()
                            .map(|m| m.to_string())
                            .unwrap_or_else(|| e.code.to_string()),
                    )
                })
            })
            .collect();
        out.sort_by(|a, b| a.field.cmp(&b.field));
        ApiError::Invalid(out)
    })
}
