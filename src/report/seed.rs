//! `cx-survey dev seed`: a reproducible synthetic quarter for benchmarks and demos — one agency,
//! one HISP, five services, deployments across the three shipped instruments, and N responses
//! (a few marked spam or test) spread over the quarter, with impressions and volumes.

use chrono::{Duration, NaiveDateTime};
use chrono_tz::Tz;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::db::schema::{impressions, responses, service_volumes};
use crate::db::{self, db_run, AnyConnection};
use crate::definitions::LoadedDefs;
use crate::domain::{Access, DeploymentStatus, ResponseStatus};
use crate::fiscal::FiscalQuarter;
use crate::registry::{self, Agency, Deployment, Service};
use crate::responses::{NewImpression, NewResponse};

pub struct SeedPlan {
    pub responses: u64,
    pub deployments: usize,
    pub impressions_per_response: f64,
    pub quarter: FiscalQuarter,
    pub tz: Tz,
}

const INSTRUMENTS: [&str; 3] = ["a11-v2-thumbs", "a11-v2-likert", "a11-v1"];

/// Creates the structure and inserts the rows; returns the deployment ids.
pub fn seed(
    c: &mut AnyConnection,
    defs: &LoadedDefs,
    plan: &SeedPlan,
    progress: impl FnMut(u64),
) -> Result<Vec<String>, String> {
    let mut rng = StdRng::seed_from_u64(280);
    let err = |e: diesel::result::Error| e.to_string();
    let agency = registry::ensure_agency(c, "seed", Some("Seed Agency")).map_err(err)?;
    let channels = vec![
        "website".to_string(),
        "phone".to_string(),
        "in_person".to_string(),
    ];
    let services = seed_services(c, &agency, &channels)?;
    let now = db::now();
    let deps = seed_deployments(c, &mut rng, plan, &agency, &services, &channels, now)?;
    start_bulk_load(c).map_err(err)?;
    seed_responses(c, &mut rng, defs, plan, &deps, progress).map_err(err)?;
    seed_volumes(c, plan, &services, &channels, now).map_err(err)?;
    finish_bulk_load(c).map_err(err)?;
    Ok(deps.into_iter().map(|d| d.id).collect())
}

/// The seed HISP and its five services, found or created.
fn seed_services(
    c: &mut AnyConnection,
    agency: &Agency,
    channels: &[String],
) -> Result<Vec<Service>, String> {
    let err = |e: diesel::result::Error| e.to_string();
    let hisp = match registry::find_hisp(c, &agency.id, "seed-hisp").map_err(err)? {
        Some(h) => h,
        None => registry::create_hisp(c, &agency.id, "seed-hisp", "Seed HISP")
            .map_err(|e| e.to_string())?,
    };
    let mut services = vec![];
    for i in 0..5 {
        let slug = format!("seed-service-{i}");
        let s = match registry::find_service(c, &agency.id, &slug).map_err(err)? {
            Some(s) => s,
            None => {
                registry::create_service(c, &hisp, &slug, &format!("Seed service {i}"), channels)
                    .map_err(|e| e.to_string())?
            }
        };
        services.push(s);
    }
    Ok(services)
}

/// `plan.deployments` new open deployments, round-robin over services, instruments and
/// channels.
fn seed_deployments(
    c: &mut AnyConnection,
    rng: &mut StdRng,
    plan: &SeedPlan,
    agency: &Agency,
    services: &[Service],
    channels: &[String],
    now: NaiveDateTime,
) -> Result<Vec<Deployment>, String> {
    let mut deps = vec![];
    for i in 0..plan.deployments.max(1) {
        let svc = &services[i % services.len()];
        let d = Deployment {
            id: uuid::Uuid::from_u128(rng.random()).to_string(),
            agency_id: agency.id.clone(),
            service_id: svc.id.clone(),
            instrument_id: INSTRUMENTS[i % INSTRUMENTS.len()].to_string(),
            channel: channels[i % channels.len()].clone(),
            transaction_point: format!("Seed transaction point {i}"),
            allowed_origins: "[]".into(),
            status: DeploymentStatus::Open,
            created_at: now,
            updated_at: now,
            access: Access::Open,
            managed_by: None,
        };
        registry::insert_deployment(c, &d).map_err(|e| e.to_string())?;
        deps.push(d);
    }
    Ok(deps)
}

/// Session settings that speed up loading many rows.
fn start_bulk_load(c: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Sqlite(_) = c {
        // Index pages of a large table stay in memory while it grows.
        c.batch_execute("PRAGMA cache_size = -262144")?;
    }
    if let AnyConnection::Postgresql(_) = c {
        // The seeded rows reference deployments made just above, so the per-row foreign-key
        // triggers only cost time (they halve the seed rate). Needs a superuser; without one the
        // seed is just slower.
        if let Err(e) = c.batch_execute("SET session_replication_role = replica") {
            tracing::info!("foreign-key checks stay on during the seed ({e})");
        }
    }
    Ok(())
}

