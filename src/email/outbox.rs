//! The outbox worker: claims due invitations with a lease (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so several instances never claim the same one), sends them over pooled SMTP,
//! then records the outcome: sent (the address is erased), retry later (temporary failure,
//! exponential backoff with jitter), or failed (permanent `5xx`, with the reason).

use secrecy::ExposeSecret;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamp};
use futures_util::StreamExt;
use lettre::transport::smtp::PoolConfig;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::message::{self, Invite};
use super::queue::token;
use crate::configuration::Settings;
use crate::db::{self, schema::invitations, AnyConnection, Pool};
use crate::definitions::LoadedDefs;
use crate::error::ApiError;
use crate::registry::{self, DeploymentView};

/// How long a claim holds before another worker may take the invitation over (a crash). The
/// worker renews its claims every third of it while it is still sending them.
const LEASE: chrono::Duration = chrono::Duration::seconds(120);
const BATCH: i64 = 500;
const CONCURRENCY: usize = 64;
/// Temporary failures retried this many times, then the invitation is given up.
const MAX_ATTEMPTS: i32 = 25;

pub struct Outbox {
    pool: Pool,
    defs: Arc<LoadedDefs>,
    settings: Settings,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    /// Names this worker in its claims.
    me: String,
    /// How long a claim holds unless renewed (`LEASE`; shorter in tests).
    lease: chrono::Duration,
}

#[derive(QueryableByName, Debug)]
struct Claimed {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    deployment_id: String,
    #[diesel(sql_type = Text)]
    locale: String,
    #[diesel(sql_type = Nullable<Text>)]
    email: Option<String>,
    #[diesel(sql_type = Text)]
    token_nonce: String,
    #[diesel(sql_type = Integer)]
    attempts: i32,
}

enum Outcome {
    Sent,
    Retry(String),
    Failed(String),
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    pub sent: u64,
    pub retry: u64,
    pub failed: u64,
}

impl Outbox {
    /// `None` when no `CX_SMTP_URL` is configured: invitations then wait in the queue.
    pub fn new(
        pool: Pool,
        defs: Arc<LoadedDefs>,
        settings: Settings,
    ) -> Result<Option<Self>, String> {
        let Some(url) = settings
            .smtp_url
            .as_ref()
            .map(|u| u.expose_secret().to_string())
        else {
            return Ok(None);
        };
        if settings.secret.is_none() {
            return Err("CX_SMTP_URL is set but CX_SECRET is not: invitations need it".into());
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
            .map_err(|e| format!("CX_SMTP_URL: {e}"))?;
        if let Some(ca) = &settings.smtp_ca {
            if let Some(tls) = tls_with_extra_root(&url, ca)? {
                builder = builder.tls(tls);
            }
        }
        let transport = builder
            .pool_config(PoolConfig::new().max_size(CONCURRENCY as u32))
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Some(Outbox {
            pool,
            defs,
            settings,
            transport,
            me: uuid::Uuid::new_v4().to_string(),
            lease: LEASE,
        }))
    }

