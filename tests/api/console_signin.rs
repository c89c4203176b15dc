//! Single sign-on end to end, through the service's own `/admin/sign-in` and
//! `/admin/auth/callback` against the real test provider (oidc_support.rs): what a good sign-in
//! gives, and what a replayed code, a wrong or foreign `state`, an unverified email or a person
//! without a role get instead. (`oidc.rs` checks the relying party alone, nonce included.)

use cx_survey::configuration::OidcSettings;
use diesel::prelude::*;
use secrecy::SecretString;

use crate::helpers::{
    free_port, no_redirects, session_cookie, spawn_with, Backend, Options, TestApp,
};
use crate::oidc_support::{
    sign_in_at_provider, spawn_oidc, Callback, OidcServer, SECRET_CLIENT, SECRET_CLIENT_SECRET,
};
use crate::on_both;

on_both!(
    a_sign_in_at_the_provider_opens_a_session_in_the_agency,
    a_replayed_code_opens_nothing,
    a_wrong_state_opens_nothing,
    a_sign_in_begun_in_another_browser_opens_nothing,
    an_unverified_email_opens_nothing,
    a_person_without_a_role_is_told_how_to_get_one,
    later_sign_ins_match_the_subject_not_the_email,
);

/// The service, listening where the provider was told to send people back, and the provider.
async fn app_with_provider(b: Backend) -> (TestApp, OidcServer) {
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let provider = spawn_oidc(&format!("{public}/admin/auth/callback"));
    let issuer = provider.issuer.clone();
    let app = spawn_with(
        b,
        Options {
            configure: Some(Box::new(move |s| {
                s.bind = format!("127.0.0.1:{port}");
                s.public_url = public;
                s.oidc = Some(OidcSettings {
                    issuer,
                    client_id: SECRET_CLIENT.into(),
                    client_secret: Some(SecretString::from(SECRET_CLIENT_SECRET)),
                    private_key_pem: None,
                    scopes: vec!["openid".into(), "email".into()],
                    acr_values: None,
                });
            })),
            ..Options::default()
        },
    )
    .await;
    (app, provider)
}

/// A browser's sign-in under way: the `cx_auth` cookie tying it to this browser, and what the
/// provider sent it back with after `login` signed in there.
struct Begun {
    browser: String,
    back: Callback,
}

fn cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (n, rest) = v.split(';').next()?.split_once('=')?;
            (n == name && !rest.is_empty()).then(|| rest.to_string())
        })
}

