//! The staff console's OpenID Connect relying party (`console::oidc`) against a real provider
//! (npm `oidc-provider`, see oidc_support.rs): code flow with PKCE, client secret and
//! private_key_jwt, ID token checks, verified email. No database involved.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use cx_survey::console::oidc::{Identity, OidcConfig, Pending, Provider, SignInError};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::helpers::free_port;
use crate::oidc_support::{
    client_key_pem, sign_in_at_provider, spawn_oidc, spawn_oidc_with, OidcServer, JWT_CLIENT,
    SECRET_CLIENT, SECRET_CLIENT_SECRET,
};

/// A provider with this service's callback registered (nothing listens there: the browser
/// played by the tests stops at the redirect to it).
fn provider_and_callback() -> (OidcServer, String) {
    let callback = format!("http://127.0.0.1:{}/admin/auth/callback", free_port());
    (spawn_oidc(&callback), callback)
}

fn config(server: &OidcServer, callback: &str) -> OidcConfig {
    OidcConfig {
        issuer: server.issuer.clone(),
        client_id: SECRET_CLIENT.into(),
        client_secret: Some(SecretString::from(SECRET_CLIENT_SECRET)),
        private_key_pem: None,
        scopes: vec!["openid".into(), "email".into()],
        acr_values: None,
        redirect_url: callback.into(),
    }
}

fn jwt_config(server: &OidcServer, callback: &str) -> OidcConfig {
    OidcConfig {
        client_id: JWT_CLIENT.into(),
        client_secret: None,
        private_key_pem: Some(SecretString::from(client_key_pem())),
        ..config(server, callback)
    }
}

/// Starts a sign-in and plays the person through the provider as `login`: the pending values
/// and the code the browser brings back.
async fn sign_in(provider: &Provider, callback: &str, login: &str) -> (Pending, String) {
    let (url, pending) = provider.authorize();
    let back = sign_in_at_provider(&url, callback, login).await;
    assert_eq!(back.state, pending.state);
    (pending, back.code)
}

#[actix_web::test]
async fn client_secret_sign_in_gives_the_verified_email() {
    let (server, callback) = provider_and_callback();
    assert_eq!(server.issuer, format!("http://localhost:{}", server.port));
    let provider = Provider::discover(config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "ana@agency.gov").await;
    let identity = provider.finish(&code, &pending).await.unwrap();
    assert_eq!(
        identity,
        Identity {
            issuer: server.issuer.clone(),
            subject: "ana@agency.gov".into(),
            email: "ana@agency.gov".into(),
        }
    );
}

#[actix_web::test]
async fn private_key_jwt_sign_in_gives_the_verified_email() {
    let (server, callback) = provider_and_callback();
    let provider = Provider::discover(jwt_config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "ben@agency.gov").await;
    let identity = provider.finish(&code, &pending).await.unwrap();
    assert_eq!(identity.email, "ben@agency.gov");
    assert_eq!(identity.subject, "ben@agency.gov");
    assert_eq!(identity.issuer, server.issuer);
}

#[actix_web::test]
async fn a_replayed_code_is_refused() {
    let (server, callback) = provider_and_callback();
    let provider = Provider::discover(config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "cy@agency.gov").await;
    provider.finish(&code, &pending).await.unwrap();
    let again = provider.finish(&code, &pending).await;
    assert!(
        matches!(again, Err(SignInError::CodeExchange(ref why)) if why.contains("invalid_grant")),
        "{again:?}"
    );
}

#[actix_web::test]
async fn another_nonce_fails_the_id_token_check() {
    let (server, callback) = provider_and_callback();
    let provider = Provider::discover(jwt_config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "di@agency.gov").await;
    let (_, other) = provider.authorize();
    let wrong = Pending {
        nonce: other.nonce,
        ..pending
    };
    let result = provider.finish(&code, &wrong).await;
    assert!(
        matches!(result, Err(SignInError::IdToken(ref why)) if why.contains("nonce")),
        "{result:?}"
    );
}

