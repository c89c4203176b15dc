//! Email survey links: invitations queued from the admin API or a CSV file and delivered by the
//! outbox worker. The pages behind the links (`/r/{token}`, `/u/{token}`) are `pages::link`.

pub mod message;
pub mod outbox;
pub mod queue;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use secrecy::ExposeSecret;

use crate::db::{self, schema::invitations, AnyConnection};
use crate::error::ApiError;
use crate::registry::Deployment;
use queue::{InviteRow, Policy, Summary};

/// Largest invitation batch: a file or a JSON list (10 MB is refused).
pub const MAX_BATCH_BYTES: usize = 8 * 1024 * 1024;
pub const CSV_COLUMNS: [&str; 4] = ["email", "transaction_id", "transaction_date", "locale"];

/// Parses a CSV batch (header `email,transaction_id,transaction_date,locale`), each row with
/// the line it starts on as an editor shows it (the header is line 1; a quoted cell may span
/// lines).
pub fn parse_csv(body: &[u8]) -> Result<Vec<(u64, InviteRow)>, ApiError> {
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(body);
    let header: Vec<String> = rdr
        .headers()
        .map_err(|e| ApiError::field("file", format!("not a CSV file: {e}")))?
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_ascii_lowercase())
        .collect();
    if header != CSV_COLUMNS {
        return Err(ApiError::field(
            "file",
            format!(
                "the header must be exactly {}, got {}",
                CSV_COLUMNS.join(","),
                header.join(",")
            ),
        ));
    }
    let mut rows = vec![];
    for (line, rec) in crate::csv_lines::records(&mut rdr, body) {
        let rec = rec.map_err(|e| {
            let why = format!("the row {}", crate::csv_lines::describe(&e));
            ApiError::Invalid(vec![
                crate::error::FieldError::new("file", why).at_line(line)
            ])
        })?;
        let get = |k: usize| rec.get(k).unwrap_or("").trim().to_string();
        let opt = |k: usize| Some(get(k)).filter(|s| !s.is_empty());
        rows.push((
            line,
            InviteRow {
                email: get(0),
                transaction_id: get(1),
                transaction_date: opt(2),
                locale: opt(3),
            },
        ));
    }
    if rows.is_empty() {
        return Err(ApiError::field("file", "has no rows"));
    }
    Ok(rows)
}

/// Queues `rows` for `deployment`: the batch is checked whole first, then each row.
pub fn queue_batch(
    c: &mut AnyConnection,
    state_defs: &crate::definitions::LoadedDefs,
    settings: &crate::configuration::Settings,
    deployment: &Deployment,
    rows: Vec<(u64, InviteRow)>,
    field_prefix: &str,
    progress: &dyn Fn(u64),
) -> Result<Summary, ApiError> {
    let secret = settings
        .secret
        .as_ref()
        .map(|s| s.expose_secret())
        .ok_or_else(|| ApiError::Conflict {
            field: "CX_SECRET".into(),
            detail: "invitations need CX_SECRET (the key of the address hashes) to be set".into(),
        })?;
    let ins = state_defs
        .current(&deployment.instrument_id)
        .ok_or_else(|| ApiError::internal("instrument not loaded"))?;
    if !deployment.is_open() {
        return Err(ApiError::Gone("the deployment is closed".into()));
    }
    queue::check_rows(&rows, &ins.locales, field_prefix)?;
    let policy = Policy {
        secret,
        cap_days: settings.invite_cap_days,
        default_locale: &ins.locales[0],
        now: db::now(),
    };
    Ok(queue::queue(c, deployment, rows, &policy, progress)?)
}

/// Delivered invitations per deployment in `[start, end)`: survey opportunities.
pub fn delivered(
    c: &mut AnyConnection,
    deployment_id: &str,
    start: NaiveDateTime,
    end: NaiveDateTime,
) -> QueryResult<i64> {
    use invitations::dsl as i;
    invitations::table
        .filter(i::deployment_id.eq(deployment_id))
        .filter(i::sent_at.ge(start))
        .filter(i::sent_at.lt(end))
        .count()
        .get_result(c)
}
