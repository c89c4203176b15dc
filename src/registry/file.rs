//! Registry files in `survey-defs/` (`"kind": "registry"`): agencies, HISPs, services and
//! deployments declared in git and applied at start, for GitOps-style setups.

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::Deserialize;

use super::{is_channel, parse_origin, Deployment};
use crate::db::schema::{deployments, hisps, instruments, services};
use crate::db::{self, AnyConnection};
use crate::survey::is_slug;
use crate::survey::LoadedDefs;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub kind: String,
    #[serde(default)]
    pub agencies: Vec<AgencyDecl>,
    #[serde(default)]
    pub hisps: Vec<HispDecl>,
    #[serde(default)]
    pub services: Vec<ServiceDecl>,
    #[serde(default)]
    pub deployments: Vec<DeploymentDecl>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgencyDecl {
    pub slug: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HispDecl {
    pub slug: String,
    pub name: String,
    pub agency: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceDecl {
    pub slug: String,
    pub name: String,
    pub hisp: String,
    pub channels: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeploymentDecl {
    pub id: uuid::Uuid,
    pub instrument: String,
    pub service: String,
    pub channel: String,
    pub transaction_point: String,
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default = "open")]
    pub status: String,
}

fn open() -> String {
    "open".into()
}

/// Problems in one registry file, as (json-path, what is wrong). References must resolve
/// within the registry files and instruments being loaded.
pub fn check(reg: &RegistryFile, defs: &LoadedDefs) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut add = |p: String, m: String| out.push((p, m));
    if reg.kind != "registry" {
        add("$.kind".into(), "must be \"registry\"".into());
    }
    let all = || defs.registries.iter().map(|(_, r)| r);
    let agencies: BTreeSet<&str> = all()
        .flat_map(|r| r.agencies.iter().map(|a| a.slug.as_str()))
        .collect();
    let hisps: BTreeSet<&str> = all()
        .flat_map(|r| r.hisps.iter().map(|h| h.slug.as_str()))
        .collect();
    for (i, a) in reg.agencies.iter().enumerate() {
        if !is_slug(&a.slug) {
            add(
                format!("$.agencies[{i}].slug"),
                "must be lowercase a-z, 0-9 and -".into(),
            );
        }
    }
    for (i, h) in reg.hisps.iter().enumerate() {
        if !is_slug(&h.slug) {
            add(
                format!("$.hisps[{i}].slug"),
                "must be lowercase a-z, 0-9 and -".into(),
            );
        }
        if !agencies.contains(h.agency.as_str()) {
            add(
                format!("$.hisps[{i}].agency"),
                format!("no agency {:?} is declared", h.agency),
            );
        }
    }
    for (i, s) in reg.services.iter().enumerate() {
        if !is_slug(&s.slug) {
            add(
                format!("$.services[{i}].slug"),
                "must be lowercase a-z, 0-9 and -".into(),
            );
        }
        if !hisps.contains(s.hisp.as_str()) {
            add(
                format!("$.services[{i}].hisp"),
                format!("no HISP {:?} is declared", s.hisp),
            );
        }
        if s.channels.is_empty() {
            add(
                format!("$.services[{i}].channels"),
                "must list at least one channel".into(),
            );
        }
        for (j, c) in s.channels.iter().enumerate() {
            if !is_channel(c) {
                add(
                    format!("$.services[{i}].channels[{j}]"),
                    format!("{c:?} is not an OMB channel"),
                );
            }
        }
    }
    for (i, d) in reg.deployments.iter().enumerate() {
        let at = format!("$.deployments[{i}]");
        if defs.current(&d.instrument).is_none() {
            add(
                format!("{at}.instrument"),
                format!("no instrument {:?}", d.instrument),
            );
        }
        let service = all()
            .flat_map(|r| r.services.iter())
            .find(|s| s.slug == d.service);
        match service {
            None => add(
                format!("{at}.service"),
                format!("no service {:?} is declared", d.service),
            ),
            Some(s) if !s.channels.contains(&d.channel) => add(
                format!("{at}.channel"),
                format!("service {:?} does not use channel {:?}", s.slug, d.channel),
            ),
            _ => {}
        }
        if d.transaction_point.trim().is_empty() {
            add(
                format!("{at}.transaction_point"),
                "must not be empty".into(),
            );
        }
        for (j, o) in d.allowed_origins.iter().enumerate() {
            if let Err(e) = parse_origin(o) {
                add(format!("{at}.allowed_origins[{j}]"), e);
            }
        }
        if !matches!(d.status.as_str(), "open" | "closed") {
            add(
                format!("{at}.status"),
                "must be \"open\" or \"closed\"".into(),
            );
        }
    }
    out
}

