//! The staff console's OpenID Connect relying party: the authorization code flow with PKCE
//! (S256), `state` and `nonce`, against a provider found by discovery
//! (`{issuer}/.well-known/openid-configuration`).
//!
//! [`Provider::authorize`] gives the URL to send the browser to and the [`Pending`] values the
//! caller keeps server-side, keyed by `state`, until the browser comes back to the redirect URI.
//! [`Provider::finish`] exchanges the code, verifies the ID token with `openidconnect`'s verifier
//! (signature against the provider's JWKS, `iss`, `aud`, `exp`, `nonce`, `at_hash`), and returns
//! the person's [`Identity`] only with an email address the provider says is verified: from the
//! ID token, or from the userinfo response when the ID token does not carry it (Login.gov and
//! many providers put it only there).
//!
//! The client authenticates at the token endpoint with a client secret (`client_secret_basic`,
//! or `client_secret_post` when the provider offers only that) or with `private_key_jwt`: a
//! short-lived RS256 client assertion signed with the configured RSA key (PKCS#8 or PKCS#1 PEM,
//! 2048 bits or more), as Login.gov requires.
//!
//! The provider's signing keys are read once, by [`Provider::discover`]: after the provider
//! retires the key it signs with, sign-ins fail with [`SignInError::IdToken`] until the caller
//! discovers again.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{
    CoreAuthPrompt, CoreClient, CoreClientAuthMethod, CoreIdTokenClaims, CoreProviderMetadata,
    CoreResponseType, CoreTokenResponse, CoreUserInfoClaims,
};
use openidconnect::{
    AccessToken, AccessTokenHash, AuthType, AuthenticationContextClass, AuthenticationFlow,
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, SubjectIdentifier, TokenResponse,
};
use ring::rand::SystemRandom;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// How long a private_key_jwt client assertion is valid.
const ASSERTION_LIFETIME_SECONDS: i64 = 120;
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Every request to the provider (discovery, keys, token, userinfo) gives up after this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The identity provider and this service's registration with it.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// Discovery is at `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// Set exactly one of `client_secret` and `private_key_pem`.
    pub client_secret: Option<SecretString>,
    /// A PEM RSA private key (PKCS#8 or PKCS#1): `private_key_jwt` client authentication (RS256).
    pub private_key_pem: Option<SecretString>,
    /// `openid` is always requested; e.g. `["openid", "email"]`.
    pub scopes: Vec<String>,
    /// Space-separated, e.g. `urn:acr.login.gov:auth-only`.
    pub acr_values: Option<String>,
    /// `{CX_PUBLIC_URL}/admin/auth/callback`.
    pub redirect_url: String,
}

/// What the browser must bring back: stored server-side by the caller, keyed by `state`.
#[derive(Serialize, Deserialize, Clone)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// A signed-in person as the provider vouches for them. `email` is always one the provider
/// says is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: String,
}

#[derive(thiserror::Error, Debug)]
pub enum SignInError {
    /// The configuration cannot work with this provider (no client credential, a bad key or
    /// URL, an authentication method the provider does not offer).
    #[error("identity provider configuration: {0}")]
    Config(String),
    #[error("identity provider discovery failed: {0}")]
    Discovery(String),
    /// The token endpoint refused the code (invalid, expired or already used) or could not be
    /// reached.
    #[error("the identity provider did not exchange the authorization code: {0}")]
    CodeExchange(String),
    /// No ID token, or one that fails verification (signature, issuer, audience, nonce, expiry).
    #[error("the ID token is not valid: {0}")]
    IdToken(String),
    #[error("the userinfo request failed: {0}")]
    Userinfo(String),
    #[error("the identity provider gave no email address")]
    NoEmail,
    #[error("the identity provider has not verified the email address")]
    EmailUnverified,
}

/// The client as built from discovery: authorization and token endpoints set, userinfo if the
/// provider has one.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointMaybeSet,
>;

#[derive(Clone)]
enum ClientAuth {
    Secret,
    PrivateKeyJwt(Arc<RsaKeyPair>),
}

/// The discovered provider and this service's client registration with it.
#[derive(Clone)]
pub struct Provider {
    client: Client,
    http: reqwest::Client,
    auth: ClientAuth,
    scopes: Vec<Scope>,
    acr_values: Vec<AuthenticationContextClass>,
}

