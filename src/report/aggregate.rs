//! The aggregate queries, one deployment at a time so each is a range scan of the covering
//! index `responses_report` (deployment, time, status, answers), spread over two connections.
//! They are plain SQL that reads the same on SQLite and PostgreSQL. The values spliced in are
//! UTC timestamps we format and deployment ids that are UUIDs we issued (re-checked here),
//! never user text, so splicing them is safe. Bound `$n` parameters would work on both
//! backends too (the outbox binds `$1..$4`); switching would want the report re-measured.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, SmallInt};

use crate::db::{AnyConnection, Pool};
use crate::report::files::ReportError;

/// Counted responses of one deployment in a period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counts {
    pub n: i64,
    /// Responses per trust value 0..=5.
    pub trust: [i64; 6],
    /// The same per instrument version: a value means what the version it answered defines
    /// (a thumbs-up `1` is positive, a 5-point `1` is not).
    pub trust_by_version: BTreeMap<i32, [i64; 6]>,
    /// Times each driver (in `DRIVERS` order) was chosen on the positive / negative list.
    pub positive: [i64; 7],
    pub negative: [i64; 7],
    /// v1 answers per scale point 1..=5, for the `V1_QUESTIONS` after trust.
    pub v1: [[i64; 5]; 6],
}

impl Counts {
    /// Counts at scale points 1..=5 of a v1 question (`trust` included).
    pub fn scale(&self, key: &str) -> [i64; 5] {
        match V1_QUESTIONS.iter().position(|(k, _)| *k == key) {
            Some(0) => [
                self.trust[1],
                self.trust[2],
                self.trust[3],
                self.trust[4],
                self.trust[5],
            ],
            Some(i) => self.v1[i - 1],
            None => [0; 5],
        }
    }
}

pub fn ts(t: NaiveDateTime) -> String {
    // Exactly how diesel writes timestamps to SQLite ("%F %T%.f"), so text comparison orders
    // them as times; PostgreSQL parses the same literal.
    t.format("%F %T%.f").to_string()
}

fn counted_in(id: &str, start: NaiveDateTime, end: NaiveDateTime) -> Option<String> {
    uuid::Uuid::parse_str(id).ok().map(|_| {
        format!(
            "deployment_id = '{id}' AND submitted_at >= '{}' AND submitted_at < '{}' AND status = 'counted'",
            ts(start),
            ts(end)
        )
    })
}

