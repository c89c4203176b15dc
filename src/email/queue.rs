//! Queuing invitations: each recipient is checked (address, duplicates, already invited,
//! opted out, invited recently) and either queued, skipped or rejected, with the reason.
//! Nothing about a batch is stored unless the batch itself is well-formed.

use std::collections::HashSet;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::db::schema::{invitations, opt_outs};
use crate::db::{db_run, AnyConnection};
use crate::domain::AgencyId;
use crate::error::{ApiError, FieldError};
use crate::registry::Deployment;

/// One recipient as the API and the CSV file give it.
#[derive(Clone, Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteRow {
    pub email: String,
    pub transaction_id: String,
    /// `YYYY-MM-DD`, optional.
    #[serde(default)]
    pub transaction_date: Option<String>,
    /// `en` or `es`; the instrument's first locale when empty.
    #[serde(default)]
    pub locale: Option<String>,
}

#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub queued: usize,
    pub skipped: Vec<Outcome>,
    pub rejected: Vec<Outcome>,
}

/// Why one row was not queued. `line` is the CSV line (header = 1) or the list index + 1.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Outcome {
    pub line: u64,
    pub transaction_id: String,
    pub reason: String,
}

type HmacSha256 = Hmac<Sha256>;

/// The keyed hash that stands for an address once it is no longer kept.
pub fn email_hash(secret: &str, email: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"email:");
    mac.update(normalize(email).as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The link's token: a keyed hash of the invitation's 128-bit random nonce, so it can be made
/// again for a resend but not by anyone who can read only the database.
pub fn token(secret: &str, nonce: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(b"invitation-token:");
    mac.update(nonce.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn normalize(email: &str) -> String {
    email.trim().to_ascii_lowercase()
}

/// A plausible deliverable address: what lettre accepts, a dotted domain, no spaces.
pub fn check_address(email: &str) -> Result<(), &'static str> {
    let e = email.trim();
    if e.is_empty() {
        return Err("the email address is empty");
    }
    if e.len() > 254 || e.chars().any(char::is_whitespace) {
        return Err("the email address is not valid");
    }
    let parsed: lettre::Address = e.parse().map_err(|_| "the email address is not valid")?;
    if !parsed.domain().contains('.') || parsed.domain().ends_with('.') {
        return Err("the email address has no valid domain");
    }
    Ok(())
}

/// Checks the shape of every row; any problem rejects the whole batch (`422`, each line named).
pub fn check_rows(
    rows: &[(u64, InviteRow)],
    locales: &[String],
    field_prefix: &str,
) -> Result<(), ApiError> {
    let mut errs = vec![];
    for (line, r) in rows {
        let at = |f: &str| {
            let mut e = FieldError::new(format!("{field_prefix}{f}"), "");
            e.line = Some(*line);
            e
        };
        if r.transaction_id.trim().is_empty() || r.transaction_id.len() > 200 {
            let mut e = at("transaction_id");
            e.detail = "is required (at most 200 characters)".into();
            errs.push(e);
        }
        if let Some(d) = r.transaction_date.as_deref().filter(|d| !d.is_empty()) {
            if NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
                let mut e = at("transaction_date");
                e.detail = "must be a date YYYY-MM-DD".into();
                errs.push(e);
            }
        }
        if let Some(l) = r.locale.as_deref().filter(|l| !l.is_empty()) {
            if !locales.iter().any(|x| x == l) {
                let mut e = at("locale");
                e.detail = format!("must be one of: {}", locales.join(", "));
                errs.push(e);
            }
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Invalid(errs))
    }
}

#[derive(Insertable)]
#[diesel(table_name = invitations)]
struct NewInvitation {
    id: String,
    deployment_id: String,
    agency_id: AgencyId,
    transaction_id: String,
    transaction_date: Option<NaiveDate>,
    locale: String,
    email: Option<String>,
    email_hash: String,
    token_nonce: String,
    token_hash: String,
    status: String,
    attempts: i32,
    next_attempt_at: NaiveDateTime,
    created_at: NaiveDateTime,
}

pub struct Policy<'a> {
    pub secret: &'a str,
    pub cap_days: i64,
    pub default_locale: &'a str,
    pub now: NaiveDateTime,
}

/// Queues the well-formed `rows` (see `check_rows`) in one transaction: all of them, or none
/// if the database fails. The policy checks ask the database once per thousand rows.
pub fn queue(
    conn: &mut AnyConnection,
    deployment: &Deployment,
    rows: Vec<(u64, InviteRow)>,
    policy: &Policy,
    progress: &dyn Fn(u64),
) -> QueryResult<Summary> {
    let mut summary = Summary::default();
    let since = policy.now - Duration::days(policy.cap_days.max(0));
    conn.transaction(|c| {
        let mut seen = Seen::default();
        let mut done = 0u64;
        for chunk in rows.chunks(1000) {
            // First the checks that need no database: address, duplicates within the batch.
            let candidates = candidates(chunk, policy.secret, &mut seen, &mut summary);
            // Then what the database knows, for the whole chunk at once.
            let known = Known::load(c, deployment, &candidates, since)?;
            let mut batch: Vec<NewInvitation> = Vec::with_capacity(candidates.len());
            for (line, r, tx, hash) in candidates {
                if let Some(reason) = known.skip_reason(&tx, &hash, policy.cap_days) {
                    summary.skipped.push(Outcome {
                        line,
                        transaction_id: tx,
                        reason,
                    });
                    continue;
                }
                batch.push(new_invitation(deployment, r, tx, hash, policy));
            }
            summary.queued += batch.len();
            for part in batch.chunks(500) {
                insert(c, part)?;
            }
            done += chunk.len() as u64;
            progress(done);
        }
        Ok::<_, diesel::result::Error>(())
    })?;
    summary.skipped.sort_by_key(|o| o.line);
    Ok(summary)
}