    /// Claims hold `lease` instead of `LEASE` (tests use a lease shorter than a slow send).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = chrono::Duration::from_std(lease).unwrap_or(LEASE);
        self
    }

    /// Sends everything due now, batch after batch, until nothing is due.
    pub async fn drain_once(&self) -> Result<Drained, ApiError> {
        let mut total = Drained::default();
        loop {
            let d = self.one_batch().await?;
            if d == Drained::default() {
                return Ok(total);
            }
            total.sent += d.sent;
            total.retry += d.retry;
            total.failed += d.failed;
        }
    }

    /// The worker inside `serve`: drains, then looks again every second, until `stop` says so.
    pub async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        while !*stop.borrow() {
            match self.drain_once().await {
                Ok(d) if d != Drained::default() => tracing::info!(
                    sent = d.sent,
                    retry = d.retry,
                    failed = d.failed,
                    "invitations processed"
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "invitation outbox"),
            }
            tokio::select! {
                _ = actix_web::rt::time::sleep(Duration::from_secs(1)) => {}
                // Also when the sender is gone: nobody will ask again.
                r = stop.changed() => if r.is_err() { break },
            }
        }
    }

    async fn one_batch(&self) -> Result<Drained, ApiError> {
        let (me, lease) = (self.me.clone(), self.lease);
        let claimed = crate::app::run(&self.pool, move |c| {
            let now = db::now();
            claim(c, &me, now, now + lease, BATCH).map_err(ApiError::from)
        })
        .await?;
        if claimed.is_empty() {
            return Ok(Drained::default());
        }
        let ids: Vec<String> = {
            let mut v: Vec<String> = claimed.iter().map(|c| c.deployment_id.clone()).collect();
            v.sort();
            v.dedup();
            v
        };
        let claimed_ids: Vec<String> = claimed.iter().map(|c| c.id.clone()).collect();
        let (views, opted_out) = crate::app::run(&self.pool, move |c| {
            let mut m: HashMap<String, DeploymentView> = HashMap::new();
            for id in ids {
                if let Some(v) = registry::deployment_view(c, &id)? {
                    m.insert(id, v);
                }
            }
            Ok::<_, ApiError>((m, opted_out(c, &claimed_ids)?))
        })
        .await?;
        let (views, opted_out) = (&views, &opted_out);
        let sending = futures_util::stream::iter(claimed)
            .map(|c| async move {
                // Queued before the person opted out of this agency's surveys: not sent.
                let o = if opted_out.contains(&c.id) {
                    Outcome::Failed("the recipient opted out of this agency's surveys".into())
                } else {
                    self.send(&c, views.get(&c.deployment_id)).await
                };
                (c, o)
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<(Claimed, Outcome)>>();
        // A batch can take longer than a lease (slow relays, 30 s timeouts): the claims are
        // renewed until every outcome is in, so no other worker takes them over meanwhile.
        let outcomes = tokio::select! {
            o = sending => o,
            never = self.keep_claims() => match never {},
        };
        let mut d = Drained::default();
        for (_, o) in &outcomes {
            match o {
                Outcome::Sent => d.sent += 1,
                Outcome::Retry(_) => d.retry += 1,
                Outcome::Failed(_) => d.failed += 1,
            }
        }
        let (me, base, ttl) = (
            self.me.clone(),
            self.settings.smtp_retry_base,
            self.settings.invite_ttl_days,
        );
        crate::app::run(&self.pool, move |c| {
            record(c, &me, &outcomes, base, ttl).map_err(ApiError::from)
        })
        .await?;
        Ok(d)
    }

    /// Every third of a lease, extends the lease of this worker's claims that are not recorded
    /// yet; runs until dropped. A failed renewal is logged and tried again at the next tick.
    async fn keep_claims(&self) -> std::convert::Infallible {
        let every = (self.lease / 3).to_std().unwrap_or(Duration::from_secs(1));
        loop {
            actix_web::rt::time::sleep(every).await;
            let (me, lease) = (self.me.clone(), self.lease);
            let renewed = crate::app::run(&self.pool, move |c| {
                renew(c, &me, db::now() + lease).map_err(ApiError::from)
            })
            .await;
            if let Err(e) = renewed {
                tracing::warn!(error = %e, "could not renew the outbox lease");
            }
        }
    }

    async fn send(&self, c: &Claimed, view: Option<&DeploymentView>) -> Outcome {
        let (Some(view), Some(email)) = (view, c.email.as_deref()) else {
            return Outcome::Failed("the deployment or the address is gone".into());
        };
        let Some(ins) = self.defs.current(&view.deployment.instrument_id) else {
            return Outcome::Failed("the instrument is not loaded".into());
        };
        // A link to a survey that no longer collects would only disappoint.
        if !view.deployment.is_open()
            || crate::survey::pra::is_expired(
                ins.pra.expiration_date,
                self.settings.report_tz,
                chrono::Utc::now(),
            )
        {
            return Outcome::Failed("the deployment is closed or its PRA clearance ended".into());
        }
        let secret = self
            .settings
            .secret
            .as_ref()
            .map(|s| s.expose_secret())
            .unwrap_or_default();
        let t = token(secret, &c.token_nonce);
        let base = &self.settings.public_url;
        let msg = match message::build(
            &Invite {
                view,
                ins,
                locale: &c.locale,
                to: email,
                from: &self.settings.mail_from,
                survey_url: format!("{base}/r/{t}"),
                opt_out_url: format!("{base}/u/{t}"),
            },
            self.settings.invite_ttl_days,
        ) {
            Ok(m) => m,
            Err(e) => return Outcome::Failed(e),
        };
        match self.transport.send(msg).await {
            Ok(_) => Outcome::Sent,
            Err(e) => {
                // Servers echo the recipient in their replies; the reason is kept without it.
                let why = scrub(&e.to_string(), email);
                let kind = if e.is_permanent() {
                    "permanent"
                } else {
                    "temporary"
                };
                crate::metrics::metrics()
                    .outbox_failures
                    .with_label_values(&[kind])
                    .inc();
                if e.is_permanent() {
                    Outcome::Failed(why)
                } else if c.attempts >= MAX_ATTEMPTS {
                    Outcome::Failed(format!("gave up after {} attempts: {why}", c.attempts))
                } else {
                    Outcome::Retry(why)
                }
            }
        }
    }
}

/// The longest wait before a retry.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(3600);

/// How long to wait before attempt `attempts + 1`: `base` doubling per attempt up to
/// `MAX_RETRY_WAIT`, with "equal jitter" (half of it fixed, half `unit` ∈ [0, 1) of it), so the
/// invitations an outage held back do not all come due in the same second afterwards.
fn retry_wait(base: Duration, attempts: i32, unit: f64) -> Duration {
    let factor = 2u32.saturating_pow((attempts - 1).clamp(0, 20) as u32);
    let cap = base.saturating_mul(factor).min(MAX_RETRY_WAIT);
    cap / 2 + (cap / 2).mul_f64(unit.clamp(0.0, 1.0))
}

/// Invitations still to deliver by state: `queued` (never tried), `retrying` (queued again
/// after a temporary failure) and `sending` (claimed). Reads only those states through the
/// `invitations_due` index, not the history of sent ones.
pub fn depth(c: &mut AnyConnection) -> QueryResult<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        state: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let rows: Vec<Row> = diesel::sql_query(
        "SELECT CASE WHEN status = 'queued' AND attempts > 0 THEN 'retrying' ELSE status END \
         AS state, COUNT(*) AS n FROM invitations WHERE status IN ('queued', 'sending') \
         GROUP BY 1",
    )
    .load(c)?;
    Ok(["queued", "retrying", "sending"]
        .iter()
        .map(|s| {
            let n = rows.iter().find(|r| r.state == *s).map_or(0, |r| r.n);
            (s.to_string(), n)
        })
        .collect())
}