/// Runs `f` for every id on two pooled connections, collecting the results by id.
fn per_deployment<T: Send>(
    pool: &Pool,
    ids: &[String],
    f: impl Fn(&mut AnyConnection, &str) -> QueryResult<T> + Sync,
) -> Result<BTreeMap<String, T>, ReportError> {
    let queue = Mutex::new(ids.iter().collect::<Vec<_>>());
    let out = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..ids.len().clamp(1, 2))
            .map(|_| {
                s.spawn(|| -> Result<(), ReportError> {
                    let mut c = pool.get()?;
                    loop {
                        let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
                        let Some(id) = next else { return Ok(()) };
                        let v = f(&mut c, id)?;
                        out.lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .insert(id.clone(), v);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().expect("aggregate worker panicked"))
    })?;
    Ok(out.into_inner().unwrap_or_else(|e| e.into_inner()))
}

#[derive(QueryableByName)]
struct Combo {
    #[diesel(sql_type = Integer)]
    instrument_version: i32,
    #[diesel(sql_type = Nullable<SmallInt>)]
    trust: Option<i16>,
    #[diesel(sql_type = Integer)]
    pos: i32,
    #[diesel(sql_type = Integer)]
    neg: i32,
    #[diesel(sql_type = Nullable<SmallInt>)]
    v1_satisfaction: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    v1_effectiveness: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    v1_ease: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    v1_efficiency: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    v1_transparency: Option<i16>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    v1_employee: Option<i16>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

const NULL_V1: &str =
    "CAST(NULL AS SMALLINT) AS v1_satisfaction, CAST(NULL AS SMALLINT) AS v1_effectiveness, \
    CAST(NULL AS SMALLINT) AS v1_ease, CAST(NULL AS SMALLINT) AS v1_efficiency, \
    CAST(NULL AS SMALLINT) AS v1_transparency, CAST(NULL AS SMALLINT) AS v1_employee";

/// (select list, group-by list, whether its rows count responses). Narrow groupings sort
/// several times faster than one over every answer column.
fn groupings(v1: bool) -> Vec<(String, &'static str, bool)> {
    if !v1 {
        return vec![(
            format!("instrument_version, trust, drivers_positive AS pos, drivers_negative AS neg, {NULL_V1}"),
            "instrument_version, trust, drivers_positive, drivers_negative",
            true,
        )];
    }
    vec![
        (
            "instrument_version, trust, CAST(0 AS INTEGER) AS pos, CAST(0 AS INTEGER) AS neg, v1_satisfaction, v1_effectiveness, \
             CAST(NULL AS SMALLINT) AS v1_ease, CAST(NULL AS SMALLINT) AS v1_efficiency, \
             CAST(NULL AS SMALLINT) AS v1_transparency, CAST(NULL AS SMALLINT) AS v1_employee"
                .to_string(),
            "instrument_version, trust, v1_satisfaction, v1_effectiveness",
            true,
        ),
        (
            "instrument_version, CAST(NULL AS SMALLINT) AS trust, CAST(0 AS INTEGER) AS pos, CAST(0 AS INTEGER) AS neg, \
             CAST(NULL AS SMALLINT) AS v1_satisfaction, CAST(NULL AS SMALLINT) AS v1_effectiveness, \
             v1_ease, v1_efficiency, v1_transparency, v1_employee"
                .to_string(),
            "instrument_version, v1_ease, v1_efficiency, v1_transparency, v1_employee",
            false,
        ),
    ]
}

/// Counted responses per deployment in `[start, end)`; `v1` names the deployments whose v1
/// scale answers are wanted too. The database counts each distinct combination of answers
/// (a sort of the deployment's index range); per-value and per-driver sums are folded here
/// from those rows, far fewer than the responses.
pub fn counts(
    pool: &Pool,
    start: NaiveDateTime,
    end: NaiveDateTime,
    ids: &[String],
    v1: &[String],
) -> Result<BTreeMap<String, Counts>, ReportError> {
    let all = per_deployment(pool, ids, |c, id| {
        let mut k = Counts::default();
        let Some(w) = counted_in(id, start, end) else {
            return Ok(k);
        };
        for (select, group, counts_rows) in groupings(v1.iter().any(|v| v == id)) {
            let sql =
                format!("SELECT {select}, COUNT(*) AS n FROM responses WHERE {w} GROUP BY {group}");
            for r in diesel::sql_query(sql).load::<Combo>(c)? {
                if counts_rows {
                    k.n += r.n;
                }
                if let Some(t @ 0..=5) = r.trust {
                    k.trust[t as usize] += r.n;
                    k.trust_by_version.entry(r.instrument_version).or_default()[t as usize] += r.n;
                }
                for bit in 0..7 {
                    if r.pos & (1 << bit) != 0 {
                        k.positive[bit] += r.n;
                    }
                    if r.neg & (1 << bit) != 0 {
                        k.negative[bit] += r.n;
                    }
                }
                let v1 = [
                    r.v1_satisfaction,
                    r.v1_effectiveness,
                    r.v1_ease,
                    r.v1_efficiency,
                    r.v1_transparency,
                    r.v1_employee,
                ];
                for (q, v) in v1.iter().enumerate() {
                    if let Some(v @ 1..=5) = v {
                        k.v1[q][*v as usize - 1] += r.n;
                    }
                }
            }
        }
        Ok(k)
    })?;
    Ok(all.into_iter().filter(|(_, k)| k.n > 0).collect())
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Impressions per deployment in `[start, end)`, each a range count on its index.
pub fn impressions(
    pool: &Pool,
    start: NaiveDateTime,
    end: NaiveDateTime,
    ids: &[String],
) -> Result<BTreeMap<String, i64>, ReportError> {
    let all = per_deployment(pool, ids, |c, id| {
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(0);
        }
        let sql = format!(
            "SELECT COUNT(*) AS n FROM impressions WHERE deployment_id = '{id}' AND occurred_at >= '{}' AND occurred_at < '{}'",
            ts(start),
            ts(end)
        );
        Ok(diesel::sql_query(sql).get_result::<Total>(c)?.n)
    })?;
    Ok(all.into_iter().filter(|(_, n)| *n > 0).collect())
}

/// The v1 questions and the columns holding their answers.
pub const V1_QUESTIONS: [(&str, &str); 7] = [
    ("trust", "trust"),
    ("satisfaction", "v1_satisfaction"),
    ("effectiveness", "v1_effectiveness"),
    ("ease", "v1_ease"),
    ("efficiency", "v1_efficiency"),
    ("transparency", "v1_transparency"),
    ("employee", "v1_employee"),
];
