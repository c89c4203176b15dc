//! Settings come from the environment (the contract's `CX_*` variables and `DATABASE_URL`);
//! command-line flags override them in `cli`, whose `--help` shows the defaults below.

use std::path::PathBuf;

use chrono_tz::Tz;
use secrecy::SecretString;

/// `Debug` prints the secrets as `[REDACTED]` (`SecretString`, which has no `Display`): a
/// `?settings` in a log line must not hand out the keys. Read them with `expose_secret()`
/// where they are used.
#[derive(Clone, Debug)]
pub struct Settings {
    /// May carry the database password.
    pub database_url: SecretString,
    pub bind: String,
    pub survey_defs: PathBuf,
    /// The service's own public origin; its pages may always post to it.
    pub public_url: String,
    pub report_tz: Tz,
    pub secret: Option<SecretString>,
    /// Public submissions (responses + impressions) per client address per minute; 0 = off.
    pub rate_limit_per_minute: u32,
    /// Proxies (addresses or CIDR blocks) whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Database connections for reads and admin writes.
    pub pool_size: u32,
    /// Connections the pool keeps open in reserve (1 for `serve`; 0 for one-shot commands, so
    /// no background connect is under way when the process exits: a report that exited while
    /// libpq was mid-TLS-handshake once ended with a failure status in CI after its output was
    /// complete; the TLS teardown is the suspect, not proven).
    pub pool_min_idle: u32,
    /// Largest number of intake items committed in one transaction.
    pub max_batch: usize,
    /// Intake items waiting for the writer before new ones get 503.
    pub queue_capacity: usize,
    /// Writer threads committing intake batches (default: 1 on SQLite, 2 on PostgreSQL).
    pub intake_writers: Option<usize>,
    /// `smtp://`, `smtps://` or `smtp://…?tls=required` (STARTTLS), with `user:pass@` for auth;
    /// without it invitations are queued but not sent.
    pub smtp_url: Option<SecretString>,
    /// `CX_SMTP_CA_FILE`: an extra root (PEM) trusted for the SMTP server's certificate, besides
    /// the system's trust store (an agency relay under the Federal PKI or an internal CA).
    pub smtp_ca: Option<lettre::transport::smtp::client::Certificate>,
    /// The `From` of invitation emails.
    pub mail_from: String,
    /// A recipient invited in the last this many days is skipped.
    pub invite_cap_days: i64,
    /// How long an invitation link works after delivery.
    pub invite_ttl_days: i64,
    /// First retry delay after a temporary SMTP failure; doubles per attempt, at most an hour.
    pub smtp_retry_base: std::time::Duration,
    /// Serves `/demo`: host pages showing the widget's three modes (development only).
    pub demo: bool,
    /// The staff console's identity provider; without one, only break-glass links sign in.
    pub oidc: Option<OidcSettings>,
    /// A console session ends after this long without a request.
    pub session_idle: chrono::Duration,
    /// A console session ends this long after sign-in, however active.
    pub session_max: chrono::Duration,
}

/// The OpenID Connect client the console signs staff in with.
#[derive(Clone, Debug)]
pub struct OidcSettings {
    pub issuer: String,
    pub client_id: String,
    /// `client_secret_basic`/`_post` authentication, or …
    pub client_secret: Option<SecretString>,
    /// … `private_key_jwt` with this PEM RSA key (Login.gov).
    pub private_key_pem: Option<SecretString>,
    pub scopes: Vec<String>,
    pub acr_values: Option<String>,
}

/// The defaults of the settings that have a fixed one, shared by `Settings::from_lookup` and
/// the command line's `--help`, so the two cannot differ.
pub mod defaults {
    pub const DATABASE_URL: &str = "sqlite://cx-survey.db";
    pub const BIND: &str = "127.0.0.1:8080";
    pub const SURVEY_DEFS: &str = "survey-defs";
    pub const REPORT_TZ: &str = "America/New_York";
    pub const RATE_LIMIT_PER_MINUTE: &str = "120";
    pub const DB_POOL_SIZE: &str = "8";
    pub const INTAKE_MAX_BATCH: &str = "256";
    pub const INTAKE_QUEUE: &str = "20000";
    pub const MAIL_FROM: &str = "cx-survey@localhost";
    pub const INVITE_CAP_DAYS: &str = "30";
    pub const INVITE_TTL_DAYS: &str = "30";
    pub const SMTP_RETRY_BASE_MS: &str = "30000";
    pub const DEMO: &str = "off";
    pub const OIDC_SCOPES: &str = "openid email";
    pub const SESSION_IDLE_MINUTES: &str = "30";
    pub const SESSION_MAX_HOURS: &str = "12";
}

