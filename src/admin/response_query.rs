//! Which responses of an agency match a filter, one keyset page at a time, for the admin API's
//! export and the console's responses page and export.
//!
//! Every page is read in index order, never by sorting all matching rows (a sort per page makes
//! paging through a large quarter quadratic). Two plans, chosen by how much a page may read:
//! - **Merge** (the console's 50-row pages, one deployment's export): one index range per
//!   (deployment, status) on `responses_console (deployment_id, status, submitted_at, id)`,
//!   merged. SQLite merges a `UNION ALL` of the ranges lazily (`MERGE (UNION ALL)`, covering
//!   index); PostgreSQL takes the first `limit` keys of each range (`LATERAL … LIMIT`, index-only)
//!   and sorts those few. Reads at most ranges × limit keys, whatever the table's size.
//! - **Time scan** (a whole agency's export, an agency with hundreds of deployments): one walk of
//!   `responses_time (submitted_at, id)` from the cursor, keeping the agency's deployments.
//!   Linear over the whole export; a page reads past other agencies' rows in its time span.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Array, Text, Timestamp};

/// One stored response as the exports and the console read it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = responses)]
pub struct ResponseRow {
    pub id: String,
    pub deployment_id: String,
    pub instrument_id: String,
    pub instrument_version: i32,
    pub external_id: Option<String>,
    pub submitted_at: chrono::NaiveDateTime,
    pub locale: String,
    pub channel: String,
    pub source: String,
    pub status: ResponseStatus,
    pub trust: Option<i16>,
    pub drivers_positive: i32,
    pub drivers_negative: i32,
    pub comment: Option<String>,
    pub answers: String,
}

use crate::db::schema::{deployments, responses};
use crate::db::AnyConnection;
use crate::domain::{AgencyId, ResponseStatus};

/// The responses an export or a page lists: one agency's, narrowed.
#[derive(Clone, Debug)]
pub struct Filter {
    pub agency_id: AgencyId,
    pub deployment: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    pub status: Option<ResponseStatus>,
    /// Each must occur in the comment, case-insensitively (the console's words search).
    pub words: Vec<String>,
}

/// A row's place in the `(submitted_at, id)` order.
pub type Key = (NaiveDateTime, String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// How many index entries the merge plan may read for one page (ranges × limit); past it the
/// time scan reads less. Also keeps SQLite under its 500-part compound SELECT limit.
const MERGE_BUDGET: usize = 20_000;

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Timestamp)]
    submitted_at: NaiveDateTime,
    #[diesel(sql_type = Text)]
    id: String,
}

enum Bind {
    Text(String),
    Ts(NaiveDateTime),
    Texts(Vec<String>),
}

/// SQL text with `$n` placeholders (both backends accept them) and their values in order.
#[derive(Default)]
struct Sql {
    binds: Vec<Bind>,
}

impl Sql {
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.binds.len())
    }
}

/// `%word%` for LIKE, lowercased, with LIKE's own characters escaped by `\`.
fn like_pattern(word: &str) -> String {
    let mut p = String::from("%");
    for ch in word.to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// The time bounds, words and cursor of one range. The cursor replaces the quarter's bound on
/// its side when it is inside the quarter: SQLite uses only one upper (or lower) bound of an
/// index range, and the row value is the one that skips the pages already read.
fn conditions(s: &mut Sql, f: &Filter, after: Option<&Key>, order: Order) -> String {
    let mut w = String::new();
    let (cursor_side, op) = match order {
        Order::NewestFirst => (f.to, "<"),
        Order::OldestFirst => (f.from, ">"),
    };
    let cursor = after.filter(|(ts, _)| match order {
        Order::NewestFirst => cursor_side.is_none_or(|to| *ts < to),
        Order::OldestFirst => cursor_side.is_none_or(|from| *ts >= from),
    });
    if let Some(from) = f
        .from
        .filter(|_| order == Order::NewestFirst || cursor.is_none())
    {
        w += &format!(" AND r.submitted_at >= {}", s.bind(Bind::Ts(from)));
    }
    if let Some(to) =
        f.to.filter(|_| order == Order::OldestFirst || cursor.is_none())
    {
        w += &format!(" AND r.submitted_at < {}", s.bind(Bind::Ts(to)));
    }
    if let Some((ts, id)) = cursor {
        let (a, b) = (s.bind(Bind::Ts(*ts)), s.bind(Bind::Text(id.clone())));
        w += &format!(" AND (r.submitted_at, r.id) {op} ({a}, {b})");
    }
    for word in &f.words {
        let p = s.bind(Bind::Text(like_pattern(word)));
        w += &format!(" AND lower(r.comment) LIKE {p} ESCAPE '\\'");
    }
    w
}

fn direction(order: Order) -> &'static str {
    match order {
        Order::OldestFirst => "ASC",
        Order::NewestFirst => "DESC",
    }
}

