//! The aggregate queries. They are plain SQL that reads the same on SQLite and PostgreSQL: the
//! values spliced in are UTC timestamps we format and deployment ids that are UUIDs we issued,
//! never user text, so no placeholders (whose syntax differs per backend) are needed.

use std::collections::BTreeMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, SmallInt, Text};

use crate::db::AnyConnection;

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

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    deployment_id: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    t0: i64,
    #[diesel(sql_type = BigInt)]
    t1: i64,
    #[diesel(sql_type = BigInt)]
    t2: i64,
    #[diesel(sql_type = BigInt)]
    t3: i64,
    #[diesel(sql_type = BigInt)]
    t4: i64,
    #[diesel(sql_type = BigInt)]
    t5: i64,
    #[diesel(sql_type = BigInt)]
    p0: i64,
    #[diesel(sql_type = BigInt)]
    p1: i64,
    #[diesel(sql_type = BigInt)]
    p2: i64,
    #[diesel(sql_type = BigInt)]
    p3: i64,
    #[diesel(sql_type = BigInt)]
    p4: i64,
    #[diesel(sql_type = BigInt)]
    p5: i64,
    #[diesel(sql_type = BigInt)]
    p6: i64,
    #[diesel(sql_type = BigInt)]
    n0: i64,
    #[diesel(sql_type = BigInt)]
    n1: i64,
    #[diesel(sql_type = BigInt)]
    n2: i64,
    #[diesel(sql_type = BigInt)]
    n3: i64,
    #[diesel(sql_type = BigInt)]
    n4: i64,
    #[diesel(sql_type = BigInt)]
    n5: i64,
    #[diesel(sql_type = BigInt)]
    n6: i64,
}

pub fn ts(t: NaiveDateTime) -> String {
    // Exactly how diesel writes timestamps to SQLite ("%F %T%.f"), so text comparison orders
    // them as times; PostgreSQL parses the same literal.
    t.format("%F %T%.f").to_string()
}

/// `status = 'counted'` and the period, plus an optional deployment list.
pub fn counted_in(start: NaiveDateTime, end: NaiveDateTime, ids: Option<&[String]>) -> String {
    let mut w = format!(
        "status = 'counted' AND submitted_at >= '{}' AND submitted_at < '{}'",
        ts(start),
        ts(end)
    );
    if let Some(ids) = ids {
        let list: Vec<String> = ids
            .iter()
            .filter(|i| uuid::Uuid::parse_str(i).is_ok())
            .map(|i| format!("'{i}'"))
            .collect();
        if list.is_empty() {
            w.push_str(" AND 1 = 0");
        } else {
            w.push_str(&format!(" AND deployment_id IN ({})", list.join(", ")));
        }
    }
    w
}

/// One pass over the period's counted responses, grouped by deployment.
pub fn counts(
    c: &mut AnyConnection,
    start: NaiveDateTime,
    end: NaiveDateTime,
    ids: Option<&[String]>,
) -> QueryResult<BTreeMap<String, Counts>> {
    let mut cols = vec!["deployment_id".to_string(), "COUNT(*) AS n".to_string()];
    for v in 0..6 {
        cols.push(format!(
            "SUM(CASE WHEN trust = {v} THEN 1 ELSE 0 END) AS t{v}"
        ));
    }
    for (list, col) in [("p", "drivers_positive"), ("n", "drivers_negative")] {
        for bit in 0..7 {
            cols.push(format!(
                "SUM(CASE WHEN ({col} & {}) <> 0 THEN 1 ELSE 0 END) AS {list}{bit}",
                1 << bit
            ));
        }
    }
    let sql = format!(
        "SELECT {} FROM responses WHERE {} GROUP BY deployment_id",
        cols.join(", "),
        counted_in(start, end, ids)
    );
    let rows: Vec<Row> = diesel::sql_query(sql).load(c)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let counts = Counts {
                n: r.n,
                trust: [r.t0, r.t1, r.t2, r.t3, r.t4, r.t5],
                positive: [r.p0, r.p1, r.p2, r.p3, r.p4, r.p5, r.p6],
                negative: [r.n0, r.n1, r.n2, r.n3, r.n4, r.n5, r.n6],
            };
            (r.deployment_id, counts)
        })
        .collect())
}

#[derive(QueryableByName)]
struct ScoreRow {
    #[diesel(sql_type = Text)]
    deployment_id: String,
    #[diesel(sql_type = Nullable<SmallInt>)]
    value: Option<i16>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// v1 per-question counts at each scale point: (deployment, question key) → [n1..n5].
pub fn v1_counts(
    c: &mut AnyConnection,
    start: NaiveDateTime,
    end: NaiveDateTime,
    ids: &[String],
) -> QueryResult<BTreeMap<(String, String), [i64; 5]>> {
    let mut out: BTreeMap<(String, String), [i64; 5]> = BTreeMap::new();
    let columns = [
        ("trust", "trust"),
        ("satisfaction", "v1_satisfaction"),
        ("effectiveness", "v1_effectiveness"),
        ("ease", "v1_ease"),
        ("efficiency", "v1_efficiency"),
        ("transparency", "v1_transparency"),
        ("employee", "v1_employee"),
    ];
    for (key, col) in columns {
        let sql = format!(
            "SELECT deployment_id, {col} AS value, COUNT(*) AS n FROM responses WHERE {} AND {col} IS NOT NULL GROUP BY deployment_id, {col}",
            counted_in(start, end, Some(ids))
        );
        for r in diesel::sql_query(sql).load::<ScoreRow>(c)? {
            if let Some(v @ 1..=5) = r.value {
                out.entry((r.deployment_id, key.to_string())).or_default()[v as usize - 1] += r.n;
            }
        }
    }
    Ok(out)
}