/// Names the client and its token endpoint; no secret, key or token.
impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let auth = match self.auth {
            ClientAuth::Secret => "client secret",
            ClientAuth::PrivateKeyJwt(_) => "private_key_jwt",
        };
        f.debug_struct("Provider")
            .field("client_id", &self.client.client_id().as_str())
            .field("token_url", &self.client.token_uri().as_str())
            .field("auth", &auth)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Reads the provider's metadata and signing keys, and checks that the configured client
    /// authentication is one the provider offers.
    pub async fn discover(cfg: OidcConfig) -> Result<Provider, SignInError> {
        let issuer = IssuerUrl::new(cfg.issuer.clone())
            .map_err(|e| SignInError::Config(format!("issuer {}: {e}", cfg.issuer)))?;
        let redirect = RedirectUrl::new(cfg.redirect_url.clone())
            .map_err(|e| SignInError::Config(format!("redirect URL {}: {e}", cfg.redirect_url)))?;
        let http = http_client(issuer.url().scheme() == "https")?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| SignInError::Discovery(error_chain(&e)))?;
        let token_url = metadata
            .token_endpoint()
            .cloned()
            .ok_or_else(|| SignInError::Discovery("no token_endpoint".into()))?;
        let methods = metadata.token_endpoint_auth_methods_supported().cloned();
        let secret = cfg
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_owned()));
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(cfg.client_id.clone()),
            secret,
        )
        .set_token_uri(token_url)
        .set_redirect_uri(redirect);
        let (auth, auth_type) = client_auth(&cfg, methods.as_deref())?;
        Ok(Provider {
            client: client.set_auth_type(auth_type),
            http,
            auth,
            scopes: scopes(&cfg.scopes),
            acr_values: cfg
                .acr_values
                .iter()
                .flat_map(|v| v.split_whitespace())
                .map(|v| AuthenticationContextClass::new(v.to_owned()))
                .collect(),
        })
    }

    /// Authorization URL with response_type=code, PKCE S256, state, nonce, scopes, acr_values
    /// (if set), prompt=select_account.
    pub fn authorize(&self) -> (url::Url, Pending) {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = self
            .client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .add_scopes(self.scopes.iter().cloned())
            .add_prompt(CoreAuthPrompt::SelectAccount);
        for acr in &self.acr_values {
            request = request.add_auth_context_value(acr.clone());
        }
        let (url, state, nonce) = request.url();
        let pending = Pending {
            state: state.into_secret(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.into_secret(),
        };
        (url, pending)
    }

    /// Exchanges the code (with the PKCE verifier and the client's authentication), verifies
    /// the ID token, then reads email/email_verified from the ID token or, when missing there,
    /// from the userinfo endpoint (whose subject must match). An email that is not verified →
    /// [`SignInError::EmailUnverified`].
    pub async fn finish(&self, code: &str, pending: &Pending) -> Result<Identity, SignInError> {
        let tokens = self.exchange(code, pending).await?;
        let claims = self.verified_claims(&tokens, pending)?;
        let subject = claims.subject().clone();
        let (email, verified) = match (claims.email(), claims.email_verified()) {
            (Some(email), Some(verified)) => (Some(email.to_string()), Some(verified)),
            _ => self.userinfo(tokens.access_token(), &subject).await?,
        };
        let email = email.ok_or(SignInError::NoEmail)?;
        if verified != Some(true) {
            return Err(SignInError::EmailUnverified);
        }
        Ok(Identity {
            issuer: claims.issuer().to_string(),
            subject: subject.to_string(),
            email,
        })
    }

    async fn exchange(
        &self,
        code: &str,
        pending: &Pending,
    ) -> Result<CoreTokenResponse, SignInError> {
        let mut request = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        if let ClientAuth::PrivateKeyJwt(key) = &self.auth {
            let assertion = client_assertion(
                key,
                self.client.client_id().as_str(),
                self.client.token_uri().as_str(),
            )?;
            request = request
                .add_extra_param("client_assertion_type", JWT_BEARER)
                .add_extra_param("client_assertion", assertion);
        }
        request.request_async(&self.http).await.map_err(|e| {
            SignInError::CodeExchange(match e {
                RequestTokenError::ServerResponse(r) => r.to_string(),
                other => error_chain(&other),
            })
        })
    }

    /// The ID token's claims, once `openidconnect` has verified its signature, issuer,
    /// audience, expiry and nonce, and the access token hash when the token carries one.
    fn verified_claims<'t>(
        &self,
        tokens: &'t CoreTokenResponse,
        pending: &Pending,
    ) -> Result<&'t CoreIdTokenClaims, SignInError> {
        let invalid = |e: &dyn std::error::Error| SignInError::IdToken(error_chain(e));
        let id_token = tokens
            .id_token()
            .ok_or_else(|| SignInError::IdToken("the token response has none".into()))?;
        let verifier = self.client.id_token_verifier();
        let claims = id_token
            .claims(&verifier, &Nonce::new(pending.nonce.clone()))
            .map_err(|e| invalid(&e))?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().map_err(|e| invalid(&e))?;
            let key = id_token.signing_key(&verifier).map_err(|e| invalid(&e))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
                .map_err(|e| invalid(&e))?;
            if actual != *expected {
                return Err(SignInError::IdToken("at_hash does not match".into()));
            }
        }
        Ok(claims)
    }

    /// `email` and `email_verified` from the userinfo endpoint, for `subject` only.
    async fn userinfo(
        &self,
        access_token: &AccessToken,
        subject: &SubjectIdentifier,
    ) -> Result<(Option<String>, Option<bool>), SignInError> {
        let failed = |e: &dyn std::error::Error| SignInError::Userinfo(error_chain(e));
        let claims: CoreUserInfoClaims = self
            .client
            .user_info(access_token.clone(), Some(subject.clone()))
            .map_err(|e| failed(&e))?
            .request_async(&self.http)
            .await
            .map_err(|e| failed(&e))?;
        Ok((
            claims.email().map(|e| e.to_string()),
            claims.email_verified(),
        ))
    }
}