fn scrub(text: &str, email: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let needle = email.trim().to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(pos) = lower[i..].find(&needle).filter(|_| !needle.is_empty()) {
        out.push_str(&text[i..i + pos]);
        out.push_str("<recipient>");
        i += pos + needle.len();
    }
    out.push_str(&text[i..]);
    out.chars().take(500).collect()
}

/// The invitations among `ids` whose recipient has since opted out of their agency's surveys.
fn opted_out(c: &mut AnyConnection, ids: &[String]) -> QueryResult<HashSet<String>> {
    use crate::db::schema::opt_outs;
    invitations::table
        .inner_join(
            opt_outs::table.on(opt_outs::agency_id
                .eq(invitations::agency_id)
                .and(opt_outs::email_hash.eq(invitations::email_hash))),
        )
        .filter(invitations::id.eq_any(ids))
        .select(invitations::id)
        .load::<String>(c)
        .map(|v| v.into_iter().collect())
}

/// Takes up to `limit` due invitations (queued and due, or claimed by a worker whose lease ran
/// out) for `me`.
fn claim(
    c: &mut AnyConnection,
    me: &str,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<Claimed>> {
    let skip_locked = match c {
        AnyConnection::Postgresql(_) => " FOR UPDATE SKIP LOCKED",
        // SQLite has one writer at a time: the UPDATE itself is the lock.
        AnyConnection::Sqlite(_) => "",
    };
    let sql = format!(
        "UPDATE invitations SET status = 'sending', claimed_by = $1, claimed_until = $2, \
         attempts = attempts + 1 WHERE id IN (SELECT id FROM invitations \
         WHERE (status = 'queued' AND next_attempt_at <= $3) \
         OR (status = 'sending' AND claimed_until < $3) \
         ORDER BY next_attempt_at LIMIT $4{skip_locked}) \
         RETURNING id, deployment_id, locale, email, token_nonce, attempts"
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(me)
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(limit)
        .load::<Claimed>(c)
}

/// Extends to `until` the lease of every invitation `me` claimed and has not recorded yet.
fn renew(c: &mut AnyConnection, me: &str, until: NaiveDateTime) -> QueryResult<usize> {
    use invitations::dsl as i;
    diesel::update(
        invitations::table
            .filter(i::claimed_by.eq(me))
            .filter(i::status.eq("sending")),
    )
    .set(i::claimed_until.eq(Some(until)))
    .execute(c)
}

fn record(
    c: &mut AnyConnection,
    me: &str,
    outcomes: &[(Claimed, Outcome)],
    base: Duration,
    ttl_days: i64,
) -> QueryResult<()> {
    use invitations::dsl as i;
    let now = db::now();
    c.transaction(|c| {
        for (cl, o) in outcomes {
            // Only while the claim is still ours: a worker that lost its lease records nothing.
            let mine = invitations::table
                .filter(i::id.eq(&cl.id))
                .filter(i::claimed_by.eq(me));
            let none: Option<String> = None;
            let no_time: Option<NaiveDateTime> = None;
            match o {
                Outcome::Sent => diesel::update(mine)
                    .set((
                        i::status.eq("sent"),
                        i::email.eq(&none),
                        i::sent_at.eq(Some(now)),
                        i::expires_at.eq(Some(now + chrono::Duration::days(ttl_days))),
                        i::last_error.eq(&none),
                        i::claimed_by.eq(&none),
                        i::claimed_until.eq(no_time),
                    ))
                    .execute(c)?,
                Outcome::Retry(why) => {
                    let wait = retry_wait(base, cl.attempts, rand::random::<f64>());
                    let next = now + chrono::Duration::from_std(wait).unwrap_or_default();
                    diesel::update(mine)
                        .set((
                            i::status.eq("queued"),
                            i::next_attempt_at.eq(next),
                            i::last_error.eq(Some(why)),
                            i::claimed_by.eq(&none),
                            i::claimed_until.eq(no_time),
                        ))
                        .execute(c)?
                }
                Outcome::Failed(why) => diesel::update(mine)
                    .set((
                        i::status.eq("failed"),
                        i::email.eq(&none),
                        i::last_error.eq(Some(why)),
                        i::claimed_by.eq(&none),
                        i::claimed_until.eq(no_time),
                    ))
                    .execute(c)?,
            };
        }
        Ok(())
    })
}

/// The TLS mode `CX_SMTP_URL` asks for (as lettre's `from_url` reads it), verified against the
/// system's trust store plus `CX_SMTP_CA_FILE`; `None` for plain `smtp://` (no TLS to verify).
fn tls_with_extra_root(
    url: &str,
    ca: &lettre::transport::smtp::client::Certificate,
) -> Result<Option<lettre::transport::smtp::client::Tls>, String> {
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    let parsed = url::Url::parse(url).map_err(|e| format!("CX_SMTP_URL: {e}"))?;
    let host = parsed.host_str().unwrap_or_default().to_string();
    let params = || {
        TlsParameters::builder(host.clone())
            .add_root_certificate(ca.clone())
            .build()
            .map_err(|e| format!("CX_SMTP_CA_FILE: {e}"))
    };
    let tls = parsed
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    Ok(match (parsed.scheme(), tls.as_deref()) {
        ("smtps", _) => Some(Tls::Wrapper(params()?)),
        ("smtp", Some("required")) => Some(Tls::Required(params()?)),
        ("smtp", Some("opportunistic")) => Some(Tls::Opportunistic(params()?)),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::{retry_wait, scrub, MAX_RETRY_WAIT};
    use std::time::Duration;

    #[test]
    fn retry_waits_double_with_equal_jitter() {
        let base = Duration::from_secs(30);
        for attempts in [0, 1, 2, 5, 8, 25, i32::MAX] {
            let factor = 2u32.saturating_pow((attempts - 1).clamp(0, 20) as u32);
            let cap = base.saturating_mul(factor).min(MAX_RETRY_WAIT);
            let lo = retry_wait(base, attempts, 0.0);
            let hi = retry_wait(base, attempts, 0.999_999);
            assert_eq!(lo, cap / 2, "attempt {attempts}");
            assert!(hi <= cap && hi > cap * 9 / 10, "attempt {attempts}: {hi:?}");
            for _ in 0..100 {
                let w = retry_wait(base, attempts, rand::random::<f64>());
                assert!(lo <= w && w <= cap, "attempt {attempts}: {w:?}");
            }
            // Out-of-range input still stays inside the bounds.
            assert!(retry_wait(base, attempts, 7.0) <= cap);
            assert_eq!(retry_wait(base, attempts, -1.0), cap / 2);
        }
        assert_eq!(retry_wait(base, 1, 0.0), Duration::from_secs(15));
        assert_eq!(retry_wait(base, 3, 0.0), Duration::from_secs(60));
        assert!(retry_wait(base, 25, 0.999) <= MAX_RETRY_WAIT);
    }

    #[test]
    fn reasons_never_keep_the_address() {
        assert_eq!(
            scrub(
                "550 5.1.1 <Maria@Example.gov>: user unknown",
                "maria@example.gov"
            ),
            "550 5.1.1 <<recipient>>: user unknown"
        );
        assert_eq!(scrub("421 try later", "a@b.gov"), "421 try later");
    }
}
