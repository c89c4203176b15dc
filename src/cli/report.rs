//! `report` (the quarterly OMB files) and `dev seed` (synthetic responses for benchmarks).

use std::process::ExitCode;

use super::fail;
use crate::configuration::Settings;
use crate::fiscal::FiscalQuarter;
use crate::startup::prepare;
use std::io::IsTerminal;

pub fn report(
    settings: &Settings,
    fiscal_year: i32,
    quarter: u8,
    hisp: Option<String>,
    out: &std::path::Path,
) -> ExitCode {
    let fq = match FiscalQuarter::new(fiscal_year, quarter) {
        Ok(q) => q,
        Err(e) => return fail(format!("--fiscal-year/--quarter: {e}")),
    };
    let (pool, _, defs) = match crate::startup::prepare_reader(settings) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let terminal = super::init_one_shot_logs();
    let scope = crate::report::Scope {
        agency_id: None,
        hisp,
    };
    let started = std::time::Instant::now();
    match crate::report::files::write_report(&pool, &defs, fq, settings.report_tz, &scope, out) {
        Ok(r) => {
            let rows: i64 = r.details.iter().map(|d| d.volume_of_respondents).sum();
            let counts = format!(
                "FY{} Q{}: {} collections, {} deployments, {rows} responses",
                fq.year,
                fq.quarter,
                r.collections.len(),
                r.details.len(),
            );
            let (dir, seconds) = (out.display(), started.elapsed().as_secs_f64());
            if terminal {
                println!("{counts}");
                println!(
                    "wrote the OMB files, v1 counts, report.json and report.html to {dir} in {seconds:.1} s"
                );
            } else {
                eprintln!("report {counts}, written to {dir} in {seconds:.1} s");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}

pub fn dev_seed(
    settings: &Settings,
    responses: u64,
    deployments: usize,
    impressions: f64,
    fiscal_year: i32,
    quarter: u8,
) -> ExitCode {
    let fq = match FiscalQuarter::new(fiscal_year, quarter) {
        Ok(q) => q,
        Err(e) => return fail(e),
    };
    let (pool, _, defs) = match prepare(settings) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut conn = match pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(responses)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let plan = crate::report::seed::SeedPlan {
        responses,
        deployments,
        impressions_per_response: impressions,
        quarter: fq,
        tz: settings.report_tz,
    };
    let started = std::time::Instant::now();
    let result = crate::report::seed::seed(&mut conn, &defs, &plan, |done| {
        bar.set_position(done);
        if bar.is_hidden() && done % 1_000_000 == 0 {
            eprintln!("seed: {done} of {responses} responses");
        }
    });
    bar.finish_and_clear();
    match result {
        Ok(ids) => {
            eprintln!(
                "seeded {responses} responses over {} deployments in {:.1} s",
                ids.len(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(e),
    }
}
