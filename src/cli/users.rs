//! `users grant | revoke | list | link`: who may use an agency's staff console.

use std::process::ExitCode;

use super::fail;
use crate::configuration::Settings;
use crate::db::AnyConnection;
use crate::domain::{AgencyId, Role};
use crate::startup::prepare;
use crate::{registry, staff};

/// The audit log's name for changes made on the command line.
const CLI_ACTOR: &str = "cli";

/// Runs `f` on a migrated database (a first `users grant` may come before any `serve`).
fn with_db(
    settings: &Settings,
    f: impl FnOnce(&mut AnyConnection) -> Result<(), String>,
) -> ExitCode {
    let result = prepare(settings)
        .map_err(|e| e.to_string())
        .and_then(|(pool, _, _)| {
            let mut c = pool.get().map_err(|e| e.to_string())?;
            f(&mut c)
        });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn agency(c: &mut AnyConnection, slug: &str) -> Result<AgencyId, String> {
    registry::find_agency_by_slug(c, slug)
        .map_err(|e| e.to_string())?
        .map(|a| a.id)
        .ok_or_else(|| format!("no agency {slug:?}"))
}

pub fn grant(settings: &Settings, agency_slug: &str, email: &str, role: &str) -> ExitCode {
    let Some(role) = Role::parse(role) else {
        return fail(format!("--role must be one of {}", Role::words()));
    };
    let email = match staff::parse_email(email) {
        Ok(e) => e,
        Err(e) => return fail(format!("--email: {e}")),
    };
    if !crate::survey::is_slug(agency_slug) {
        return fail(format!(
            "--agency {agency_slug:?} must be a slug: lowercase a-z, 0-9 and -"
        ));
    }
    with_db(settings, |c| {
        let a = registry::ensure_agency(c, agency_slug, None).map_err(|e| e.to_string())?;
        staff::grant(c, &a.id, &email, role, CLI_ACTOR).map_err(|e| e.to_string())?;
        println!("{email} is {role} in {agency_slug}");
        Ok(())
    })
}

pub fn revoke(settings: &Settings, agency_slug: &str, email: &str) -> ExitCode {
    let email = email.trim().to_lowercase();
    with_db(settings, |c| {
        let a = agency(c, agency_slug)?;
        if staff::revoke(c, &a, &email, CLI_ACTOR).map_err(|e| e.to_string())? {
            println!("{email} no longer has a role in {agency_slug}");
            Ok(())
        } else {
            Err(format!("{email} has no role in {agency_slug}"))
        }
    })
}

pub fn list(settings: &Settings, agency_slug: &str) -> ExitCode {
    with_db(settings, |c| {
        let a = agency(c, agency_slug)?;
        for m in staff::members(c, &a).map_err(|e| e.to_string())? {
            let last = m
                .last_sign_in_at
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_else(|| "never".into());
            println!("{}\t{}\t{last}", m.email, m.role);
        }
        Ok(())
    })
}

pub fn link(settings: &Settings, email: &str) -> ExitCode {
    let email = email.trim().to_lowercase();
    with_db(settings, |c| {
        let has_role = staff::find_by_email(c, &email)
            .map_err(|e| e.to_string())?
            .map(|u| staff::memberships(c, &u.id).map(|m| !m.is_empty()))
            .transpose()
            .map_err(|e| e.to_string())?
            .unwrap_or(false);
        if !has_role {
            return Err(format!(
                "{email} has no role in any agency: give one first with `cx-survey users grant`"
            ));
        }
        let token = crate::console::signin::create_link(c, &email).map_err(|e| e.to_string())?;
        eprintln!(
            "A one-time sign-in link for {email}, valid {} minutes:",
            crate::console::signin::LINK_MINUTES
        );
        println!("{}/admin/auth/link/{token}", settings.public_url);
        Ok(())
    })
}
