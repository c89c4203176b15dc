//! The aggregate queries, one deployment at a time so each is a range scan of the covering
//! index `responses_report` (deployment, time, status, answers), spread over two connections.
//! They are plain SQL that reads the same on SQLite and PostgreSQL: the values spliced in are
//! UTC timestamps we format and deployment ids that are UUIDs we issued (re-checked here),
//! never user text, so no placeholders (whose syntax differs per backend) are needed.

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
    /// Times each driver (in `DRIVERS` order) was chosen on the positive / negative list.
    pub positive: [i64; 7],
    pub negative: [i64; 7],
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
    #[diesel(sql_type = Nullable<SmallInt>)]
    trust: Option<i16>,
    #[diesel(sql_type = Integer)]
    pos: i32,
    #[diesel(sql_type = Integer)]
    neg: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Counted responses per deployment in `[start, end)`. The database counts each combination
/// of (trust, positive drivers, negative drivers); the bits are summed here from those few rows.
pub fn counts(
    pool: &Pool,
    start: NaiveDateTime,
    end: NaiveDateTime,
    ids: &[String],
) -> Result<BTreeMap<String, Counts>, ReportError> {
    let all = per_deployment(pool, ids, |c, id| {
        let Some(w) = counted_in(id, start, end) else {
            return Ok(Counts::default());
        };
        let sql = format!(
            "SELECT trust, drivers_positive AS pos, drivers_negative AS neg, COUNT(*) AS n FROM responses WHERE {w} GROUP BY trust, drivers_positive, drivers_negative"
        );
        let mut k = Counts::default();
        for r in diesel::sql_query(sql).load::<Combo>(c)? {
            k.n += r.n;
            if let Some(t @ 0..=5) = r.trust {
                k.trust[t as usize] += r.n;
            }
            for bit in 0..7 {
                if r.pos & (1 << bit) != 0 {
                    k.positive[bit] += r.n;
                }
                if r.neg & (1 << bit) != 0 {
                    k.negative[bit] += r.n;
                }
            }
        }
        Ok(k)
    })?;
    Ok(all.into_iter().filter(|(_, k)| k.n > 0).collect())
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

#[derive(QueryableByName)]
struct Score {
    #[diesel(sql_type = Nullable<SmallInt>)]
    value: Option<i16>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// v1 per-question counts at each scale point: deployment → question key → [n1..n5].
pub fn v1_counts(
    pool: &Pool,
    start: NaiveDateTime,
    end: NaiveDateTime,
    ids: &[String],
) -> Result<BTreeMap<String, BTreeMap<String, [i64; 5]>>, ReportError> {
    per_deployment(pool, ids, |c, id| {
        let mut out = BTreeMap::new();
        let Some(w) = counted_in(id, start, end) else {
            return Ok(out);
        };
        for (key, col) in V1_QUESTIONS {
            let sql = format!("SELECT {col} AS value, COUNT(*) AS n FROM responses WHERE {w} AND {col} IS NOT NULL GROUP BY {col}");
            let mut scale = [0i64; 5];
            for r in diesel::sql_query(sql).load::<Score>(c)? {
                if let Some(v @ 1..=5) = r.value {
                    scale[v as usize - 1] += r.n;
                }
            }
            out.insert(key.to_string(), scale);
        }
        Ok(out)
    })
}
