//! Writing the report directory: the OMB CSV files, one response file per deployment
//! (streamed in keyset pages, two time slices at once), `report.json` and `report.html`.

use std::collections::HashMap;
use std::fs;
use std::io::{BufWriter, IsTerminal};
use std::path::Path;
use std::sync::Mutex;

use chrono::NaiveDateTime;
use chrono_tz::Tz;
use diesel::prelude::*;
use indicatif::{ProgressBar, ProgressStyle};

use super::upload::{csv_safe, driver_cells_static, offered_masks, UPLOAD_HEADER};
use super::{Collection, Detail, Report, Scope, V1Row};
use crate::db::schema::responses;
use crate::db::{db_run, AnyConnection, Pool};
use crate::definitions::LoadedDefs;
use crate::domain::ResponseStatus;
use crate::fiscal::FiscalQuarter;

const PAGE: i64 = 50_000;

pub const COLLECTIONS_HEADER: [&str; 10] = [
    "fiscal_year",
    "quarter",
    "hisp",
    "hisp_name",
    "service",
    "service_name",
    "volume_of_respondents",
    "trust_positive",
    "trust_responses",
    "trust_score",
];

pub const DETAILS_HEADER: [&str; 21] = [
    "fiscal_year",
    "quarter",
    "hisp",
    "service",
    "deployment_id",
    "channel",
    "transaction_point",
    "omb_control_number",
    "federal_register_url",
    "survey_title",
    "survey_type",
    "trust_question_text",
    "volume_of_customers",
    "volume_of_customers_provided_survey_opportunity",
    "volume_of_respondents",
    "trust_positive",
    "trust_negative",
    "trust_neutral",
    "trust_score",
    "trust_score_ci_low",
    "trust_score_ci_high",
];

