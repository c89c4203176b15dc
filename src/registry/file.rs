//! Registry files in `survey-defs/` (`"kind": "registry"`): agencies, HISPs, services and
//! deployments declared in git and applied at start, for GitOps-style setups.

use std::collections::BTreeSet;

use diesel::prelude::*;
use serde::Deserialize;

use super::{is_channel, parse_origin, Agency, Deployment};
use crate::db::schema::{deployments, hisps, services};
use crate::db::{self, AnyConnection};
use crate::domain::{Access, AgencyId, DeploymentStatus};
use crate::survey::is_slug;

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
    #[serde(default = "default_status")]
    pub status: String,
    /// `open` (default) or `invitation`.
    #[serde(default = "default_access")]
    pub access: String,
}

fn default_status() -> String {
    DeploymentStatus::Open.to_string()
}

fn default_access() -> String {
    Access::Open.to_string()
}

impl DeploymentDecl {
    /// The declared status; `check` names any other word before anything is applied.
    pub fn status(&self) -> Option<DeploymentStatus> {
        DeploymentStatus::parse(&self.status)
    }

    /// The declared access; `check` names any other word before anything is applied.
    pub fn access(&self) -> Option<Access> {
        Access::parse(&self.access)
    }
}

/// Problems in one registry file, as (json-path, what is wrong). References must resolve
/// within the registry files and instruments being loaded.
pub fn check(
    reg: &RegistryFile,
    all: &[&RegistryFile],
    has_instrument: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out = vec![];
    let mut add = |p: String, m: String| out.push((p, m));
    if reg.kind != "registry" {
        add("$.kind".into(), "must be \"registry\"".into());
    }
    check_agencies(reg, &mut add);
    check_hisps(reg, all, &mut add);
    check_services(reg, &mut add);
    for (i, d) in reg.deployments.iter().enumerate() {
        check_deployment(reg, all, has_instrument, i, d, &mut add);
    }
    out
}

/// Where `check` reports a problem: (json-path, what is wrong).
type Add<'a> = dyn FnMut(String, String) + 'a;

fn check_agencies(reg: &RegistryFile, add: &mut Add) {
    for (i, a) in reg.agencies.iter().enumerate() {
        if !is_slug(&a.slug) {
            add(
                format!("$.agencies[{i}].slug"),
                "must be lowercase a-z, 0-9 and -".into(),
            );
        }
    }
}

/// HISPs: slugs, and an agency declared in any of the files (`all`).
fn check_hisps(reg: &RegistryFile, all: &[&RegistryFile], add: &mut Add) {
    let agencies: BTreeSet<&str> = all
        .iter()
        .flat_map(|r| r.agencies.iter().map(|a| a.slug.as_str()))
        .collect();
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
}

