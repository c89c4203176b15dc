//! Every setting as a flag with its environment variable and default, so `--help` lists them
//! all. The values stay text here: `Settings::from_lookup` checks them, and a bad one is a
//! `configuration error: CX_…: …` (exit 2) naming the variable, whether it came from a flag or
//! from the environment.

use clap::Args;
use secrecy::{ExposeSecret, SecretString};

use crate::configuration::{defaults, Settings, SettingsError};

/// `Debug` shows the secrets as `[REDACTED]`; `--help` never prints their values from the
/// environment (`hide_env_values`).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Settings (flags win over the environment)")]
pub struct SettingsArgs {
    /// Database: sqlite://path, a bare path, or postgres://user@host/db; migrations run at start
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true,
          default_value = defaults::DATABASE_URL, value_name = "URL")]
    pub database_url: Option<SecretString>,
    /// Listen address
    #[arg(long, global = true, env = "CX_BIND", default_value = defaults::BIND,
          value_name = "ADDR")]
    pub bind: Option<String>,
    /// Instrument and registry files
    #[arg(long, global = true, env = "CX_SURVEY_DEFS", default_value = defaults::SURVEY_DEFS,
          value_name = "DIR")]
    pub defs: Option<String>,
    /// The service's public origin (its own pages may always post) [default: http://<bind>]
    #[arg(long, global = true, env = "CX_PUBLIC_URL", value_name = "URL")]
    pub public_url: Option<String>,
    /// Fiscal quarters and PRA expiry are cut at midnight in this IANA time zone
    #[arg(long, global = true, env = "CX_REPORT_TZ", default_value = defaults::REPORT_TZ,
          value_name = "TZ")]
    pub report_tz: Option<String>,
    /// Public submissions (responses + impressions) per client address per minute, one budget
    /// across all instances on the database; 0 = off
    #[arg(long, global = true, env = "CX_RATE_LIMIT_PER_MINUTE",
          default_value = defaults::RATE_LIMIT_PER_MINUTE, value_name = "N")]
    pub rate_limit_per_minute: Option<String>,
    /// Proxies / load balancers (IPs or CIDR blocks, commas or spaces between) whose
    /// X-Forwarded-For names the client
    #[arg(long, global = true, env = "CX_TRUSTED_PROXIES", value_name = "LIST")]
    pub trusted_proxies: Option<String>,
    /// Key of the address hashes and link tokens of email invitations (required for them)
    #[arg(
        long,
        global = true,
        env = "CX_SECRET",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub secret: Option<SecretString>,
    /// smtp://host:25, smtps://host:465, smtp://user:pass@host:587?tls=required (STARTTLS);
    /// without it invitations wait in the queue
    #[arg(
        long,
        global = true,
        env = "CX_SMTP_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub smtp_url: Option<SecretString>,
    /// A PEM root certificate trusted for the SMTP relay besides the system's trust store
    #[arg(long, global = true, env = "CX_SMTP_CA_FILE", value_name = "FILE")]
    pub smtp_ca_file: Option<String>,
    /// From of invitation emails
    #[arg(long, global = true, env = "CX_MAIL_FROM", default_value = defaults::MAIL_FROM,
          value_name = "ADDRESS")]
    pub mail_from: Option<String>,
    /// Skip a recipient invited this many days ago or more recently
    #[arg(long, global = true, env = "CX_INVITE_CAP_DAYS",
          default_value = defaults::INVITE_CAP_DAYS, value_name = "DAYS")]
    pub invite_cap_days: Option<String>,
    /// How long an invitation link works after delivery
    #[arg(long, global = true, env = "CX_INVITE_TTL_DAYS",
          default_value = defaults::INVITE_TTL_DAYS, value_name = "DAYS")]
    pub invite_ttl_days: Option<String>,
    /// First retry after a temporary SMTP failure (doubles, at most an hour)
    #[arg(long, global = true, env = "CX_SMTP_RETRY_BASE_MS",
          default_value = defaults::SMTP_RETRY_BASE_MS, value_name = "MS")]
    pub smtp_retry_base_ms: Option<String>,
    /// Database connections for reads and admin writes
    #[arg(long, global = true, env = "CX_DB_POOL_SIZE", default_value = defaults::DB_POOL_SIZE,
          value_name = "N")]
    pub db_pool_size: Option<String>,
    /// Threads committing intake batches [default: 1 (SQLite), 2 (PostgreSQL)]
    #[arg(long, global = true, env = "CX_INTAKE_WRITERS", value_name = "N")]
    pub intake_writers: Option<String>,
    /// Largest intake batch per commit
    #[arg(long, global = true, env = "CX_INTAKE_MAX_BATCH",
          default_value = defaults::INTAKE_MAX_BATCH, value_name = "N")]
    pub intake_max_batch: Option<String>,
    /// Intake items queued before new ones get 503
    #[arg(long, global = true, env = "CX_INTAKE_QUEUE", default_value = defaults::INTAKE_QUEUE,
          value_name = "N")]
    pub intake_queue: Option<String>,
    /// 1 serves /demo: host pages showing the widget's three modes on this server's open
    /// deployments (`--demo` alone is 1)
    #[arg(long, global = true, env = "CX_DEMO", default_value = defaults::DEMO,
          num_args = 0..=1, default_missing_value = "1", value_name = "1|off")]
    pub demo: Option<String>,
    /// Staff console: the OpenID Connect issuer (discovery at ISSUER/.well-known/openid-configuration)
    #[arg(long, global = true, env = "CX_OIDC_ISSUER", value_name = "URL")]
    pub oidc_issuer: Option<String>,
    /// Staff console: the client id registered with the issuer
    #[arg(long, global = true, env = "CX_OIDC_CLIENT_ID", value_name = "ID")]
    pub oidc_client_id: Option<String>,
    /// Staff console: the client secret (or use --oidc-private-key-file)
    #[arg(
        long,
        global = true,
        env = "CX_OIDC_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub oidc_client_secret: Option<SecretString>,
    /// Staff console: PEM RSA key for private_key_jwt client authentication (Login.gov)
    #[arg(
        long,
        global = true,
        env = "CX_OIDC_PRIVATE_KEY_FILE",
        value_name = "FILE"
    )]
    pub oidc_private_key_file: Option<String>,
    /// Staff console: scopes asked for
    #[arg(long, global = true, env = "CX_OIDC_SCOPES", default_value = defaults::OIDC_SCOPES,
          value_name = "LIST")]
    pub oidc_scopes: Option<String>,
    /// Staff console: acr_values asked for (e.g. urn:acr.login.gov:auth-only)
    #[arg(long, global = true, env = "CX_OIDC_ACR_VALUES", value_name = "LIST")]
    pub oidc_acr_values: Option<String>,
    /// Staff console: minutes without a request that end a session
    #[arg(long, global = true, env = "CX_SESSION_IDLE_MINUTES",
          default_value = defaults::SESSION_IDLE_MINUTES, value_name = "MINUTES")]
    pub session_idle_minutes: Option<String>,
    /// Staff console: hours after sign-in that end a session
    #[arg(long, global = true, env = "CX_SESSION_MAX_HOURS",
          default_value = defaults::SESSION_MAX_HOURS, value_name = "HOURS")]
    pub session_max_hours: Option<String>,
}

