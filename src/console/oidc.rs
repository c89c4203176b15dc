//! PLACEHOLDER until the oidc branch merges: the interface only.
use serde::{Deserialize, Serialize};

pub struct OidcConfig {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<secrecy::SecretString>,
    pub private_key_pem: Option<secrecy::SecretString>,
    pub scopes: Vec<String>,
    pub acr_values: Option<String>,
    pub redirect_url: String,
}

#[derive(Serialize, Deserialize, Clone)]
pub struct Pending {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

pub struct Identity {
    pub issuer: String,
    pub subject: String,
    pub email: String,
}

#[derive(thiserror::Error, Debug)]
pub enum SignInError {
    #[error("discovery failed: {0}")]
    Discovery(String),
    #[error("the email is not verified")]
    EmailUnverified,
}

#[derive(Clone)]
pub struct Provider;

impl Provider {
    pub async fn discover(_cfg: OidcConfig) -> Result<Provider, SignInError> {
        Err(SignInError::Discovery("not built".into()))
    }
    pub fn authorize(&self) -> (url::Url, Pending) {
        unimplemented!()
    }
    pub async fn finish(&self, _code: &str, _pending: &Pending) -> Result<Identity, SignInError> {
        Err(SignInError::EmailUnverified)
    }
}