async fn begin(app: &TestApp, login: &str) -> Begun {
    let r = no_redirects()
        .get(app.url("/admin/sign-in"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let browser = cookie(&r, "cx_auth").expect("a cx_auth cookie");
    let to = url::Url::parse(r.headers()["location"].to_str().unwrap()).unwrap();
    let back = sign_in_at_provider(&to, &app.url("/admin/auth/callback"), login).await;
    Begun { browser, back }
}

/// The browser comes back to the callback with `code` and `state`, holding `browser`'s cookie.
async fn come_back(app: &TestApp, code: &str, state: &str, browser: &str) -> reqwest::Response {
    let mut url = url::Url::parse(&app.url("/admin/auth/callback")).unwrap();
    url.query_pairs_mut()
        .append_pair("code", code)
        .append_pair("state", state);
    no_redirects()
        .get(url)
        .header("cookie", format!("cx_auth={browser}"))
        .send()
        .await
        .unwrap()
}

fn sessions(app: &TestApp) -> i64 {
    use cx_survey::db::schema::staff_sessions;
    let mut c = app.pool.get().unwrap();
    staff_sessions::table.count().get_result(&mut *c).unwrap()
}

async fn refused(r: reqwest::Response, why: &str) {
    assert_eq!(r.status(), 403);
    assert!(session_cookie(&r).is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("Sign-in failed"), "{page}");
    assert!(page.contains(why), "{why} not in:\n{page}");
}

async fn a_sign_in_at_the_provider_opens_a_session_in_the_agency(b: Backend) {
    let (app, _provider) = app_with_provider(b).await;
    // Addresses match whatever their case at the provider or in the grant.
    app.grant("agency-a", "Ana@Agency.gov", "manager");
    let s = begin(&app, "ANA@agency.GOV").await;
    let r = come_back(&app, &s.back.code, &s.back.state, &s.browser).await;
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/admin");
    let set: Vec<_> = r.headers().get_all("set-cookie").iter().collect();
    let session = session_cookie(&r).expect("a session cookie");
    assert!(
        set.iter()
            .any(|v| v.to_str().unwrap().starts_with("cx_auth=;")),
        "the sign-in cookie is removed: {set:?}"
    );
    let page = no_redirects()
        .get(app.url("/admin"))
        .header("cookie", format!("cx_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("ana@agency.gov"));
    assert_eq!(sessions(&app), 1);
}

async fn a_replayed_code_opens_nothing(b: Backend) {
    let (app, _provider) = app_with_provider(b).await;
    app.grant("agency-a", "ben@agency.gov", "viewer");
    let s = begin(&app, "ben@agency.gov").await;
    let first = come_back(&app, &s.back.code, &s.back.state, &s.browser).await;
    assert_eq!(first.status(), 303);
    // The same redirect again: its state was used up with the first.
    let again = come_back(&app, &s.back.code, &s.back.state, &s.browser).await;
    refused(again, "no longer valid").await;
    // The used code with a fresh, genuine state: the provider refuses the code itself.
    let fresh = begin(&app, "ben@agency.gov").await;
    let replay = come_back(&app, &s.back.code, &fresh.back.state, &fresh.browser).await;
    refused(replay, "invalid_grant").await;
    assert_eq!(sessions(&app), 1);
}

async fn a_wrong_state_opens_nothing(b: Backend) {
    let (app, _provider) = app_with_provider(b).await;
    app.grant("agency-a", "cy@agency.gov", "viewer");
    let s = begin(&app, "cy@agency.gov").await;
    let forged = "x".repeat(s.back.state.len());
    refused(
        come_back(&app, &s.back.code, &forged, &s.browser).await,
        "no longer valid",
    )
    .await;
    // No state at all, or the provider reporting an error, is a cancelled sign-in.
    let r = no_redirects()
        .get(app.url(&format!("/admin/auth/callback?code={}", s.back.code)))
        .header("cookie", format!("cx_auth={}", s.browser))
        .send()
        .await
        .unwrap();
    refused(r, "cancelled").await;
    let r = no_redirects()
        .get(app.url("/admin/auth/callback?error=access_denied&state=x"))
        .send()
        .await
        .unwrap();
    refused(r, "cancelled").await;
    assert_eq!(sessions(&app), 0);
}

async fn a_sign_in_begun_in_another_browser_opens_nothing(b: Backend) {
    let (app, _provider) = app_with_provider(b).await;
    app.grant("agency-a", "di@agency.gov", "admin");
    // An attacker begins a sign-in and gets a victim's browser to finish it (login CSRF), or a
    // redirect leaks to another browser: without the cookie of the browser that began it, or
    // with another browser's cookie, the state is refused — and used up.
    let s = begin(&app, "di@agency.gov").await;
    let other = begin(&app, "di@agency.gov").await;
    refused(
        come_back(&app, &s.back.code, &s.back.state, &other.browser).await,
        "another browser",
    )
    .await;
    refused(
        come_back(&app, &s.back.code, &s.back.state, &s.browser).await,
        "no longer valid",
    )
    .await;
    let r = no_redirects()
        .get(app.url(&format!(
            "/admin/auth/callback?code={}&state={}",
            other.back.code, other.back.state
        )))
        .send()
        .await
        .unwrap();
    refused(r, "cancelled").await;
    assert_eq!(sessions(&app), 0);
}

async fn an_unverified_email_opens_nothing(b: Backend) {
    let (app, _provider) = app_with_provider(b).await;
    // Holding a grant for the address does not help when the provider has not verified it.
    app.grant("agency-a", "unverified-eve@agency.gov", "admin");
    let s = begin(&app, "unverified-eve@agency.gov").await;
    refused(
        come_back(&app, &s.back.code, &s.back.state, &s.browser).await,
        "verified",
    )
    .await;
    assert_eq!(sessions(&app), 0);
}

async fn a_person_without_a_role_is_told_how_to_get_one(b: Backend) {
    let (app, _provider) = app_with_provider(b).await;
    app.grant("agency-a", "admin@agency.gov", "admin");
    let s = begin(&app, "fay@agency.gov").await;
    let r = come_back(&app, &s.back.code, &s.back.state, &s.browser).await;
    assert!(session_cookie(&r).is_none());
    let page = r.text().await.unwrap();
    assert!(page.contains("You do not have access yet"), "{page}");
    assert!(
        !page.contains("admin@agency.gov"),
        "admins are not disclosed"
    );
    assert_eq!(sessions(&app), 0);
}

async fn later_sign_ins_match_the_subject_not_the_email(b: Backend) {
    let (app, provider) = app_with_provider(b).await;
    app.grant("agency-a", "gus@agency.gov", "viewer");
    let s = begin(&app, "gus@agency.gov").await;
    assert_eq!(
        come_back(&app, &s.back.code, &s.back.state, &s.browser)
            .await
            .status(),
        303
    );
    // The first sign-in tied the person to the provider's subject.
    let (issuer, subject): (Option<String>, Option<String>) = {
        use cx_survey::db::schema::staff_users;
        let mut c = app.pool.get().unwrap();
        staff_users::table
            .filter(staff_users::email.eq("gus@agency.gov"))
            .select((staff_users::issuer, staff_users::subject))
            .first(&mut *c)
            .unwrap()
    };
    assert_eq!(issuer.as_deref(), Some(provider.issuer.as_str()));
    assert_eq!(subject.as_deref(), Some("gus@agency.gov"));
    // Their address here changes (a new name, a new domain): the provider's subject still
    // finds them, roles and all.
    {
        use cx_survey::db::schema::staff_users;
        let mut c = app.pool.get().unwrap();
        diesel::update(staff_users::table.filter(staff_users::email.eq("gus@agency.gov")))
            .set(staff_users::email.eq("gus.new@agency.gov"))
            .execute(&mut *c)
            .unwrap();
    }
    let again = begin(&app, "gus@agency.gov").await;
    let r = come_back(&app, &again.back.code, &again.back.state, &again.browser).await;
    assert_eq!(r.status(), 303);
    let session = session_cookie(&r).expect("signed in by subject");
    let page = no_redirects()
        .get(app.url("/admin"))
        .header("cookie", format!("cx_session={session}"))
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("gus.new@agency.gov"));
}
