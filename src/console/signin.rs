//! Signing in and out: the identity provider's code flow (`/admin/sign-in` →
//! provider → `/admin/auth/callback`), break-glass links from `cx-survey users link`, sign-out,
//! and switching between the agencies a person works in.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use diesel::prelude::*;
use maud::html;
use serde::Deserialize;
use tokio::sync::OnceCell;

use super::oidc::{OidcConfig, Pending, Provider};
use super::session::{self, Change, Staff};
use super::ui::{self, ConsoleError};
use crate::app::AppState;
use crate::db::schema::{auth_requests, sign_in_links};
use crate::db::{self, AnyConnection};
use crate::domain::AgencyId;
use crate::error::ApiError;
use crate::pages::hosted;
use crate::staff::{self, StaffUser};

/// The identity provider, discovered at the first sign-in (and again after a failed attempt:
/// a provider that was down at start-up must not need a restart).
#[derive(Default)]
pub struct Idp {
    provider: OnceCell<Provider>,
}

/// The cookie that ties a sign-in under way to the browser that began it.
const AUTH_COOKIE: &str = "cx_auth";
/// How long a person may take at the provider.
const SIGN_IN_MINUTES: i64 = 10;
/// How long a break-glass link works.
pub const LINK_MINUTES: i64 = 15;

impl Idp {
    async fn provider(&self, state: &AppState) -> Result<Option<&Provider>, ConsoleError> {
        let Some(s) = &state.settings.oidc else {
            return Ok(None);
        };
        let cfg = OidcConfig {
            issuer: s.issuer.clone(),
            client_id: s.client_id.clone(),
            client_secret: s.client_secret.clone(),
            private_key_pem: s.private_key_pem.clone(),
            scopes: s.scopes.clone(),
            acr_values: s.acr_values.clone(),
            redirect_url: format!("{}/admin/auth/callback", state.settings.public_url),
        };
        let p = self
            .provider
            .get_or_try_init(|| Provider::discover(cfg))
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "identity provider discovery failed");
                ConsoleError::Unavailable
            })?;
        Ok(Some(p))
    }
}

/// `GET /admin/sign-in`: off to the identity provider, or a page saying there is none.
pub async fn sign_in(
    state: web::Data<AppState>,
    idp: web::Data<Idp>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(provider) = idp.provider(&state).await? else {
        return Ok(no_provider_page());
    };
    let (url, pending) = provider.authorize();
    let browser = session::random_token();
    let row = (
        auth_requests::state_hash.eq(session::hash(&pending.state)),
        auth_requests::browser_hash.eq(session::hash(&browser)),
        auth_requests::pending.eq(serde_json::to_string(&pending).unwrap_or_default()),
        auth_requests::return_to.eq(None::<String>),
        auth_requests::expires_at.eq(db::now() + Duration::minutes(SIGN_IN_MINUTES)),
    );
    state
        .db(move |c| {
            session::sweep(c)?;
            diesel::insert_into(auth_requests::table)
                .values(row)
                .execute(c)?;
            Ok(())
        })
        .await?;
    let mut r = ui::see_other(url.as_str());
    r.add_cookie(&session::cookie(&state, AUTH_COOKIE, browser))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(r)
}