#[derive(Debug, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct SettingsError {
    pub name: &'static str,
    pub problem: String,
}

impl Settings {
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        use defaults as d;
        let get_or = |name: &str, default: &str| get(name).unwrap_or_else(|| default.into());
        let parse_num = |name: &'static str, default: &str| -> Result<u64, SettingsError> {
            let v = get_or(name, default);
            v.trim().parse().map_err(|_| SettingsError {
                name,
                problem: format!("expected a whole number, got {v:?}"),
            })
        };
        let tz_name = get_or("CX_REPORT_TZ", d::REPORT_TZ);
        let report_tz: Tz = tz_name.parse().map_err(|_| SettingsError {
            name: "CX_REPORT_TZ",
            problem: format!("unknown IANA time zone {tz_name:?}"),
        })?;
        let bind = get_or("CX_BIND", d::BIND);
        let public_url = get("CX_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        Ok(Settings {
            database_url: get_or("DATABASE_URL", d::DATABASE_URL).into(),
            public_url: public_url.trim_end_matches('/').to_string(),
            bind,
            survey_defs: get_or("CX_SURVEY_DEFS", d::SURVEY_DEFS).into(),
            report_tz,
            secret: get("CX_SECRET").map(SecretString::from),
            rate_limit_per_minute: parse_num("CX_RATE_LIMIT_PER_MINUTE", d::RATE_LIMIT_PER_MINUTE)?
                as u32,
            trusted_proxies: crate::intake::limit::parse_trusted(
                &get("CX_TRUSTED_PROXIES").unwrap_or_default(),
            )
            .map_err(|problem| SettingsError {
                name: "CX_TRUSTED_PROXIES",
                problem,
            })?,
            pool_size: parse_num("CX_DB_POOL_SIZE", d::DB_POOL_SIZE)? as u32,
            pool_min_idle: 1,
            max_batch: parse_num("CX_INTAKE_MAX_BATCH", d::INTAKE_MAX_BATCH)?.max(1) as usize,
            queue_capacity: parse_num("CX_INTAKE_QUEUE", d::INTAKE_QUEUE)?.max(1) as usize,
            intake_writers: get("CX_INTAKE_WRITERS")
                .map(|_| parse_num("CX_INTAKE_WRITERS", "1"))
                .transpose()?
                .map(|n| n.clamp(1, 16) as usize),
            smtp_url: get("CX_SMTP_URL")
                .filter(|s| !s.trim().is_empty())
                .map(SecretString::from),
            smtp_ca: get("CX_SMTP_CA_FILE")
                .filter(|s| !s.trim().is_empty())
                .map(|path| load_ca_file(&path))
                .transpose()
                .map_err(|problem| SettingsError {
                    name: "CX_SMTP_CA_FILE",
                    problem,
                })?,
            mail_from: get_or("CX_MAIL_FROM", d::MAIL_FROM),
            invite_cap_days: parse_num("CX_INVITE_CAP_DAYS", d::INVITE_CAP_DAYS)? as i64,
            invite_ttl_days: parse_num("CX_INVITE_TTL_DAYS", d::INVITE_TTL_DAYS)?.max(1) as i64,
            smtp_retry_base: std::time::Duration::from_millis(parse_num(
                "CX_SMTP_RETRY_BASE_MS",
                d::SMTP_RETRY_BASE_MS,
            )?),
            demo: matches!(get("CX_DEMO").as_deref(), Some("1" | "true" | "yes")),
            oidc: oidc_settings(&get)?,
            session_idle: chrono::Duration::minutes(
                parse_num("CX_SESSION_IDLE_MINUTES", d::SESSION_IDLE_MINUTES)?.clamp(1, 24 * 60)
                    as i64,
            ),
            session_max: chrono::Duration::hours(
                parse_num("CX_SESSION_MAX_HOURS", d::SESSION_MAX_HOURS)?.clamp(1, 24 * 7) as i64,
            ),
        })
    }
}