/// Transaction ids and recipients (by hash) met so far in a batch.
#[derive(Default)]
struct Seen {
    tx: HashSet<String>,
    email: HashSet<String>,
}

/// A row that passed the checks without the database: line, row, trimmed transaction id and
/// recipient hash.
type Candidate<'r> = (u64, &'r InviteRow, String, String);

/// The rows of `chunk` with a deliverable address met for the first time in the batch; the
/// others go to `summary` as rejected or skipped.
fn candidates<'r>(
    chunk: &'r [(u64, InviteRow)],
    secret: &str,
    seen: &mut Seen,
    summary: &mut Summary,
) -> Vec<Candidate<'r>> {
    let mut candidates = vec![];
    for (line, r) in chunk {
        let tx = r.transaction_id.trim().to_string();
        let outcome = |reason: &str| Outcome {
            line: *line,
            transaction_id: tx.clone(),
            reason: reason.into(),
        };
        if let Err(why) = check_address(&r.email) {
            summary.rejected.push(outcome(why));
            continue;
        }
        let hash = email_hash(secret, &r.email);
        if !seen.tx.insert(tx.clone()) {
            summary
                .skipped
                .push(outcome("duplicate transaction_id in this batch"));
            continue;
        }
        if !seen.email.insert(hash.clone()) {
            summary
                .skipped
                .push(outcome("duplicate recipient in this batch"));
            continue;
        }
        candidates.push((*line, r, tx, hash));
    }
    candidates
}

/// What the database knows of a chunk's candidates.
struct Known {
    /// Transaction ids this deployment already invited.
    invited: HashSet<String>,
    /// Recipients who opted out of the agency's surveys.
    opted_out: HashSet<String>,
    /// Recipients the agency invited since the cap's start.
    recent: HashSet<String>,
}

impl Known {
    fn load(
        c: &mut AnyConnection,
        deployment: &Deployment,
        candidates: &[Candidate],
        since: NaiveDateTime,
    ) -> QueryResult<Known> {
        let txs: Vec<&str> = candidates.iter().map(|c| c.2.as_str()).collect();
        let hashes: Vec<&str> = candidates.iter().map(|c| c.3.as_str()).collect();
        let invited: HashSet<String> = invitations::table
            .filter(invitations::deployment_id.eq(&deployment.id))
            .filter(invitations::transaction_id.eq_any(&txs))
            .select(invitations::transaction_id)
            .load(c)?
            .into_iter()
            .collect();
        // Opt-outs and the cap are the agency's own: another agency's rows must neither
        // suppress this one's invitations nor tell it whom that agency surveyed.
        let opted_out: HashSet<String> = opt_outs::table
            .filter(opt_outs::agency_id.eq(&deployment.agency_id))
            .filter(opt_outs::email_hash.eq_any(&hashes))
            .select(opt_outs::email_hash)
            .load(c)?
            .into_iter()
            .collect();
        let recent: HashSet<String> = invitations::table
            .filter(invitations::agency_id.eq(&deployment.agency_id))
            .filter(invitations::email_hash.eq_any(&hashes))
            .filter(invitations::created_at.ge(since))
            .select(invitations::email_hash)
            .load(c)?
            .into_iter()
            .collect();
        Ok(Known {
            invited,
            opted_out,
            recent,
        })
    }

    /// Why the invitation of transaction `tx` to recipient `hash` is skipped, if it is.
    fn skip_reason(&self, tx: &str, hash: &str, cap_days: i64) -> Option<String> {
        if self.invited.contains(tx) {
            Some("this transaction was already invited".to_string())
        } else if self.opted_out.contains(hash) {
            Some("the recipient opted out of your agency's surveys".to_string())
        } else if self.recent.contains(hash) {
            Some(format!(
                "the recipient was invited in the last {cap_days} days"
            ))
        } else {
            None
        }
    }
}

/// A queued invitation with a fresh token.
fn new_invitation(
    deployment: &Deployment,
    r: &InviteRow,
    tx: String,
    hash: String,
    policy: &Policy,
) -> NewInvitation {
    let nonce = hex::encode(rand::random::<[u8; 16]>());
    NewInvitation {
        id: uuid::Uuid::new_v4().to_string(),
        deployment_id: deployment.id.clone(),
        agency_id: deployment.agency_id.clone(),
        transaction_id: tx,
        transaction_date: r
            .transaction_date
            .as_deref()
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()),
        locale: r
            .locale
            .clone()
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| policy.default_locale.to_string()),
        email: Some(r.email.trim().to_string()),
        email_hash: hash,
        token_hash: token_hash(&token(policy.secret, &nonce)),
        token_nonce: nonce,
        status: "queued".into(),
        attempts: 0,
        next_attempt_at: policy.now,
        created_at: policy.now,
    }
}

fn insert(c: &mut AnyConnection, batch: &[NewInvitation]) -> QueryResult<()> {
    db_run!(c, c => diesel::insert_into(invitations::table).values(batch).execute(c))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert!(check_address("maria.lopez@example.gov").is_ok());
        assert!(check_address(" A.B+tag@Mail.Example.com ").is_ok());
        for bad in [
            "",
            "not-an-email",
            "a@",
            "@b.gov",
            "a b@c.gov",
            "a@localhost",
            "a@b.",
        ] {
            assert!(check_address(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashes_are_keyed_and_normalized() {
        assert_eq!(email_hash("k", "A@B.gov "), email_hash("k", "a@b.gov"));
        assert_ne!(email_hash("k", "a@b.gov"), email_hash("other", "a@b.gov"));
        let t = token("k", "n");
        assert_eq!(t.len(), 64);
        assert_ne!(token_hash(&t), t);
    }
}
