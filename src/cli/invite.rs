//! `cx-survey invite`: queue a CSV file of recipients (progress bar on a terminal, a summary
//! with reasons), and/or drain the outbox once.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::fail;
use crate::configuration::Settings;
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
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => return fail(format!("{}: {e}", path.display())),
        };
        if meta.len() > crate::email::MAX_BATCH_BYTES as u64 {
            return fail(format!(
                "{}: the file is {} bytes; at most {} per batch (split it)",
                path.display(),
                meta.len(),
                crate::email::MAX_BATCH_BYTES
            ));
        }
        let body = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => return fail(format!("{}: {e}", path.display())),
        };
        let rows = match crate::email::parse_csv(&body) {
            Ok(r) => r,
            Err(e) => return fail(problem(&path, e)),
        };
        let mut conn = match pool.get() {
            Ok(c) => c,
            Err(e) => return fail(e),
        };
        let d = match crate::registry::deployment_view(&mut conn, &id) {
            Ok(Some(v)) => v.deployment,
            Ok(None) => return fail(format!("--deployment: no deployment {id}")),
            Err(e) => return fail(e),
        };
        let bar = if std::io::stderr().is_terminal() {
            indicatif::ProgressBar::new(rows.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let result = crate::email::queue_batch(&mut conn, &defs, settings, &d, rows, "", &|n| {
            bar.set_position(n)
        });
        bar.finish_and_clear();
        let s = match result {
            Ok(s) => s,
            Err(e) => return fail(problem(&path, e)),
        };
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
    }
    if send_now {
        super::init_one_shot_logs();
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => return fail(e),
        };
        // Made and dropped inside the runtime: the SMTP pool's cleanup needs it.
        let drained = rt.block_on(async move {
            match crate::email::outbox::Outbox::new(pool, Arc::new(defs), settings.clone()) {
                Ok(Some(o)) => o.drain_once().await.map_err(|e| e.to_string()),
                Ok(None) => Err("--send-now needs CX_SMTP_URL".to_string()),
                Err(e) => Err(e),
            }
        });
        match drained {
            Ok(d) => println!(
                "sent {}, to retry later {}, failed {}",
                d.sent, d.retry, d.failed
            ),
            Err(e) => return fail(e),
        }
    }
    ExitCode::SUCCESS
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
