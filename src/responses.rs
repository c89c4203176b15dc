//! Stored responses and impressions: the rows intake, the CSV import and the seeder write, and
//! the batch insert that stores them (skipping submission_ids already stored). The writer
//! thread's queue in `intake::writer` calls it; so does the import, in its own transaction.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{impressions, responses};
use crate::db::{self, db_run, AnyConnection};
use crate::domain::ResponseStatus;
use crate::intake::answers::ValidAnswers;
use crate::registry::Deployment;
use crate::survey::Instrument;

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = responses, treat_none_as_default_value = false)]
pub struct NewResponse {
    pub id: String,
    pub deployment_id: String,
    pub instrument_id: String,
    pub instrument_version: i32,
    pub submission_id: Option<String>,
    pub external_id: Option<String>,
    pub submitted_at: NaiveDateTime,
    pub locale: String,
    pub channel: String,
    pub source: String,
    pub status: ResponseStatus,
    pub trust: Option<i16>,
    pub drivers_positive: i32,
    pub drivers_negative: i32,
    pub comment: Option<String>,
    pub v1_satisfaction: Option<i16>,
    pub v1_effectiveness: Option<i16>,
    pub v1_ease: Option<i16>,
    pub v1_efficiency: Option<i16>,
    pub v1_transparency: Option<i16>,
    pub v1_employee: Option<i16>,
    pub answers: String,
    pub page_url: Option<String>,
}

impl NewResponse {
    /// A new counted response to `deployment` with validated answers, submitted now, in the
    /// instrument's default locale; callers fill in what their channel knows.
    pub fn counted(
        deployment: &Deployment,
        ins: &Instrument,
        source: &str,
        a: ValidAnswers,
    ) -> Self {
        NewResponse {
            id: uuid::Uuid::now_v7().to_string(),
            deployment_id: deployment.id.clone(),
            instrument_id: ins.id.clone(),
            instrument_version: ins.version,
            submission_id: None,
            external_id: None,
            submitted_at: db::now(),
            locale: ins.locales[0].clone(),
            channel: deployment.channel.clone(),
            source: source.into(),
            status: ResponseStatus::Counted,
            trust: a.trust,
            drivers_positive: a.drivers_positive,
            drivers_negative: a.drivers_negative,
            comment: a.comment,
            v1_satisfaction: a.v1[0],
            v1_effectiveness: a.v1[1],
            v1_ease: a.v1[2],
            v1_efficiency: a.v1[3],
            v1_transparency: a.v1[4],
            v1_employee: a.v1[5],
            answers: a.canonical,
            page_url: None,
        }
    }
}

#[derive(Insertable, Clone, Debug)]
#[diesel(table_name = impressions)]
pub struct NewImpression {
    pub deployment_id: String,
    pub occurred_at: NaiveDateTime,
}

/// What happened to a submitted response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stored {
    Created(String),
    /// The same submission_id was stored before: its id.
    Duplicate(String),
}

/// Inserts the new responses (skipping submission_ids already stored) and impressions.
pub fn insert_batch(
    conn: &mut AnyConnection,
    rows: &[NewResponse],
    imps: &[NewImpression],
) -> QueryResult<Vec<Stored>> {
    let (unique, slots) = first_of_each_submission(rows);
    let inserted = insert_new(conn, &unique)?;
    let existing = stored_before(conn, &unique, &inserted)?;
    let outcomes = slots
        .into_iter()
        .map(|(i, repeat)| outcome(&unique[i], repeat, &inserted, &existing))
        .collect::<QueryResult<Vec<_>>>()?;
    for chunk in imps.chunks(1000) {
        db_run!(conn, c => diesel::insert_into(impressions::table).values(chunk).execute(c))?;
    }
    Ok(outcomes)
}

/// The same submission_id twice in one batch: the first is stored, the others repeat it.
/// Returns the rows to store and, for each of `rows`, its row among them and whether it
/// repeats an earlier one.
fn first_of_each_submission(rows: &[NewResponse]) -> (Vec<NewResponse>, Vec<(usize, bool)>) {
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::new();
    let mut unique: Vec<NewResponse> = Vec::with_capacity(rows.len());
    let mut slots = Vec::with_capacity(rows.len());
    for r in rows {
        let key = r
            .submission_id
            .as_deref()
            .map(|s| (r.deployment_id.as_str(), s));
        match key.and_then(|k| first_of.get(&k)) {
            Some(&i) => slots.push((i, true)),
            None => {
                if let Some(k) = key {
                    first_of.insert(k, unique.len());
                }
                slots.push((unique.len(), false));
                unique.push(r.clone());
            }
        }
    }
    (unique, slots)
}

/// Stores the rows not stored before; the ids of those it stored.
fn insert_new(conn: &mut AnyConnection, unique: &[NewResponse]) -> QueryResult<HashSet<String>> {
    // One statement stores the new rows and names them; a row it skipped was already stored.
    // (Multi-row INSERT does not compile through the multi-backend connection; the SQL is the
    // same on both, so dispatch to the inner connection.)
    let mut inserted: HashSet<String> = HashSet::with_capacity(unique.len());
    for chunk in unique.chunks(500) {
        let ids: Vec<String> = db_run!(conn, c => diesel::insert_into(responses::table)
            .values(chunk)
            .on_conflict_do_nothing()
            .returning(responses::id)
            .get_results(c))?;
        inserted.extend(ids);
    }
    Ok(inserted)
}

/// The ids already stored under the submission_ids of the rows the insert skipped, by
/// (deployment, submission_id).
fn stored_before(
    conn: &mut AnyConnection,
    unique: &[NewResponse],
    inserted: &HashSet<String>,
) -> QueryResult<HashMap<(String, String), String>> {
    let skipped: Vec<&str> = unique
        .iter()
        .filter(|r| !inserted.contains(&r.id))
        .filter_map(|r| r.submission_id.as_deref())
        .collect();
    let mut existing: HashMap<(String, String), String> = HashMap::new();
    if !skipped.is_empty() {
        let found: Vec<(String, Option<String>, String)> = responses::table
            .filter(responses::submission_id.eq_any(&skipped))
            .select((
                responses::deployment_id,
                responses::submission_id,
                responses::id,
            ))
            .load(conn)?;
        for (dep, sub, id) in found {
            if let Some(sub) = sub {
                existing.insert((dep, sub), id);
            }
        }
    }
    Ok(existing)
}

/// What became of one row: stored now (or repeating a row stored now), or stored before.
fn outcome(
    r: &NewResponse,
    repeat: bool,
    inserted: &HashSet<String>,
    existing: &HashMap<(String, String), String>,
) -> QueryResult<Stored> {
    if inserted.contains(&r.id) {
        let id = r.id.clone();
        return Ok(if repeat {
            Stored::Duplicate(id)
        } else {
            Stored::Created(id)
        });
    }
    let key = (
        r.deployment_id.clone(),
        r.submission_id.clone().unwrap_or_default(),
    );
    match existing.get(&key) {
        Some(id) => Ok(Stored::Duplicate(id.clone())),
        // Skipped for another unique key (an imported external_id): the caller decides.
        None => Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            Box::new(format!("response {} conflicts with a stored one", r.id)),
        )),
    }
}
