//! `cx-survey dev explain`: the database's plans for the console's responses page on a real
//! database (a seeded benchmark one, a production copy), to check they read index ranges and
//! never sort the quarter. bench/console.sh prints them beside the timings.

use std::process::ExitCode;

use diesel::prelude::*;

use super::fail;
use crate::admin::response_query::{self, Filter, Order};
use crate::configuration::Settings;
use crate::db::schema::deployments;
use crate::domain::{AgencyId, ResponseStatus};
use crate::fiscal::FiscalQuarter;
use crate::startup::prepare;

/// Rows the console's responses page asks for (its 50, and one to know there is more).
const PAGE: i64 = 51;

pub fn dev_explain(settings: &Settings, agency: &str, fiscal_year: i32, quarter: u8) -> ExitCode {
    match plans(settings, agency, fiscal_year, quarter) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn plans(
    settings: &Settings,
    slug: &str,
    fiscal_year: i32,
    quarter: u8,
) -> Result<(), Box<dyn std::error::Error>> {
    let fq = FiscalQuarter::new(fiscal_year, quarter)?;
    let (pool, _, _) = prepare(settings)?;
    let mut c = pool.get()?;
    let agency = crate::registry::find_agency_by_slug(&mut c, slug)?
        .ok_or_else(|| format!("no agency {slug}"))?;
    let (from, to) = fq.bounds(settings.report_tz);
    let base = Filter {
        agency_id: AgencyId::from_stored(agency.id.to_string()),
        deployment: None,
        from: Some(from.naive_utc()),
        to: Some(to.naive_utc()),
        status: None,
        words: vec![],
    };
    // Where the 100th page starts: 99 pages of 50 in.
    let cursor = response_query::keys(&mut c, &base, None, Order::NewestFirst, 99 * 50)?.pop();
    let first_deployment: Option<String> = deployments::table
        .filter(deployments::agency_id.eq(&base.agency_id))
        .select(deployments::id)
        .order(deployments::id)
        .first(&mut c)
        .optional()?;
    let cases = [
        ("responses, first page", base.clone(), None),
        ("responses, 100th page", base.clone(), cursor.as_ref()),
        (
            "responses of one deployment",
            Filter {
                deployment: first_deployment,
                ..base.clone()
            },
            None,
        ),
        (
            "responses marked spam",
            Filter {
                status: Some(ResponseStatus::Spam),
                ..base.clone()
            },
            None,
        ),
        (
            "responses with a word in the comment",
            Filter {
                words: vec!["slow".into()],
                ..base.clone()
            },
            None,
        ),
    ];
    for (name, filter, after) in cases {
        println!("== {name}");
        let plan = response_query::explain(&mut c, &filter, after, Order::NewestFirst, PAGE)?;
        for (n, line) in collapse(&plan) {
            println!("{n:>6} × {line}");
        }
    }
    Ok(())
}

/// Each distinct step once, with how often it occurs, in the order first seen: the merge plan
/// repeats one index range per (deployment, status), hundreds of times.
fn collapse(plan: &[String]) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = vec![];
    for line in plan {
        match out.iter_mut().find(|(_, s)| s == line) {
            Some((n, _)) => *n += 1,
            None => out.push((1, line.clone())),
        }
    }
    out
}