/// The HTTP client for every request to the provider: rustls, the system's trust store, no
/// redirects followed (a redirect is an error, never a request to wherever it points), time
/// limits, and HTTPS only when the issuer is HTTPS.
fn http_client(https_only: bool) -> Result<reqwest::Client, SignInError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .https_only(https_only)
        .build()
        .map_err(|e| SignInError::Config(format!("HTTP client: {}", error_chain(&e))))
}

/// The requested scopes, `openid` (which the client always adds) left out.
fn scopes(configured: &[String]) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = Vec::new();
    for s in configured.iter().flat_map(|s| s.split_whitespace()) {
        if s != "openid" && !scopes.iter().any(|have| have.as_str() == s) {
            scopes.push(Scope::new(s.to_owned()));
        }
    }
    scopes
}

/// The configured client authentication, checked against the provider's
/// `token_endpoint_auth_methods_supported` (absent means `client_secret_basic`).
fn client_auth(
    cfg: &OidcConfig,
    offered: Option<&[CoreClientAuthMethod]>,
) -> Result<(ClientAuth, AuthType), SignInError> {
    let offers = |m: CoreClientAuthMethod| match offered {
        Some(list) => list.contains(&m),
        None => m == CoreClientAuthMethod::ClientSecretBasic,
    };
    match (&cfg.client_secret, &cfg.private_key_pem) {
        (Some(_), None) if offers(CoreClientAuthMethod::ClientSecretBasic) => {
            Ok((ClientAuth::Secret, AuthType::BasicAuth))
        }
        (Some(_), None) if offers(CoreClientAuthMethod::ClientSecretPost) => {
            Ok((ClientAuth::Secret, AuthType::RequestBody))
        }
        (None, Some(pem)) if offers(CoreClientAuthMethod::PrivateKeyJwt) => {
            let key = rsa_key(pem.expose_secret())?;
            Ok((
                ClientAuth::PrivateKeyJwt(Arc::new(key)),
                AuthType::RequestBody,
            ))
        }
        (Some(_), None) | (None, Some(_)) => Err(SignInError::Config(
            "the provider offers neither client_secret_basic nor client_secret_post, or not \
             private_key_jwt, whichever is configured"
                .into(),
        )),
        (None, None) | (Some(_), Some(_)) => Err(SignInError::Config(
            "set exactly one of a client secret and a private key".into(),
        )),
    }
}