pub const V1_HEADER: [&str; 12] = [
    "standardized_question_number",
    "standardized_question_identifier",
    "customized_question_text",
    "likert_scale_1",
    "likert_scale_2",
    "likert_scale_3",
    "likert_scale_4",
    "likert_scale_5",
    "response_volume",
    "notes",
    "start_date",
    "end_date",
];

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("database: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("writing {0}: {1}")]
    Io(String, std::io::Error),
    #[error("writing CSV: {0}")]
    Csv(#[from] csv::Error),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |e| ReportError::Io(path.display().to_string(), e)
}

fn opt(x: Option<f64>) -> String {
    x.map(|v| format!("{v:.1}")).unwrap_or_default()
}

/// Builds the report and writes every file of it into `out`.
pub fn write_report(
    pool: &Pool,
    defs: &LoadedDefs,
    fq: FiscalQuarter,
    tz: Tz,
    scope: &Scope,
    out: &Path,
) -> Result<Report, ReportError> {
    let t0 = std::time::Instant::now();
    let report = super::build(pool, defs, fq, tz, scope)?;
    tracing::info!(
        seconds = t0.elapsed().as_secs_f64(),
        "report: aggregates built"
    );
    for sub in ["", "responses", "v1"] {
        let d = out.join(sub);
        fs::create_dir_all(&d).map_err(io(&d))?;
    }
    write_csv(
        &out.join("cx_collections.csv"),
        &COLLECTIONS_HEADER,
        report.collections.iter().map(collection_row),
    )?;
    write_csv(
        &out.join("cx_collection_details.csv"),
        &DETAILS_HEADER,
        report.details.iter().map(detail_row),
    )?;
    for t in &report.v1 {
        write_csv(
            &out.join("v1").join(format!("{}.csv", t.deployment_id)),
            &V1_HEADER,
            t.rows.iter().map(v1_row),
        )?;
    }
    let t1 = std::time::Instant::now();
    write_response_files(pool, defs, &report, tz, out)?;
    tracing::info!(
        seconds = t1.elapsed().as_secs_f64(),
        "report: response files written"
    );
    let json_path = out.join("report.json");
    let mut json = serde_json::to_vec_pretty(&report).unwrap_or_default();
    json.push(b'\n');
    fs::write(&json_path, json).map_err(io(&json_path))?;
    let html_path = out.join("report.html");
    fs::write(&html_path, super::html::render(&report)).map_err(io(&html_path))?;
    for f in &report.flags {
        eprintln!("warning: deployment {}: {}", f.deployment_id, f.detail);
    }
    Ok(report)
}

/// A row of `cx_collections.csv`.
fn collection_row(c: &Collection) -> Vec<String> {
    vec![
        c.fiscal_year.to_string(),
        c.quarter.to_string(),
        c.hisp.clone(),
        c.hisp_name.clone(),
        c.service.clone(),
        c.service_name.clone(),
        c.volume_of_respondents.to_string(),
        c.trust_positive.to_string(),
        c.trust_responses.to_string(),
        opt(c.trust_score),
    ]
}

/// A row of `cx_collection_details.csv`.
fn detail_row(d: &Detail) -> Vec<String> {
    vec![
        d.fiscal_year.to_string(),
        d.quarter.to_string(),
        d.hisp.clone(),
        d.service.clone(),
        d.deployment_id.clone(),
        d.channel.clone(),
        d.transaction_point.clone(),
        d.omb_control_number.clone(),
        d.federal_register_url.clone(),
        d.survey_title.clone(),
        d.survey_type.clone(),
        d.trust_question_text.clone(),
        d.volume_of_customers
            .map(|v| v.to_string())
            .unwrap_or_default(),
        d.volume_of_customers_provided_survey_opportunity
            .to_string(),
        d.volume_of_respondents.to_string(),
        d.trust_positive.to_string(),
        d.trust_negative.to_string(),
        d.trust_neutral.to_string(),
        opt(d.trust_score),
        opt(d.trust_score_ci_low),
        opt(d.trust_score_ci_high),
    ]
}

/// A row of a deployment's v1 scale table.
fn v1_row(r: &V1Row) -> Vec<String> {
    let mut row = vec![
        r.standardized_question_number.to_string(),
        r.standardized_question_identifier.clone(),
        r.customized_question_text.clone(),
    ];
    row.extend(r.likert.iter().map(|n| n.to_string()));
    row.extend([
        r.response_volume.to_string(),
        r.notes.clone(),
        r.start_date.clone(),
        r.end_date.clone(),
    ]);
    row
}

fn write_csv(
    path: &Path,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> Result<(), ReportError> {
    let file = fs::File::create(path).map_err(io(path))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    w.write_record(header)?;
    for r in rows {
        w.write_record(r.iter().map(|c| csv_safe(c)))?;
    }
    w.flush().map_err(io(path))?;
    Ok(())
}

/// On a terminal a progress bar; in logs a plain line every million rows.
struct Progress {
    bar: ProgressBar,
    plain: bool,
    done: Mutex<(u64, u64)>,
    total: u64,
}

impl Progress {
    fn new(total: u64) -> Self {
        let plain = !std::io::stderr().is_terminal();
        let bar = if plain {
            ProgressBar::hidden()
        } else {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{spinner} response files {bar:40} {pos}/{len} rows ({per_sec}, eta {eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        };
        Progress {
            bar,
            plain,
            done: Mutex::new((0, 0)),
            total,
        }
    }

    fn add(&self, n: u64) {
        self.bar.inc(n);
        if self.plain {
            let mut d = self.done.lock().unwrap_or_else(|e| e.into_inner());
            d.0 += n;
            if d.0 / 1_000_000 > d.1 / 1_000_000 || d.0 == self.total {
                eprintln!("report: {} of {} response rows written", d.0, self.total);
                d.1 = d.0;
            }
        }
    }
}

/// The quarter's counted responses in submission order, written into one file per deployment.
/// The quarter is cut in two at its middle row and each half is read in keyset pages by its own
/// thread (the second half into part files appended afterwards), so memory holds two pages
/// however large the quarter, and two threads write at once.
fn write_response_files(
    pool: &Pool,
    defs: &LoadedDefs,
    report: &Report,
    tz: Tz,
    out: &Path,
) -> Result<(), ReportError> {
    let fq = FiscalQuarter {
        year: report.fiscal_year,
        quarter: report.quarter,
    };
    let (start, end) = super::utc_bounds(fq, tz);
    let total: i64 = report.details.iter().map(|d| d.volume_of_respondents).sum();
    let progress = Progress::new(total.max(0) as u64);
    let middle = if total >= 20_000 {
        let mut c = pool.get()?;
        responses::table
            .filter(
                responses::submitted_at
                    .ge(start)
                    .and(responses::submitted_at.lt(end)),
            )
            .order((responses::submitted_at, responses::id))
            .select(responses::submitted_at)
            .offset(total / 2)
            .first::<NaiveDateTime>(&mut c)
            .optional()?
            .filter(|m| *m > start)
    } else {
        None
    };
    let slices = match middle {
        Some(m) => vec![(start, m, ""), (m, end, ".part")],
        None => vec![(start, end, "")],
    };
    let progress = &progress;
    std::thread::scope(|s| {
        let workers: Vec<_> = slices
            .iter()
            .map(|&(lo, hi, suffix)| {
                s.spawn(move || write_slice(pool, defs, report, out, lo, hi, suffix, progress))
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("report worker panicked"))
    })?;
    progress.bar.finish_and_clear();
    if middle.is_some() {
        for d in &report.details {
            let path = out.join(&d.response_file);
            let part = out.join(format!("{}.part", d.response_file));
            let mut whole = fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .map_err(io(&path))?;
            let mut tail = fs::File::open(&part).map_err(io(&part))?;
            std::io::copy(&mut tail, &mut whole).map_err(io(&path))?;
            fs::remove_file(&part).map_err(io(&part))?;
        }
    }
    Ok(())
}

/// Writes the rows of `[lo, hi)` to each deployment's file (plus `suffix`); only the first
/// slice writes the header.
#[allow(clippy::too_many_arguments)]
fn write_slice(
    pool: &Pool,
    defs: &LoadedDefs,
    report: &Report,
    out: &Path,
    lo: NaiveDateTime,
    hi: NaiveDateTime,
    suffix: &str,
    progress: &Progress,
) -> Result<(), ReportError> {
    // Per deployment: its file, its instrument, and the offered-driver masks of the instrument
    // version last seen (computed once per version, not per row).
    type Out<'a> = (
        csv::Writer<BufWriter<fs::File>>,
        &'a str,
        std::path::PathBuf,
        Option<(i32, (i32, i32))>,
    );
    let mut files: HashMap<&str, Out> = HashMap::new();
    for d in &report.details {
        let path = out.join(format!("{}{suffix}", d.response_file));
        let file = fs::File::create(&path).map_err(io(&path))?;
        let mut w = csv::Writer::from_writer(BufWriter::with_capacity(128 * 1024, file));
        if suffix.is_empty() {
            w.write_record(UPLOAD_HEADER)?;
        }
        files.insert(
            d.deployment_id.as_str(),
            (w, d.instrument_id.as_str(), path, None),
        );
    }
    let mut c = pool.get()?;
    let mut after: Option<(NaiveDateTime, String)> = None;
    const SCALE: [&str; 6] = ["0", "1", "2", "3", "4", "5"];
    loop {
        let rows = page(&mut c, lo, hi, after.as_ref())?;
        let n = rows.len();
        let last_id = rows.last().map(|r| r.1.clone());
        for (deployment_id, id, external_id, version, trust, pos, neg, comment) in rows {
            // Rows of deployments outside the report (another HISP) are passed over.
            let Some((w, instrument_id, _, masks)) = files.get_mut(deployment_id.as_str()) else {
                continue;
            };
            let offered = match *masks {
                Some((v, m)) if v == version => m,
                _ => {
                    let m = offered_masks(defs.version(instrument_id, version));
                    *masks = Some((version, m));
                    m
                }
            };
            w.write_field(safe(external_id.as_deref().unwrap_or(&id)).as_bytes())?;
            match trust {
                Some(t) if (0..6).contains(&t) => w.write_field(SCALE[t as usize])?,
                Some(t) => w.write_field(t.to_string())?,
                None => w.write_field("")?,
            }
            for cell in driver_cells_static(offered, pos, neg) {
                w.write_field(cell)?;
            }
            w.write_field(safe(comment.as_deref().unwrap_or("")).as_bytes())?;
            w.write_record(std::iter::empty::<&[u8]>())?;
        }
        progress.add(n as u64);
        if (n as i64) < PAGE {
            break;
        }
        // Parsing every row's timestamp costs more than asking for the last one's.
        let Some(id) = last_id else { break };
        let ts = responses::table
            .find(&id)
            .select(responses::submitted_at)
            .first(&mut c)?;
        after = Some((ts, id));
    }
    for (_, (mut w, _, path, _)) in files {
        w.flush().map_err(io(&path))?;
    }
    Ok(())
}

/// Like `csv_safe`, without copying the cells that need nothing.
fn safe(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(csv_safe(cell))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

type UploadRow = (
    String,
    String,
    Option<String>,
    i32,
    Option<i16>,
    i32,
    i32,
    Option<String>,
);

/// The next page of the quarter's counted responses after `after` (time, id).
fn page(
    c: &mut AnyConnection,
    start: NaiveDateTime,
    end: NaiveDateTime,
    after: Option<&(NaiveDateTime, String)>,
) -> QueryResult<Vec<UploadRow>> {
    // The same query on each backend's own connection: rows then skip the multi-backend
    // wrapping, which is a third of the cost at millions of rows.
    db_run!(c, c => {
        let q = responses::table
            .filter(responses::status.eq(ResponseStatus::Counted))
            .filter(responses::submitted_at.lt(end))
            .select((
                responses::deployment_id,
                responses::id,
                responses::external_id,
                responses::instrument_version,
                responses::trust,
                responses::drivers_positive,
                responses::drivers_negative,
                responses::comment,
            ))
            .order((responses::submitted_at, responses::id))
            .limit(PAGE)
            .into_boxed();
        let q = match after {
            None => q.filter(responses::submitted_at.ge(start)),
            Some((ts, id)) => q.filter(responses::submitted_at.ge(*ts)).filter(
                responses::submitted_at
                    .gt(*ts)
                    .or(responses::id.gt(id.clone())),
            ),
        };
        q.load(c)
    })
}