fn statuses(f: &Filter) -> Vec<String> {
    match f.status {
        Some(s) => vec![s.as_str().to_string()],
        None => ResponseStatus::ALL
            .iter()
            .map(|s| s.as_str().to_string())
            .collect(),
    }
}

/// SQLite's merge plan: one `UNION ALL` part per (deployment, status), merged in order.
fn merge_sqlite(
    f: &Filter,
    deps: &[String],
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> Statement {
    let mut s = Sql::default();
    let mut parts = vec![];
    let sts = statuses(f);
    for d in deps {
        for st in &sts {
            let (d, st) = (
                s.bind(Bind::Text(d.clone())),
                s.bind(Bind::Text(st.clone())),
            );
            let cond = conditions(&mut s, f, after, order);
            parts.push(format!(
                "SELECT r.submitted_at AS submitted_at, r.id AS id FROM responses r \
                 WHERE r.deployment_id = {d} AND r.status = {st}{cond}"
            ));
        }
    }
    let dir = direction(order);
    let sql = format!(
        "SELECT submitted_at, id FROM ({}) AS u ORDER BY submitted_at {dir}, id {dir} LIMIT {limit}",
        parts.join(" UNION ALL ")
    );
    s.with_text(sql)
}

/// PostgreSQL's merge plan: the first `limit` keys of each (deployment, status) range.
fn merge_postgres(
    f: &Filter,
    deps: &[String],
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> Statement {
    let mut s = Sql::default();
    let d = s.bind(Bind::Texts(deps.to_vec()));
    let st = s.bind(Bind::Texts(statuses(f)));
    let cond = conditions(&mut s, f, after, order);
    let dir = direction(order);
    let sql = format!(
        "SELECT k.submitted_at, k.id FROM unnest({d}::text[]) AS d(dep) \
         CROSS JOIN unnest({st}::text[]) AS s(st) \
         CROSS JOIN LATERAL (SELECT r.submitted_at, r.id FROM responses r \
           WHERE r.deployment_id = d.dep AND r.status = s.st{cond} \
           ORDER BY r.submitted_at {dir}, r.id {dir} LIMIT {limit}) AS k \
         ORDER BY k.submitted_at {dir}, k.id {dir} LIMIT {limit}"
    );
    s.with_text(sql)
}

/// The time scan: `responses_time` in order, keeping the listed deployments.
fn time_scan(
    f: &Filter,
    deps: &[String],
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> Statement {
    let mut s = Sql::default();
    let list: Vec<String> = deps.iter().map(|d| s.bind(Bind::Text(d.clone()))).collect();
    let mut cond = format!("r.deployment_id IN ({})", list.join(", "));
    if let Some(st) = f.status {
        cond += &format!(" AND r.status = {}", s.bind(Bind::Text(st.as_str().into())));
    }
    cond += &conditions(&mut s, f, after, order);
    let dir = direction(order);
    let sql = format!(
        "SELECT r.submitted_at AS submitted_at, r.id AS id FROM responses r WHERE {cond} \
         ORDER BY r.submitted_at {dir}, r.id {dir} LIMIT {limit}"
    );
    s.with_text(sql)
}

/// A statement ready to run: its text and values.
struct Statement {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn with_text(self, text: String) -> Statement {
        Statement {
            text,
            binds: self.binds,
        }
    }
}

fn run<T>(c: &mut AnyConnection, st: Statement) -> QueryResult<Vec<T>>
where
    T: QueryableByName<diesel::sqlite::Sqlite> + QueryableByName<diesel::pg::Pg> + 'static,
{
    match c {
        AnyConnection::Sqlite(c) => {
            let mut q = diesel::sql_query(st.text).into_boxed::<diesel::sqlite::Sqlite>();
            for b in st.binds {
                q = match b {
                    Bind::Text(t) => q.bind::<Text, _>(t),
                    Bind::Ts(t) => q.bind::<Timestamp, _>(t),
                    // Only the PostgreSQL plan binds arrays.
                    Bind::Texts(_) => return Err(diesel::result::Error::NotFound),
                };
            }
            q.load(c)
        }
        AnyConnection::Postgresql(c) => {
            let mut q = diesel::sql_query(st.text).into_boxed::<diesel::pg::Pg>();
            for b in st.binds {
                q = match b {
                    Bind::Text(t) => q.bind::<Text, _>(t),
                    Bind::Ts(t) => q.bind::<Timestamp, _>(t),
                    Bind::Texts(v) => q.bind::<Array<Text>, _>(v),
                };
            }
            q.load(c)
        }
    }
}

/// The agency's deployments the filter covers (the one named, if it is the agency's).
fn deployment_ids(c: &mut AnyConnection, f: &Filter) -> QueryResult<Vec<String>> {
    let mut q = deployments::table
        .filter(deployments::agency_id.eq(&f.agency_id))
        .select(deployments::id)
        .order(deployments::id)
        .into_boxed();
    if let Some(d) = &f.deployment {
        q = q.filter(deployments::id.eq(d.clone()));
    }
    q.load(c)
}

/// The keys of the next page: up to `limit` matching responses after `after` in `order`.
pub fn keys(
    c: &mut AnyConnection,
    f: &Filter,
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> QueryResult<Vec<Key>> {
    let deps = deployment_ids(c, f)?;
    if deps.is_empty() {
        return Ok(vec![]);
    }
    let st = statement(c, f, &deps, after, order, limit);
    Ok(run::<KeyRow>(c, st)?
        .into_iter()
        .map(|k| (k.submitted_at, k.id))
        .collect())
}

/// The plan `keys` runs for these deployments: merge when the ranges are few, else time scan.
fn statement(
    c: &AnyConnection,
    f: &Filter,
    deps: &[String],
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> Statement {
    let ranges = deps.len() * statuses(f).len();
    let merge = ranges.saturating_mul(limit.max(1) as usize) <= MERGE_BUDGET;
    match (merge, c) {
        (true, AnyConnection::Sqlite(_)) => merge_sqlite(f, deps, after, order, limit),
        (true, AnyConnection::Postgresql(_)) => merge_postgres(f, deps, after, order, limit),
        (false, _) => time_scan(f, deps, after, order, limit),
    }
}

#[derive(QueryableByName)]
struct SqlitePlanLine {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PgPlanLine {
    #[diesel(sql_type = Text)]
    #[diesel(column_name = "QUERY PLAN")]
    line: String,
}

/// The database's plan for the statement `keys` would run (`EXPLAIN QUERY PLAN` on SQLite,
/// `EXPLAIN` on PostgreSQL), one line per step; for `cx-survey dev explain`.
pub fn explain(
    c: &mut AnyConnection,
    f: &Filter,
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let deps = deployment_ids(c, f)?;
    let mut st = statement(c, f, &deps, after, order, limit);
    if matches!(c, AnyConnection::Sqlite(_)) {
        st.text = format!("EXPLAIN QUERY PLAN {}", st.text);
        return Ok(run::<SqlitePlanLine>(c, st)?
            .into_iter()
            .map(|l| l.detail)
            .collect());
    }
    st.text = format!("EXPLAIN {}", st.text);
    Ok(run::<PgPlanLine>(c, st)?
        .into_iter()
        .map(|l| l.line)
        .collect())
}

/// The next page's responses with their deployment's transaction point, in `order`.
pub fn page(
    c: &mut AnyConnection,
    f: &Filter,
    after: Option<&Key>,
    order: Order,
    limit: i64,
) -> QueryResult<Vec<(ResponseRow, String)>> {
    let keys = keys(c, f, after, order, limit)?;
    let mut rows: Vec<(ResponseRow, String)> = Vec::with_capacity(keys.len());
    // Bounded lists: the binds of one statement stay far below either backend's limit.
    for chunk in keys.chunks(1000) {
        let ids: Vec<&str> = chunk.iter().map(|(_, id)| id.as_str()).collect();
        rows.extend(
            responses::table
                .inner_join(deployments::table)
                .filter(responses::id.eq_any(ids))
                .filter(deployments::agency_id.eq(&f.agency_id))
                .select((ResponseRow::as_select(), deployments::transaction_point))
                .load::<(ResponseRow, String)>(c)?,
        );
    }
    // The database's order, not Rust's: PostgreSQL may collate ids differently, and the next
    // page starts after the last key as the database orders them.
    let place: std::collections::HashMap<&str, usize> = keys
        .iter()
        .enumerate()
        .map(|(i, (_, id))| (id.as_str(), i))
        .collect();
    rows.sort_by_key(|(r, _)| place.get(r.id.as_str()).copied());
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_pattern("Form"), "%form%");
        assert_eq!(like_pattern("50%_a\\b"), "%50\\%\\_a\\\\b%");
    }
}
