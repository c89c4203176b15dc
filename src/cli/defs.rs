//! `defs check`: validate the definitions directory, optionally against the database. Problems
//! go to stderr, the `ok:` line to stdout.

use std::process::ExitCode;

use secrecy::ExposeSecret;

use crate::configuration::Settings;
use crate::definitions::load_dir;

pub fn check(dir: &std::path::Path, database: Option<&Settings>) -> ExitCode {
    match load_dir(dir) {
        Ok(defs) => {
            for w in defs.expiry_warnings(chrono::Utc::now().date_naive()) {
                eprintln!("warning: {w}");
            }
            if let Some(settings) = database {
                match defs_against_database(settings, &defs) {
                    Ok(problems) if problems.is_empty() => {}
                    Ok(problems) => {
                        for p in problems {
                            eprintln!("{p}");
                        }
                        return ExitCode::FAILURE;
                    }
                    Err(e) => {
                        eprintln!("{e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            let versions: usize = defs.instruments.values().map(Vec::len).sum();
            println!(
                "ok: {} instruments ({versions} versions), {} registry files in {}",
                defs.instruments.len(),
                defs.registries.len(),
                dir.display()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn defs_against_database(
    settings: &Settings,
    defs: &crate::definitions::LoadedDefs,
) -> Result<Vec<String>, String> {
    let (pool, _) = crate::db::connect_pool(settings.database_url.expose_secret(), 1, 0)
        .map_err(|e| e.to_string())?;
    let mut conn = pool.get().map_err(|e| e.to_string())?;
    crate::definitions::store::problems_against(&mut conn, defs)
}