/// The identity provider, if `CX_OIDC_ISSUER` names one: then a client id and exactly one way
/// to authenticate the client are required, and a key file must be readable PEM.
fn oidc_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<Option<OidcSettings>, SettingsError> {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let Some(issuer) = set("CX_OIDC_ISSUER") else {
        return Ok(None);
    };
    let err = |name: &'static str, problem: &str| SettingsError {
        name,
        problem: problem.to_string(),
    };
    let client_id = set("CX_OIDC_CLIENT_ID")
        .ok_or_else(|| err("CX_OIDC_CLIENT_ID", "is required with CX_OIDC_ISSUER"))?;
    let client_secret = set("CX_OIDC_CLIENT_SECRET").map(SecretString::from);
    let private_key_pem = set("CX_OIDC_PRIVATE_KEY_FILE")
        .map(|path| {
            let pem = std::fs::read_to_string(&path).map_err(|e| SettingsError {
                name: "CX_OIDC_PRIVATE_KEY_FILE",
                problem: format!("cannot read {path}: {e}"),
            })?;
            if !pem.contains("PRIVATE KEY-----") {
                return Err(SettingsError {
                    name: "CX_OIDC_PRIVATE_KEY_FILE",
                    problem: format!("{path} holds no PEM private key"),
                });
            }
            Ok(SecretString::from(pem))
        })
        .transpose()?;
    if client_secret.is_some() == private_key_pem.is_some() {
        return Err(err(
            "CX_OIDC_CLIENT_SECRET",
            "set exactly one of CX_OIDC_CLIENT_SECRET and CX_OIDC_PRIVATE_KEY_FILE",
        ));
    }
    let scopes = set("CX_OIDC_SCOPES").unwrap_or_else(|| defaults::OIDC_SCOPES.into());
    Ok(Some(OidcSettings {
        issuer: issuer.trim().trim_end_matches('/').to_string(),
        client_id,
        client_secret,
        private_key_pem,
        scopes: scopes.split_whitespace().map(str::to_string).collect(),
        acr_values: set("CX_OIDC_ACR_VALUES"),
    }))
}

/// Reads and checks a PEM root certificate file: a file that cannot be read, holds no
/// certificate or one that TLS would refuse stops start-up instead of failing at the first send.
fn load_ca_file(path: &str) -> Result<lettre::transport::smtp::client::Certificate, String> {
    use lettre::transport::smtp::client::{Certificate, TlsParameters};
    let pem = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
        return Err(format!(
            "{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        ));
    }
    let cert =
        Certificate::from_pem(&pem).map_err(|e| format!("{path}: not a PEM certificate: {e}"))?;
    TlsParameters::builder("localhost".into())
        .add_root_certificate(cert.clone())
        .build()
        .map_err(|e| format!("{path}: not usable as a root certificate: {e}"))?;
    Ok(cert)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One `?settings` in a log line must not print the keys: what CX_SECRET, the SMTP
    /// password and the database password protect is worth more than a debugging aid.
    #[test]
    fn debug_output_redacts_secrets() {
        let settings = Settings::from_lookup(|k| {
            match k {
                "CX_SECRET" => Some("hmac-key-5b1e07d2"),
                "CX_SMTP_URL" => Some("smtps://mailer:smtp-pass-93ac41@mail.example.gov:465"),
                "DATABASE_URL" => Some("postgres://cx:db-pass-0f7e2a@db.internal/cx"),
                _ => None,
            }
            .map(str::to_string)
        })
        .unwrap();
        let url = crate::db::DatabaseUrl::parse("postgres://cx:db-pass-0f7e2a@db.internal/cx");
        for text in [
            format!("{settings:?}"),
            format!("{settings:#?}"),
            format!("{url:?}"),
        ] {
            for secret in ["hmac-key-5b1e07d2", "smtp-pass-93ac41", "db-pass-0f7e2a"] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }
        // Still useful for debugging: the rest is there.
        assert!(format!("{settings:?}").contains("America/New_York"));
    }

    #[test]
    fn smtp_ca_file_must_hold_a_usable_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let broken = dir.path().join("broken.pem");
        std::fs::write(
            &broken,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let missing = dir.path().join("missing.pem");
        for path in [&garbage, &broken, &missing] {
            let path = path.display().to_string();
            let err = Settings::from_lookup(|k| (k == "CX_SMTP_CA_FILE").then(|| path.clone()))
                .unwrap_err();
            assert_eq!(err.name, "CX_SMTP_CA_FILE");
            assert!(err.problem.contains(&path), "{err}");
        }
        let good = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls/ca.pem");
        let s = Settings::from_lookup(|k| (k == "CX_SMTP_CA_FILE").then(|| good.into())).unwrap();
        assert!(s.smtp_ca.is_some());
    }
}
