//! Console sessions, kept in the database so every instance sees a sign-out or a revoked role at
//! the next request: the cookie holds 256 random bits, the table their SHA-256. Each request
//! reads the session joined with the person's role in the session's agency; no role, no access.
//! State-changing requests must carry the session's CSRF token and, when the browser sends one,
//! our own `Origin`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use futures_util::StreamExt;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::plain::ConsoleError;
use crate::app::AppState;
use crate::db::schema::{agencies, staff_grants, staff_sessions, staff_users};
use crate::db::{self, AnyConnection};
use crate::domain::{AgencyId, Role};

/// The signed-in person in the agency they are working in.
#[derive(Clone, Debug)]
pub struct Staff {
    pub user_id: String,
    pub email: String,
    pub agency_id: AgencyId,
    pub agency_name: String,
    pub role: Role,
    pub csrf: String,
    session_hash: String,
}

impl Staff {
    /// `403` unless the person's role here includes `needed`.
    pub fn require(&self, needed: Role) -> Result<(), ConsoleError> {
        if self.role.includes(needed) {
            Ok(())
        } else {
            Err(ConsoleError::Forbidden)
        }
    }

    pub fn may(&self, needed: Role) -> bool {
        self.role.includes(needed)
    }

    /// The audit log's name for this person.
    pub fn actor(&self) -> &str {
        &self.email
    }
}

pub fn random_token() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    hex::encode(raw)
}

pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The session cookie's name: `__Host-` (no Domain, Path=/, Secure enforced by browsers)
/// whenever the service is served over https.
pub fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-cx_session"
    } else {
        "cx_session"
    }
}

fn secure(state: &AppState) -> bool {
    state.settings.public_url.starts_with("https://")
}

/// A cookie of this service: HttpOnly, SameSite=Lax, Secure over https, whole-site path.
pub fn cookie(state: &AppState, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(secure(state))
        .finish()
}

/// The cookie that removes `name` from the browser.
pub fn removal(state: &AppState, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(state, name, String::new());
    c.make_removal();
    c
}

/// Starts a session for `user_id` in `agency`, returning the cookie value. Always a new id:
/// whatever session the browser brought is not reused (no fixation).
pub fn start(
    c: &mut AnyConnection,
    state: &AppState,
    user_id: &str,
    agency: &AgencyId,
) -> QueryResult<String> {
    let token = random_token();
    let now = db::now();
    diesel::insert_into(staff_sessions::table)
        .values((
            staff_sessions::id_hash.eq(hash(&token)),
            staff_sessions::user_id.eq(user_id),
            staff_sessions::agency_id.eq(agency),
            staff_sessions::csrf_token.eq(random_token()),
            staff_sessions::created_at.eq(now),
            staff_sessions::last_seen_at.eq(now),
            staff_sessions::expires_at.eq(now + state.settings.session_max),
        ))
        .execute(c)?;
    Ok(token)
}

/// Ends the session whose cookie value is `token` (no error if it is already gone).
pub fn end(c: &mut AnyConnection, token: &str) -> QueryResult<()> {
    diesel::delete(staff_sessions::table.find(hash(token)))
        .execute(c)
        .map(drop)
}

/// Moves the session to another agency the person holds a role in; `false` if they hold none.
pub fn switch_agency(c: &mut AnyConnection, staff: &Staff, agency: &AgencyId) -> QueryResult<bool> {
    let held = staff_grants::table
        .filter(staff_grants::user_id.eq(&staff.user_id))
        .filter(staff_grants::agency_id.eq(agency))
        .count()
        .get_result::<i64>(c)?
        > 0;
    if held {
        diesel::update(staff_sessions::table.find(&staff.session_hash))
            .set(staff_sessions::agency_id.eq(agency))
            .execute(c)?;
    }
    Ok(held)
}

type SessionRow = (
    String,
    AgencyId,
    String,
    NaiveDateTime,
    NaiveDateTime,
    String,
    Role,
    String,
);

/// The live session for `token`, or `None` (unknown, idle too long, past its end, or the
/// person no longer holds a role in the session's agency). Expired rows are deleted.
fn load(c: &mut AnyConnection, state: &AppState, token: &str) -> QueryResult<Option<Staff>> {
    let id_hash = hash(token);
    let row: Option<SessionRow> = staff_sessions::table
        .inner_join(staff_users::table)
        .inner_join(agencies::table.on(agencies::id.eq(staff_sessions::agency_id)))
        .inner_join(
            staff_grants::table.on(staff_grants::user_id
                .eq(staff_sessions::user_id)
                .and(staff_grants::agency_id.eq(staff_sessions::agency_id))),
        )
        .filter(staff_sessions::id_hash.eq(&id_hash))
        .select((
            staff_sessions::user_id,
            staff_sessions::agency_id,
            staff_sessions::csrf_token,
            staff_sessions::last_seen_at,
            staff_sessions::expires_at,
            staff_users::email,
            staff_grants::role,
            agencies::name,
        ))
        .first(c)
        .optional()?;
    let Some((user_id, agency_id, csrf, last_seen, expires, email, role, agency_name)) = row else {
        return Ok(None);
    };
    let now = db::now();
    if now >= expires || now - last_seen >= state.settings.session_idle {
        end(c, token)?;
        return Ok(None);
    }
    // One write a minute at most: the idle timeout does not need more precision.
    if now - last_seen >= chrono::Duration::minutes(1) {
        diesel::update(staff_sessions::table.find(&id_hash))
            .set(staff_sessions::last_seen_at.eq(now))
            .execute(c)?;
    }
    Ok(Some(Staff {
        user_id,
        email,
        agency_id,
        agency_name,
        role,
        csrf,
        session_hash: id_hash,
    }))
}

