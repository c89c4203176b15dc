//! The definitions in the database: every instrument version ever loaded (`instruments`,
//! read back so stored responses keep their definition) and the registry files applied, in one
//! transaction at start.

use diesel::prelude::*;

use super::LoadedDefs;
use crate::db::schema::{deployments, instruments};
use crate::db::{self, AnyConnection};
use crate::registry::file::apply_registry;

/// Records every instrument version and applies the registry files, in one transaction: any
/// problem rolls all of it back. A stored version whose content differs from its file is
/// refused (a PRA-cleared instrument that changes needs a new version), and so is a registry
/// entry that would touch another agency's row.
pub fn apply(conn: &mut AnyConnection, defs: &LoadedDefs) -> Result<(), String> {
    let mut problems = vec![];
    let result = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        apply_all(conn, defs, &mut problems)?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(diesel::result::Error::RollbackTransaction)
        }
    });
    match result {
        Ok(()) => Ok(()),
        Err(_) if !problems.is_empty() => Err(problems.join("\n")),
        Err(e) => Err(e.to_string()),
    }
}

/// What `apply` would refuse, found by applying and always rolling back (`defs check
/// --database`): nothing is written.
pub fn problems_against(
    conn: &mut AnyConnection,
    defs: &LoadedDefs,
) -> Result<Vec<String>, String> {
    let mut problems = vec![];
    let result = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        apply_all(conn, defs, &mut problems)?;
        Err(diesel::result::Error::RollbackTransaction)
    });
    match result {
        Err(diesel::result::Error::RollbackTransaction) | Ok(()) => Ok(problems),
        Err(e) => Err(e.to_string()),
    }
}

fn apply_all(
    conn: &mut AnyConnection,
    defs: &LoadedDefs,
    problems: &mut Vec<String>,
) -> QueryResult<()> {
    record_instruments(conn, defs, problems)?;
    release_undeclared(conn, defs)?;
    for (file, reg) in &defs.registries {
        apply_registry(conn, file, reg, problems)?;
    }
    Ok(())
}

fn record_instruments(
    conn: &mut AnyConnection,
    defs: &LoadedDefs,
    problems: &mut Vec<String>,
) -> QueryResult<()> {
    for ins in defs.instruments.values().flatten() {
        let stored: Option<String> = instruments::table
            .find((&ins.id, ins.version))
            .select(instruments::content_hash)
            .first(conn)
            .optional()?;
        match stored {
            Some(h) if h == ins.content_hash => {}
            Some(_) => problems.push(format!(
                "{} version {}: content differs from the version already stored; a changed instrument needs a new version",
                ins.id, ins.version
            )),
            None => {
                diesel::insert_into(instruments::table)
                    .values((
                        instruments::id.eq(&ins.id),
                        instruments::version.eq(ins.version),
                        instruments::content_hash.eq(&ins.content_hash),
                        instruments::definition.eq(serde_json::to_string(ins).unwrap_or_default()),
                        instruments::loaded_at.eq(db::now()),
                    ))
                    .execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Every instrument version recorded in the database, as it was recorded. A row that no
/// longer parses (written by another release) is left out with a warning.
pub fn stored_instruments(
    conn: &mut AnyConnection,
) -> QueryResult<std::collections::BTreeMap<(String, i32), crate::survey::Instrument>> {
    let rows: Vec<(String, i32, String)> = instruments::table
        .select((
            instruments::id,
            instruments::version,
            instruments::definition,
        ))
        .load(conn)?;
    let mut out = std::collections::BTreeMap::new();
    for (id, version, definition) in rows {
        match serde_json::from_str(&definition) {
            Ok(ins) => {
                out.insert((id, version), ins);
            }
            Err(e) => tracing::warn!(%id, version, error = %e, "stored instrument not readable"),
        }
    }
    Ok(out)
}

/// A deployment no registry file declares any more is managed through the API again.
fn release_undeclared(conn: &mut AnyConnection, defs: &LoadedDefs) -> QueryResult<()> {
    let declared: Vec<String> = defs
        .registries
        .iter()
        .flat_map(|(_, r)| r.deployments.iter().map(|d| d.id.to_string()))
        .collect();
    diesel::update(
        deployments::table
            .filter(deployments::managed_by.is_not_null())
            .filter(deployments::id.ne_all(declared)),
    )
    .set(deployments::managed_by.eq(None::<String>))
    .execute(conn)
    .map(|_| ())
}