/// Records every instrument version and applies the registry files, in one transaction.
/// A stored version whose content differs from its file is refused: a PRA-cleared instrument
/// that changes needs a new version.
pub fn apply(conn: &mut AnyConnection, defs: &LoadedDefs) -> Result<(), String> {
    conn.transaction::<_, diesel::result::Error, _>(|conn| {
        let mut problems = vec![];
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
        if !problems.is_empty() {
            return Err(diesel::result::Error::QueryBuilderError(problems.join("\n").into()));
        }
        for (_, reg) in &defs.registries {
            apply_registry(conn, reg)?;
        }
        Ok(())
    })
    .map_err(|e| e.to_string())
}

fn apply_registry(conn: &mut AnyConnection, reg: &RegistryFile) -> QueryResult<()> {
    for a in &reg.agencies {
        super::ensure_agency(conn, &a.slug, Some(&a.name))?;
    }
    for h in &reg.hisps {
        let agency = super::ensure_agency(conn, &h.agency, None)?;
        match super::find_hisp(conn, &agency.id, &h.slug)? {
            Some(existing) => {
                diesel::update(hisps::table.find(&existing.id))
                    .set(hisps::name.eq(&h.name))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(hisps::table)
                    .values(&super::Hisp {
                        id: super::new_id(),
                        agency_id: agency.id,
                        slug: h.slug.clone(),
                        name: h.name.clone(),
                        created_at: db::now(),
                    })
                    .execute(conn)?;
            }
        }
    }
    for s in &reg.services {
        let agency_slug = reg
            .hisps
            .iter()
            .find(|h| h.slug == s.hisp)
            .map(|h| h.agency.as_str());
        let Some(agency) = agency_slug
            .map(|a| super::find_agency_by_slug(conn, a))
            .transpose()?
            .flatten()
        else {
            continue;
        };
        let Some(hisp) = super::find_hisp(conn, &agency.id, &s.hisp)? else {
            continue;
        };
        let channels = serde_json::to_string(&s.channels).unwrap_or_default();
        match super::find_service(conn, &agency.id, &s.slug)? {
            Some(existing) => {
                diesel::update(services::table.find(&existing.id))
                    .set((
                        services::name.eq(&s.name),
                        services::hisp_id.eq(&hisp.id),
                        services::channels.eq(&channels),
                    ))
                    .execute(conn)?;
            }
            None => {
                diesel::insert_into(services::table)
                    .values(&super::Service {
                        id: super::new_id(),
                        agency_id: agency.id.clone(),
                        hisp_id: hisp.id.clone(),
                        slug: s.slug.clone(),
                        name: s.name.clone(),
                        channels,
                        created_at: db::now(),
                    })
                    .execute(conn)?;
            }
        }
    }
    for d in &reg.deployments {
        let service: Option<super::Service> = services::table
            .filter(services::slug.eq(&d.service))
            .select(super::Service::as_select())
            .first(conn)
            .optional()?;
        let Some(service) = service else { continue };
        let origins: Vec<String> = d
            .allowed_origins
            .iter()
            .filter_map(|o| parse_origin(o).ok())
            .collect();
        let now = db::now();
        let row = Deployment {
            id: d.id.to_string(),
            agency_id: service.agency_id.clone(),
            service_id: service.id.clone(),
            instrument_id: d.instrument.clone(),
            channel: d.channel.clone(),
            transaction_point: d.transaction_point.clone(),
            allowed_origins: serde_json::to_string(&origins).unwrap_or_default(),
            status: d.status.clone(),
            created_at: now,
            updated_at: now,
        };
        let exists: Option<String> = deployments::table
            .find(&row.id)
            .select(deployments::id)
            .first(conn)
            .optional()?;
        if exists.is_some() {
            diesel::update(deployments::table.find(&row.id))
                .set((
                    deployments::service_id.eq(&row.service_id),
                    deployments::instrument_id.eq(&row.instrument_id),
                    deployments::channel.eq(&row.channel),
                    deployments::transaction_point.eq(&row.transaction_point),
                    deployments::allowed_origins.eq(&row.allowed_origins),
                    deployments::status.eq(&row.status),
                    deployments::updated_at.eq(now),
                ))
                .execute(conn)?;
        } else {
            super::insert_deployment(conn, &row)?;
        }
    }
    Ok(())
}