/// Services: slugs, a HISP of this file, and OMB channels.
fn check_services(reg: &RegistryFile, add: &mut Add) {
    for (i, s) in reg.services.iter().enumerate() {
        if !is_slug(&s.slug) {
            add(
                format!("$.services[{i}].slug"),
                "must be lowercase a-z, 0-9 and -".into(),
            );
        }
        if let Err(e) = reg.agency_of_hisp(&s.hisp) {
            add(format!("$.services[{i}].hisp"), e);
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
}

/// Deployment `i`: its instrument, a service of this file using its channel, its fields, and
/// an id declared once across all files.
fn check_deployment(
    reg: &RegistryFile,
    all: &[&RegistryFile],
    has_instrument: &dyn Fn(&str) -> bool,
    i: usize,
    d: &DeploymentDecl,
    add: &mut Add,
) {
    let at = format!("$.deployments[{i}]");
    if !has_instrument(&d.instrument) {
        add(
            format!("{at}.instrument"),
            format!("no instrument {:?}", d.instrument),
        );
    }
    match reg.service(&d.service) {
        Err(e) => add(format!("{at}.service"), e),
        Ok(s) if !s.channels.contains(&d.channel) => add(
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
    if d.status().is_none() {
        add(
            format!("{at}.status"),
            "must be \"open\" or \"closed\"".into(),
        );
    }
    if d.access().is_none() {
        add(
            format!("{at}.access"),
            "must be \"open\" or \"invitation\"".into(),
        );
    }
    let declared = all
        .iter()
        .flat_map(|r| r.deployments.iter())
        .filter(|o| o.id == d.id)
        .count();
    if declared > 1 {
        add(
            format!("{at}.id"),
            format!("deployment {} is declared more than once", d.id),
        );
    }
}

impl RegistryFile {
    /// The agency slug of a HISP declared in this file. References resolve inside the file,
    /// never by a slug that another agency may use too.
    pub fn agency_of_hisp(&self, hisp: &str) -> Result<&str, String> {
        let mut agencies: Vec<&str> = self
            .hisps
            .iter()
            .filter(|h| h.slug == hisp)
            .map(|h| h.agency.as_str())
            .collect();
        agencies.dedup();
        match agencies.as_slice() {
            [one] => Ok(one),
            [] => Err(format!("no HISP {hisp:?} is declared in this file")),
            _ => Err(format!(
                "HISP {hisp:?} is declared under several agencies in this file"
            )),
        }
    }

    /// The service declared in this file under `slug`, if exactly one agency declares it.
    pub fn service(&self, slug: &str) -> Result<&ServiceDecl, String> {
        let found: Vec<&ServiceDecl> = self.services.iter().filter(|s| s.slug == slug).collect();
        let agencies: BTreeSet<&str> = found
            .iter()
            .filter_map(|s| self.agency_of_hisp(&s.hisp).ok())
            .collect();
        match (found.first(), agencies.len()) {
            (None, _) => Err(format!("no service {slug:?} is declared in this file")),
            (Some(_), n) if n > 1 || found.len() > 1 => Err(format!(
                "service {slug:?} is declared more than once in this file"
            )),
            (Some(s), _) => Ok(s),
        }
    }

    /// The agency slug a deployment belongs to: its service's HISP's agency, in this file.
    fn agency_of_deployment(&self, d: &DeploymentDecl) -> Option<&str> {
        let service = self.service(&d.service).ok()?;
        self.agency_of_hisp(&service.hisp).ok()
    }
}

pub fn apply_registry(
    conn: &mut AnyConnection,
    file: &str,
    reg: &RegistryFile,
    problems: &mut Vec<String>,
) -> QueryResult<()> {
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
        apply_service(conn, reg, s)?;
    }
    // Rows record the file's name, not where this server keeps it.
    let name = std::path::Path::new(file)
        .file_name()
        .map_or(file.into(), |n| n.to_string_lossy());
    for (i, d) in reg.deployments.iter().enumerate() {
        if let Err(problem) = apply_deployment(conn, reg, &name, d)? {
            problems.push(format!("{file}: $.deployments[{i}].id: {problem}"));
        }
    }
    Ok(())
}

/// The agency a registry entry belongs to, resolved through the file's own declarations.
fn agency_named(conn: &mut AnyConnection, slug: Option<&str>) -> QueryResult<Option<Agency>> {
    match slug {
        Some(slug) => super::find_agency_by_slug(conn, slug),
        None => Ok(None),
    }
}

fn apply_service(conn: &mut AnyConnection, reg: &RegistryFile, s: &ServiceDecl) -> QueryResult<()> {
    let Some(agency) = agency_named(conn, reg.agency_of_hisp(&s.hisp).ok())? else {
        return Ok(());
    };
    let Some(hisp) = super::find_hisp(conn, &agency.id, &s.hisp)? else {
        return Ok(());
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
    Ok(())
}

/// Creates or updates one declared deployment inside its own agency. A deployment id that
/// already belongs to another agency is a problem (the inner `Err`), never re-pointed.
fn apply_deployment(
    conn: &mut AnyConnection,
    reg: &RegistryFile,
    file: &str,
    d: &DeploymentDecl,
) -> QueryResult<Result<(), String>> {
    let Some(agency) = agency_named(conn, reg.agency_of_deployment(d))? else {
        return Ok(Ok(()));
    };
    let Some(service) = super::find_service(conn, &agency.id, &d.service)? else {
        return Ok(Ok(()));
    };
    let (Some(status), Some(access)) = (d.status(), d.access()) else {
        return Ok(Ok(()));
    };
    let id = d.id.to_string();
    let owner: Option<AgencyId> = deployments::table
        .find(&id)
        .select(deployments::agency_id)
        .first(conn)
        .optional()?;
    let origins: Vec<String> = d
        .allowed_origins
        .iter()
        .filter_map(|o| parse_origin(o).ok())
        .collect();
    let origins = serde_json::to_string(&origins).unwrap_or_default();
    let now = db::now();
    match owner {
        Some(owner) if owner != agency.id => {
            return Ok(Err(format!(
                "deployment {id} already belongs to another agency; a registry entry may only declare deployments of its own agency ({:?})",
                agency.slug
            )))
        }
        Some(_) => {
            diesel::update(deployments::table.find(&id))
                .set((
                    deployments::service_id.eq(&service.id),
                    deployments::instrument_id.eq(&d.instrument),
                    deployments::channel.eq(&d.channel),
                    deployments::transaction_point.eq(&d.transaction_point),
                    deployments::allowed_origins.eq(&origins),
                    deployments::status.eq(status),
                    deployments::access.eq(access),
                    deployments::managed_by.eq(file),
                    deployments::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        None => super::insert_deployment(
            conn,
            &Deployment {
                id,
                agency_id: agency.id,
                service_id: service.id,
                instrument_id: d.instrument.clone(),
                channel: d.channel.clone(),
                transaction_point: d.transaction_point.clone(),
                allowed_origins: origins,
                status,
                created_at: now,
                updated_at: now,
                access,
                managed_by: Some(file.to_string()),
            },
        )?,
    }
    Ok(Ok(()))
}