impl SettingsArgs {
    /// The value of one variable as the flags and the environment give it.
    fn lookup(&self, name: &str) -> Option<String> {
        let secret = |s: &Option<SecretString>| s.as_ref().map(|s| s.expose_secret().to_string());
        match name {
            "DATABASE_URL" => secret(&self.database_url),
            "CX_BIND" => self.bind.clone(),
            "CX_SURVEY_DEFS" => self.defs.clone(),
            "CX_PUBLIC_URL" => self.public_url.clone(),
            "CX_REPORT_TZ" => self.report_tz.clone(),
            "CX_RATE_LIMIT_PER_MINUTE" => self.rate_limit_per_minute.clone(),
            "CX_TRUSTED_PROXIES" => self.trusted_proxies.clone(),
            "CX_SECRET" => secret(&self.secret),
            "CX_SMTP_URL" => secret(&self.smtp_url),
            "CX_SMTP_CA_FILE" => self.smtp_ca_file.clone(),
            "CX_MAIL_FROM" => self.mail_from.clone(),
            "CX_INVITE_CAP_DAYS" => self.invite_cap_days.clone(),
            "CX_INVITE_TTL_DAYS" => self.invite_ttl_days.clone(),
            "CX_SMTP_RETRY_BASE_MS" => self.smtp_retry_base_ms.clone(),
            "CX_DB_POOL_SIZE" => self.db_pool_size.clone(),
            "CX_INTAKE_WRITERS" => self.intake_writers.clone(),
            "CX_INTAKE_MAX_BATCH" => self.intake_max_batch.clone(),
            "CX_INTAKE_QUEUE" => self.intake_queue.clone(),
            "CX_DEMO" => self.demo.clone(),
            "CX_OIDC_ISSUER" => self.oidc_issuer.clone(),
            "CX_OIDC_CLIENT_ID" => self.oidc_client_id.clone(),
            "CX_OIDC_CLIENT_SECRET" => secret(&self.oidc_client_secret),
            "CX_OIDC_PRIVATE_KEY_FILE" => self.oidc_private_key_file.clone(),
            "CX_OIDC_SCOPES" => self.oidc_scopes.clone(),
            "CX_OIDC_ACR_VALUES" => self.oidc_acr_values.clone(),
            "CX_SESSION_IDLE_MINUTES" => self.session_idle_minutes.clone(),
            "CX_SESSION_MAX_HOURS" => self.session_max_hours.clone(),
            _ => None,
        }
    }

    pub fn settings(&self) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| self.lookup(name))
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::super::Cli;

    /// Parses `args` as if no variable were set, whatever the test's own environment holds.
    fn parse_without_env(args: &[&str]) -> Cli {
        let cmd = Cli::command().mut_args(|a| a.env(None::<&str>));
        let matches = cmd.try_get_matches_from(args).unwrap();
        Cli::from_arg_matches(&matches).unwrap()
    }

    /// The defaults `--help` shows are the ones the service uses.
    #[test]
    fn flag_defaults_are_the_settings_defaults() {
        let cli = parse_without_env(&["cx-survey", "serve"]);
        let from_flags = cli.settings.settings().unwrap();
        let from_nothing = crate::configuration::Settings::from_lookup(|_| None).unwrap();
        assert_eq!(format!("{from_flags:?}"), format!("{from_nothing:?}"));
    }

    #[test]
    fn flags_are_checked_like_variables() {
        let cli = parse_without_env(&["cx-survey", "serve", "--db-pool-size", "many"]);
        let err = cli.settings.settings().unwrap_err();
        assert_eq!(err.name, "CX_DB_POOL_SIZE");
        let cli = parse_without_env(&["cx-survey", "--bind", "0.0.0.0:9000", "serve", "--demo"]);
        let s = cli.settings.settings().unwrap();
        assert_eq!(s.public_url, "http://0.0.0.0:9000");
        assert!(s.demo);
    }
}