/// The state-changing methods: everything but GET, HEAD and OPTIONS.
fn changes_state(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// A cross-site form post carries another site's `Origin`; ours (the public URL's, or the
/// host the request was sent to), or none (older clients), passes on to the token check.
fn origin_ok(state: &AppState, req: &HttpRequest) -> bool {
    use actix_web::http::header;
    let Some(origin) = req.headers().get(header::ORIGIN) else {
        return true;
    };
    let Some(origin) = origin.to_str().ok().and_then(|o| url::Url::parse(o).ok()) else {
        return false;
    };
    let ours =
        url::Url::parse(&state.settings.public_url).is_ok_and(|u| u.origin() == origin.origin());
    let host = match (origin.host_str(), origin.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => return false,
    };
    let same_host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.eq_ignore_ascii_case(&host));
    ours || same_host
}

async fn authenticate(req: HttpRequest) -> Result<Staff, ConsoleError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ConsoleError::Internal)?
        .clone();
    let Some(token) = req
        .cookie(cookie_name(&state))
        .map(|c| c.value().to_string())
    else {
        return Err(ConsoleError::SignIn);
    };
    if changes_state(req.method()) && !origin_ok(&state, &req) {
        return Err(ConsoleError::Forbidden);
    }
    let st = state.clone();
    let staff = state
        .db(move |c| Ok(load(c, &st, &token)?))
        .await
        .map_err(ConsoleError::from)?;
    staff.ok_or(ConsoleError::SignIn)
}

impl FromRequest for Staff {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        Box::pin(authenticate(req.clone()))
    }
}

/// A submitted console form (urlencoded or multipart) from a signed-in person, whose CSRF token
/// (the `csrf_token` field or the `X-CSRF-Token` header) matched their session's. Without a
/// match nothing reaches the handler: `403`.
pub struct Change {
    pub staff: Staff,
    pub form: Form,
}

/// Form fields by name (each may repeat), and uploaded files by field name.
#[derive(Default, Debug)]
pub struct Form {
    fields: HashMap<String, Vec<String>>,
    files: HashMap<String, Vec<u8>>,
}

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// The value, trimmed; `""` when absent.
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or("").trim().to_string()
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.fields.get(name).cloned().unwrap_or_default()
    }

    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(Vec::as_slice)
    }
}

/// The largest console form or upload (an invitation or import CSV).
pub const FORM_LIMIT: usize = 16 * 1024 * 1024;

async fn read_form(req: &HttpRequest, payload: web::Payload) -> Result<Form, ConsoleError> {
    let ctype = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ctype.starts_with("multipart/form-data") {
        return read_multipart(req, payload).await;
    }
    let body = payload
        .to_bytes_limited(FORM_LIMIT)
        .await
        .map_err(|_| ConsoleError::TooLarge)?
        .map_err(|_| ConsoleError::BadRequest)?;
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(&body).map_err(|_| ConsoleError::BadRequest)?;
    let mut form = Form::default();
    for (k, v) in pairs {
        form.fields.entry(k).or_default().push(v);
    }
    Ok(form)
}

async fn read_multipart(req: &HttpRequest, payload: web::Payload) -> Result<Form, ConsoleError> {
    let mut mp = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
    let mut form = Form::default();
    let mut total = 0usize;
    while let Some(field) = mp.next().await {
        let mut field = field.map_err(|_| ConsoleError::BadRequest)?;
        let name = field.name().unwrap_or("").to_string();
        let is_file = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .is_some();
        let mut bytes = vec![];
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|_| ConsoleError::BadRequest)?;
            total += chunk.len();
            if total > FORM_LIMIT {
                return Err(ConsoleError::TooLarge);
            }
            bytes.extend_from_slice(&chunk);
        }
        if is_file {
            form.files.insert(name, bytes);
        } else {
            let text = String::from_utf8(bytes).map_err(|_| ConsoleError::BadRequest)?;
            form.fields.entry(name).or_default().push(text);
        }
    }
    Ok(form)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl FromRequest for Change {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut actix_web::dev::Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload.await.map_err(|_| ConsoleError::BadRequest)?;
            let staff = authenticate(req.clone()).await?;
            let header = req
                .headers()
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let form = read_form(&req, payload).await?;
            let token = header.or_else(|| form.get("csrf_token").map(str::to_string));
            match token {
                Some(t) if same(&t, &staff.csrf) => Ok(Change { staff, form }),
                _ => Err(ConsoleError::Forbidden),
            }
        })
    }
}

/// Forgets sign-ins that were begun and never finished, and sessions past their end.
pub fn sweep(c: &mut AnyConnection) -> QueryResult<usize> {
    use crate::db::schema::auth_requests;
    let now = db::now();
    let a = diesel::delete(auth_requests::table.filter(auth_requests::expires_at.lt(now)))
        .execute(c)?;
    let s = diesel::delete(staff_sessions::table.filter(staff_sessions::expires_at.lt(now)))
        .execute(c)?;
    Ok(a + s)
}