fn no_provider_page() -> HttpResponse {
    let body = ui::bare(
        "Sign in",
        html! {
            h1 { "Sign in" }
            p.usa-intro { "This service has no identity provider configured." }
            p { "Your platform team can give you a one-time sign-in link (" code { "cx-survey users link --email ADDRESS" } "), or configure single sign-on as described in the console documentation." }
        },
    );
    hosted::html(StatusCode::OK, body)
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// The sign-in under way for `state`, if this browser began it; used up either way.
fn take_pending(
    c: &mut AnyConnection,
    state_value: &str,
    browser: &str,
) -> Result<Option<Pending>, ApiError> {
    let key = session::hash(state_value);
    let row: Option<(String, String, chrono::NaiveDateTime)> = auth_requests::table
        .find(&key)
        .select((
            auth_requests::browser_hash,
            auth_requests::pending,
            auth_requests::expires_at,
        ))
        .first(c)
        .optional()?;
    let n = diesel::delete(auth_requests::table.find(&key)).execute(c)?;
    Ok(row.and_then(|(b, pending, expires)| {
        (n == 1 && b == session::hash(browser) && expires > db::now())
            .then(|| serde_json::from_str(&pending).ok())
            .flatten()
    }))
}

/// `GET /admin/auth/callback`: the provider sends the browser back with a code.
pub async fn callback(
    state: web::Data<AppState>,
    idp: web::Data<Idp>,
    req: HttpRequest,
    q: web::Query<Callback>,
) -> Result<HttpResponse, ConsoleError> {
    let q = q.into_inner();
    let browser = req.cookie(AUTH_COOKIE).map(|c| c.value().to_string());
    let (Some(code), Some(st), Some(browser), None) = (q.code, q.state, browser, q.error) else {
        return Ok(refused("The sign-in was cancelled or did not complete."));
    };
    let Some(provider) = idp.provider(&state).await? else {
        return Err(ConsoleError::NotFound);
    };
    let pending = state.db(move |c| take_pending(c, &st, &browser)).await?;
    let Some(pending) = pending else {
        return Ok(refused(
            "This sign-in link is no longer valid (it was used, it expired, or it was begun in another browser).",
        ));
    };
    let identity = match provider.finish(&code, &pending).await {
        Ok(i) => i,
        Err(e) => {
            tracing::warn!(error = %e, "sign-in refused");
            return Ok(refused(&format!(
                "The identity provider's answer was refused: {e}."
            )));
        }
    };
    let user = state
        .db(move |c| {
            Ok(staff::match_identity(
                c,
                &identity.issuer,
                &identity.subject,
                &identity.email,
            )?)
        })
        .await?;
    let mut r = begin_session(&state, &req, user).await?;
    r.add_cookie(&session::removal(&state, AUTH_COOKIE))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(r)
}

/// A session for `user` in their first agency, replacing whatever session the browser had;
/// or the page explaining how to get access.
async fn begin_session(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: Option<StaffUser>,
) -> Result<HttpResponse, ConsoleError> {
    let Some(user) = user else {
        return Ok(no_access_page());
    };
    let old = req
        .cookie(session::cookie_name(state))
        .map(|c| c.value().to_string());
    let st = state.clone();
    let token = state
        .db(move |c| {
            let Some(first) = staff::memberships(c, &user.id)?.into_iter().next() else {
                return Ok(None);
            };
            if let Some(old) = old {
                session::end(c, &old)?;
            }
            staff::touch_sign_in(c, &user.id)?;
            Ok(Some(session::start(c, &st, &user.id, &first.agency_id)?))
        })
        .await?;
    let Some(token) = token else {
        return Ok(no_access_page());
    };
    let mut r = ui::see_other("/admin");
    r.add_cookie(&session::cookie(state, session::cookie_name(state), token))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(r)
}

fn refused(why: &str) -> HttpResponse {
    let body = ui::bare(
        "Sign-in failed",
        html! {
            h1 { "Sign-in failed" }
            p.usa-intro { (why) }
            p { a.usa-link href="/admin/sign-in" { "Sign in again" } }
        },
    );
    hosted::html(StatusCode::FORBIDDEN, body)
}

fn no_access_page() -> HttpResponse {
    let body = ui::bare(
        "No access yet",
        html! {
            h1 { "You do not have access yet" }
            p.usa-intro { "You signed in, but you have no role in any agency's console." }
            p { "Ask your agency's customer experience (CX) lead or the administrator of your agency's cx-survey console to give you a role. They need the email address you signed in with." }
            p { "If you expected access, sign in with your work account." }
        },
    );
    hosted::html(StatusCode::FORBIDDEN, body)
}

/// Makes a break-glass link for `email`: the token is printed once, only its hash is kept.
pub fn create_link(c: &mut AnyConnection, email: &str) -> QueryResult<String> {
    let token = session::random_token();
    let now = db::now();
    diesel::insert_into(sign_in_links::table)
        .values((
            sign_in_links::token_hash.eq(session::hash(&token)),
            sign_in_links::email.eq(email),
            sign_in_links::created_at.eq(now),
            sign_in_links::expires_at.eq(now + Duration::minutes(LINK_MINUTES)),
        ))
        .execute(c)?;
    Ok(token)
}

/// Uses up the link: the conditional update lets exactly one request through, however many
/// arrive at once.
fn redeem_link(c: &mut AnyConnection, token: &str) -> QueryResult<Option<StaffUser>> {
    let key = session::hash(token);
    let now = db::now();
    let n = diesel::update(
        sign_in_links::table
            .find(&key)
            .filter(sign_in_links::used_at.is_null())
            .filter(sign_in_links::expires_at.gt(now)),
    )
    .set(sign_in_links::used_at.eq(Some(now)))
    .execute(c)?;
    if n != 1 {
        return Ok(None);
    }
    let email: String = sign_in_links::table
        .find(&key)
        .select(sign_in_links::email)
        .first(c)?;
    staff::find_by_email(c, &email)
}

/// `GET /admin/auth/link/{token}`.
pub async fn link(
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    let token = path.into_inner();
    let user = state.db(move |c| Ok(redeem_link(c, &token)?)).await?;
    match user {
        Some(u) => begin_session(&state, &req, Some(u)).await,
        None => Ok(refused(
            "This sign-in link is not valid: links work once, for 15 minutes.",
        )),
    }
}

/// `POST /admin/sign-out`: the session ends on the server, everywhere.
pub async fn sign_out(
    state: web::Data<AppState>,
    req: HttpRequest,
    _change: Change,
) -> Result<HttpResponse, ConsoleError> {
    if let Some(token) = req
        .cookie(session::cookie_name(&state))
        .map(|c| c.value().to_string())
    {
        state.db(move |c| Ok(session::end(c, &token)?)).await?;
    }
    let mut r = ui::see_other("/admin/signed-out");
    r.add_cookie(&session::removal(&state, session::cookie_name(&state)))
        .map_err(|_| ConsoleError::Internal)?;
    Ok(r)
}

pub async fn signed_out() -> HttpResponse {
    let body = ui::bare(
        "Signed out",
        html! {
            h1 { "You are signed out" }
            p.usa-intro { "Your session has ended on the server." }
            p { a.usa-link href="/admin/sign-in" { "Sign in again" } }
        },
    );
    hosted::html(StatusCode::OK, body)
}

/// `GET /admin/agency`: the agencies this person works in.
pub async fn agencies(
    state: web::Data<AppState>,
    staff: Staff,
) -> Result<HttpResponse, ConsoleError> {
    let uid = staff.user_id.clone();
    let list = state.db(move |c| Ok(staff::memberships(c, &uid)?)).await?;
    Ok(ui::page(
        &staff,
        "/admin/agency",
        "Switch agency",
        html! {
            h1 { "Switch agency" }
            p { "You hold a role in these agencies. The console shows one agency at a time." }
            ul.usa-list.usa-list--unstyled {
                @for m in &list {
                    li.cx-agency-choice {
                        @if m.agency_id == staff.agency_id {
                            strong { (m.agency_name) } " (" (m.role.as_str()) ", current)"
                        } @else {
                            form method="post" action="/admin/agency" {
                                (ui::csrf(&staff))
                                input type="hidden" name="agency" value=(m.agency_slug);
                                button.usa-button.usa-button--outline type="submit" {
                                    "Work in " (m.agency_name)
                                }
                                " as " (m.role.as_str())
                            }
                        }
                    }
                }
            }
        },
    ))
}

/// `POST /admin/agency`: work in another agency (one the person holds a role in, else `404`).
pub async fn switch(
    state: web::Data<AppState>,
    change: Change,
) -> Result<HttpResponse, ConsoleError> {
    let slug = change.form.text("agency");
    let staff = change.staff;
    let moved = state
        .db(move |c| {
            let Some(a) = crate::registry::find_agency_by_slug(c, &slug)? else {
                return Ok(false);
            };
            Ok(session::switch_agency(
                c,
                &staff,
                &AgencyId::from_stored(a.id.to_string()),
            )?)
        })
        .await?;
    if moved {
        Ok(ui::see_other("/admin"))
    } else {
        Err(ConsoleError::NotFound)
    }
}