#[actix_web::test]
async fn an_unverified_email_is_refused() {
    let (server, callback) = provider_and_callback();
    let provider = Provider::discover(config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "unverified-eve@agency.gov").await;
    let result = provider.finish(&code, &pending).await;
    assert!(
        matches!(result, Err(SignInError::EmailUnverified)),
        "{result:?}"
    );
}

#[actix_web::test]
async fn the_authorize_url_asks_for_code_pkce_state_nonce_and_acr() {
    let (server, callback) = provider_and_callback();
    let acr = "urn:acr.login.gov:auth-only http://idmanagement.gov/ns/assurance/aal/2?phishing_resistant=true";
    let provider = Provider::discover(OidcConfig {
        acr_values: Some(acr.into()),
        ..jwt_config(&server, &callback)
    })
    .await
    .unwrap();
    let (url, pending) = provider.authorize();
    assert!(
        url.as_str()
            .starts_with(&format!("{}/auth?", server.issuer)),
        "{url}"
    );
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {url}"))
    };
    assert_eq!(param("response_type"), "code");
    assert_eq!(param("client_id"), JWT_CLIENT);
    assert_eq!(param("redirect_uri"), callback);
    assert_eq!(param("scope"), "openid email");
    assert_eq!(param("code_challenge_method"), "S256");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.pkce_verifier.as_bytes()));
    assert_eq!(param("code_challenge"), challenge);
    assert_eq!(param("state"), pending.state);
    assert_eq!(param("nonce"), pending.nonce);
    assert_eq!(param("acr_values"), acr);
    assert_eq!(param("prompt"), "select_account");
    // Each sign-in has its own state, nonce and verifier.
    let (_, next) = provider.authorize();
    assert_ne!(next.state, pending.state);
    assert_ne!(next.nonce, pending.nonce);
    assert_ne!(next.pkce_verifier, pending.pkce_verifier);
    // No acr_values configured, none sent.
    let plain = Provider::discover(jwt_config(&server, &callback))
        .await
        .unwrap();
    let (url, _) = plain.authorize();
    assert!(!url.query_pairs().any(|(k, _)| k == "acr_values"), "{url}");
}

#[actix_web::test]
async fn another_pkce_verifier_is_refused() {
    let (server, callback) = provider_and_callback();
    let provider = Provider::discover(config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "flo@agency.gov").await;
    let (_, other) = provider.authorize();
    let wrong = Pending {
        pkce_verifier: other.pkce_verifier,
        ..pending
    };
    let result = provider.finish(&code, &wrong).await;
    assert!(
        matches!(result, Err(SignInError::CodeExchange(ref why)) if why.contains("invalid_grant")),
        "{result:?}"
    );
}

/// A provider that puts the email claims in the ID token, and has no userinfo endpoint: the
/// ID token's claims are enough, verified or not.
#[actix_web::test]
async fn email_claims_in_the_id_token_need_no_userinfo() {
    let callback = format!("http://127.0.0.1:{}/admin/auth/callback", free_port());
    let server = spawn_oidc_with(&callback, &[("OIDC_EMAIL_IN_ID_TOKEN", "1")]);
    let metadata: serde_json::Value = reqwest::get(format!(
        "{}/.well-known/openid-configuration",
        server.issuer
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(metadata.get("userinfo_endpoint").is_none(), "{metadata}");
    let provider = Provider::discover(config(&server, &callback))
        .await
        .unwrap();
    let (pending, code) = sign_in(&provider, &callback, "gil@agency.gov").await;
    let identity = provider.finish(&code, &pending).await.unwrap();
    assert_eq!(identity.email, "gil@agency.gov");
    let (pending, code) = sign_in(&provider, &callback, "unverified-hal@agency.gov").await;
    let result = provider.finish(&code, &pending).await;
    assert!(
        matches!(result, Err(SignInError::EmailUnverified)),
        "{result:?}"
    );
}
