//! `keys create | list | revoke`: agency API keys.

use std::process::ExitCode;

use secrecy::ExposeSecret;

use super::fail;
use crate::configuration::Settings;
use crate::startup::prepare;

pub fn create(
    settings: &Settings,
    agency: &str,
    name: Option<&str>,
    label: Option<&str>,
) -> ExitCode {
    let result = prepare(settings)
        .map_err(|e| e.to_string())
        .and_then(|(pool, _, _)| {
            let mut conn = pool.get().map_err(|e| e.to_string())?;
            crate::admin::create_key(&mut conn, agency, name, label)
        });
    match result {
        Ok(key) => {
            eprintln!("New API key for agency {agency:?}. It is shown only once; store it in a secret manager.");
            println!("{key}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// `keys list`: id, created, revoked and label of each of the agency's keys.
pub fn list(settings: &Settings, agency: &str) -> ExitCode {
    admin(settings, |c| {
        for (id, created, revoked, label) in crate::admin::list_keys(c, agency)? {
            let state = revoked
                .map(|r| format!("revoked {r}"))
                .unwrap_or("active".into());
            println!(
                "{id}\tcreated {created}\t{state}\t{}",
                label.unwrap_or_default()
            );
        }
        Ok(())
    })
}

/// `keys revoke`.
pub fn revoke(settings: &Settings, id: &str) -> ExitCode {
    admin(settings, |c| {
        crate::admin::revoke_key(c, id)?;
        println!("revoked {id}");
        Ok(())
    })
}

fn admin(
    settings: &Settings,
    f: impl FnOnce(&mut crate::db::AnyConnection) -> Result<(), String>,
) -> ExitCode {
    let (pool, _) = match crate::db::connect_pool(settings.database_url.expose_secret(), 2, 0) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    let mut c = match pool.get() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match f(&mut c) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}
