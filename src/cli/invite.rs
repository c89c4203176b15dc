//! `cx-survey invite`: queue a CSV file of recipients (progress bar on a terminal, a summary
//! with reasons), and/or drain the outbox once.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::fail;
use crate::configuration::Settings;
use crate::db::Pool;
use crate::definitions::LoadedDefs;
use crate::email::queue::InviteRow;
use crate::startup::prepare;

pub fn invite(
    settings: &Settings,
    deployment: Option<String>,
    csv: Option<PathBuf>,
    send_now: bool,
) -> ExitCode {
    if deployment.is_none() && !send_now {
        return fail("say --deployment ID --csv FILE to queue invitations, and/or --send-now");
    }
    let (pool, _, defs) = match prepare(settings) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    if let (Some(id), Some(path)) = (deployment, csv) {
        if let Err(code) = queue_file(&pool, &defs, settings, &id, &path) {
            return code;
        }
    }
    if send_now {
        super::init_one_shot_logs();
        if let Err(code) = drain_outbox(pool, defs, settings) {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// Queues the recipients in `path` for deployment `id` and prints what became of each row.
fn queue_file(
    pool: &Pool,
    defs: &LoadedDefs,
    settings: &Settings,
    id: &str,
    path: &Path,
) -> Result<(), ExitCode> {
    let rows = read_batch(path)?;
    let mut conn = pool.get().map_err(fail)?;
    let d = match crate::registry::deployment_view(&mut conn, id) {
        Ok(Some(v)) => v.deployment,
        Ok(None) => return Err(fail(format!("--deployment: no deployment {id}"))),
        Err(e) => return Err(fail(e)),
    };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(rows.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let result = crate::email::queue_batch(&mut conn, defs, settings, &d, rows, "", &|n| {
        bar.set_position(n)
    });
    bar.finish_and_clear();
    let s = result.map_err(|e| fail(problem(path, e)))?;
    println!(
        "queued {}, skipped {}, rejected {}",
        s.queued,
        s.skipped.len(),
        s.rejected.len()
    );
    for (what, list) in [("skipped", &s.skipped), ("rejected", &s.rejected)] {
        for o in list.iter() {
            println!(
                "{}:{}: {what} ({}): {}",
                path.display(),
                o.line,
                o.transaction_id,
                o.reason
            );
        }
    }
    Ok(())
}

/// The rows of the recipients file at `path`, at most one batch.
fn read_batch(path: &Path) -> Result<Vec<(u64, InviteRow)>, ExitCode> {
    let meta = std::fs::metadata(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    if meta.len() > crate::email::MAX_BATCH_BYTES as u64 {
        return Err(fail(format!(
            "{}: the file is {} bytes; at most {} per batch (split it)",
            path.display(),
            meta.len(),
            crate::email::MAX_BATCH_BYTES
        )));
    }
    let body = std::fs::read(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    crate::email::parse_csv(&body).map_err(|e| fail(problem(path, e)))
}

/// Sends what the outbox holds once, and prints the counts.
fn drain_outbox(pool: Pool, defs: LoadedDefs, settings: &Settings) -> Result<(), ExitCode> {
    crate::telemetry::init();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(fail)?;
    // Made and dropped inside the runtime: the SMTP pool's cleanup needs it.
    let drained = rt.block_on(async move {
        match crate::email::outbox::Outbox::new(pool, Arc::new(defs), settings.clone()) {
            Ok(Some(o)) => o.drain_once().await.map_err(|e| e.to_string()),
            Ok(None) => Err("--send-now needs CX_SMTP_URL".to_string()),
            Err(e) => Err(e),
        }
    });
    let d = drained.map_err(fail)?;
    println!(
        "sent {}, to retry later {}, failed {}",
        d.sent, d.retry, d.failed
    );
    Ok(())
}

/// An API error as `file:line: field: problem` lines.
fn problem(path: &std::path::Path, e: crate::error::ApiError) -> String {
    match e {
        crate::error::ApiError::Invalid(errs) => errs
            .iter()
            .map(|fe| match fe.line {
                Some(l) => format!("{}:{l}: {}: {}", path.display(), fe.field, fe.detail),
                None => format!("{}: {}: {}", path.display(), fe.field, fe.detail),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{}: {other}", path.display()),
    }
}