/// `plan.responses` responses with their impressions, spread evenly over the quarter and
/// committed 50,000 at a time; `progress` hears the count after each commit.
fn seed_responses(
    c: &mut AnyConnection,
    rng: &mut StdRng,
    defs: &LoadedDefs,
    plan: &SeedPlan,
    deps: &[Deployment],
    mut progress: impl FnMut(u64),
) -> QueryResult<()> {
    let (start, end) = plan.quarter.bounds(plan.tz);
    let span = (end - start).num_seconds().max(1);
    let start = start.naive_utc();
    let (mut rows, mut imps) = (Vec::with_capacity(1000), Vec::with_capacity(1000));
    // Responses arrive in time order, as live traffic does.
    let step = span as f64 / plan.responses.max(1) as f64;
    let mut done = 0u64;
    while done < plan.responses {
        let batch = (plan.responses - done).min(50_000);
        c.transaction::<_, diesel::result::Error, _>(|c| {
            for k in 0..batch {
                let d = &deps[rng.random_range(0..deps.len())];
                let offset = (done + k) as f64 * step;
                let at = start
                    + Duration::microseconds((offset * 1e6) as i64 + rng.random_range(0..1000));
                rows.push(response(rng, defs, d, at));
                // floor(f) impressions per response, one more with probability fract(f).
                let f = plan.impressions_per_response.max(0.0);
                let extra = rng.random_bool(f.fract()) as u32;
                for _ in 0..(f.floor() as u32 + extra) {
                    imps.push(NewImpression {
                        deployment_id: d.id.clone(),
                        occurred_at: at,
                    });
                }
                if rows.len() == 1000 {
                    flush(c, &mut rows, &mut imps)?;
                }
            }
            flush(c, &mut rows, &mut imps)
        })?;
        done += batch;
        progress(done);
    }
    Ok(())
}

/// Customers per service and channel: four per response.
fn seed_volumes(
    c: &mut AnyConnection,
    plan: &SeedPlan,
    services: &[Service],
    channels: &[String],
    now: NaiveDateTime,
) -> QueryResult<()> {
    for s in services {
        for ch in channels {
            diesel::insert_into(service_volumes::table)
                .values((
                    service_volumes::service_id.eq(&s.id),
                    service_volumes::fiscal_year.eq(plan.quarter.year),
                    service_volumes::quarter.eq(plan.quarter.quarter as i16),
                    service_volumes::channel.eq(ch),
                    service_volumes::volume_of_customers.eq((plan.responses as i64) * 4),
                    service_volumes::updated_at.eq(now),
                ))
                .execute(c)?;
        }
    }
    Ok(())
}

/// Undoes `start_bulk_load` where it lasts, and refreshes the planner's statistics.
fn finish_bulk_load(c: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(_) = c {
        let _ = c.batch_execute("RESET session_replication_role");
    }
    // Fresh statistics (and, on PostgreSQL, a visibility map for index-only scans), as the
    // database's own maintenance would leave them.
    match c {
        AnyConnection::Sqlite(_) => c.batch_execute("ANALYZE"),
        // One statement per call: several in one would run as a transaction, where VACUUM cannot.
        AnyConnection::Postgresql(_) => c
            .batch_execute("VACUUM ANALYZE responses")
            .and_then(|_| c.batch_execute("VACUUM ANALYZE impressions")),
    }
}

fn flush(
    c: &mut AnyConnection,
    rows: &mut Vec<NewResponse>,
    imps: &mut Vec<NewImpression>,
) -> QueryResult<()> {
    if !rows.is_empty() {
        db_run!(c, c => diesel::insert_into(responses::table).values(&*rows).execute(c))?;
        rows.clear();
    }
    for chunk in imps.chunks(5000) {
        db_run!(c, c => diesel::insert_into(impressions::table).values(chunk).execute(c))?;
    }
    imps.clear();
    Ok(())
}

fn response(rng: &mut StdRng, defs: &LoadedDefs, d: &Deployment, at: NaiveDateTime) -> NewResponse {
    let ins = defs.current(&d.instrument_id).expect("shipped instrument");
    let thumbs = d.instrument_id == "a11-v2-thumbs";
    let trust: i16 = if thumbs {
        rng.random_range(0..=1)
    } else {
        rng.random_range(1..=5)
    };
    let positive = if thumbs { trust == 1 } else { trust >= 4 };
    let mask = rng.random_range(0..128) & rng.random_range(0..128);
    let v1 = d.instrument_id == "a11-v1";
    let score = |rng: &mut StdRng| v1.then(|| rng.random_range(1..=5));
    let status = match rng.random_range(0..100) {
        0 => ResponseStatus::Spam,
        1 => ResponseStatus::Test,
        _ => ResponseStatus::Counted,
    };
    NewResponse {
        id: uuid::Uuid::from_u128(rng.random()).to_string(),
        deployment_id: d.id.clone(),
        instrument_id: ins.id.clone(),
        instrument_version: ins.version,
        submission_id: None,
        external_id: None,
        submitted_at: at,
        locale: "en".into(),
        channel: d.channel.clone(),
        source: "seed".into(),
        status,
        trust: Some(trust),
        drivers_positive: if positive && !v1 { mask } else { 0 },
        drivers_negative: if !positive && !v1 { mask } else { 0 },
        comment: rng
            .random_bool(0.2)
            .then(|| "Synthetic comment for load testing.".to_string()),
        v1_satisfaction: score(rng),
        v1_effectiveness: score(rng),
        v1_ease: score(rng),
        v1_efficiency: score(rng),
        v1_transparency: score(rng),
        v1_employee: score(rng),
        answers: "{}".into(),
        page_url: None,
    }
}