/// An RSA private key from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
fn rsa_key(pem: &str) -> Result<RsaKeyPair, SignInError> {
    let bad = |why: String| SignInError::Config(format!("private key: {why}"));
    let der = PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    match der {
        PrivateKeyDer::Pkcs8(d) => RsaKeyPair::from_pkcs8(d.secret_pkcs8_der()),
        PrivateKeyDer::Pkcs1(d) => RsaKeyPair::from_der(d.secret_pkcs1_der()),
        _ => return Err(bad("not an RSA key".into())),
    }
    .map_err(|e| bad(format!("{e} (an RSA key of 2048 bits or more is needed)")))
}

/// The private_key_jwt client assertion (RFC 7523): `iss` = `sub` = client id, `aud` = the
/// token endpoint, a unique `jti`, a short `exp`, signed RS256.
fn client_assertion(
    key: &RsaKeyPair,
    client_id: &str,
    token_url: &str,
) -> Result<String, SignInError> {
    let now = chrono::Utc::now().timestamp();
    let header = serde_json::json!({ "alg": "RS256", "typ": "JWT" });
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "jti": uuid::Uuid::new_v4().to_string(),
        "iat": now,
        "exp": now + ASSERTION_LIFETIME_SECONDS,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signing_input.as_bytes(),
        &mut signature,
    )
    .map_err(|_| SignInError::Config("the private key could not sign".into()))?;
    Ok(format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature)
    ))
}

/// An error and its sources, `: `-separated (the libraries' top-level messages alone often
/// say only "request failed").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The caller keeps one Provider in its state and may finish sign-ins on any thread.
    #[allow(dead_code)]
    fn provider_is_clone_send_sync_and_finish_is_send(p: &Provider, pending: &Pending) {
        fn clone_send_sync<T: Clone + Send + Sync>(_: &T) {}
        fn send<T: Send>(_: T) {}
        clone_send_sync(p);
        send(p.finish("code", pending));
    }

    #[test]
    fn scopes_leave_out_openid_and_repeats() {
        let got = scopes(&["openid".into(), "email email".into(), "profile".into()]);
        let got: Vec<&str> = got.iter().map(|s| s.as_str()).collect();
        assert_eq!(got, ["email", "profile"]);
    }

    fn cfg(secret: bool, key: bool) -> OidcConfig {
        let pem = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        OidcConfig {
            issuer: "https://idp.example".into(),
            client_id: "c".into(),
            client_secret: secret.then(|| SecretString::from("s")),
            private_key_pem: key.then(|| SecretString::from(pem)),
            scopes: vec![],
            acr_values: None,
            redirect_url: "https://app.example/admin/auth/callback".into(),
        }
    }

    #[test]
    fn a_secret_goes_by_basic_auth_unless_the_provider_takes_only_post() {
        use CoreClientAuthMethod::{ClientSecretBasic, ClientSecretPost, PrivateKeyJwt};
        let auth = |offered: Option<&[CoreClientAuthMethod]>| {
            client_auth(&cfg(true, false), offered).map(|(_, t)| format!("{t:?}"))
        };
        assert_eq!(auth(None).unwrap(), "BasicAuth");
        assert_eq!(
            auth(Some(&[ClientSecretPost, ClientSecretBasic])).unwrap(),
            "BasicAuth"
        );
        assert_eq!(
            auth(Some(&[PrivateKeyJwt, ClientSecretPost])).unwrap(),
            "RequestBody"
        );
        assert!(matches!(
            auth(Some(&[PrivateKeyJwt])),
            Err(SignInError::Config(_))
        ));
    }

    #[test]
    fn exactly_one_credential_and_a_usable_key() {
        let offered = [CoreClientAuthMethod::PrivateKeyJwt];
        for (secret, key) in [(false, false), (true, true), (false, true)] {
            let got = client_auth(&cfg(secret, key), Some(&offered));
            assert!(matches!(got, Err(SignInError::Config(_))), "{secret} {key}");
        }
    }

    #[test]
    fn a_pem_that_is_not_a_key_is_a_config_error() {
        let err = rsa_key("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
        assert!(matches!(err, Err(SignInError::Config(_))));
    }
}
