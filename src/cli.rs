//! The `cx-survey` command line. Flags win over the environment.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::configuration::Settings;
use crate::startup::{prepare, Application};
use crate::survey::load_dir;

#[derive(Parser, Debug)]
#[command(
    name = "cx-survey",
    version,
    about = "Post-transaction CX surveys for federal HISPs (OMB A-11 Section 280)"
)]
pub struct Cli {
    /// Database: sqlite://path.db, a bare path, or postgres://… (overrides DATABASE_URL)
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Survey definitions directory (overrides CX_SURVEY_DEFS)
    #[arg(long, global = true)]
    pub defs: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database, load survey-defs/ and serve HTTP
    Serve {
        /// Address to listen on (overrides CX_BIND; default 127.0.0.1:8080)
        #[arg(long)]
        bind: Option<String>,
    },
    /// Survey definition files
    Defs {
        #[command(subcommand)]
        command: DefsCommand,
    },
    /// Admin API keys
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DefsCommand {
    /// Validate instrument and registry files; exit 1 with `file: path: problem` lines
    Check {
        /// Directory to check (default: CX_SURVEY_DEFS or survey-defs)
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Print a new admin API key (last line), creating the agency if it is new
    Create {
        /// Agency slug, e.g. gsa
        #[arg(long)]
        agency: String,
        /// Agency name, when the agency is new or renamed
        #[arg(long)]
        name: Option<String>,
        /// What the key is for, e.g. "CX team laptop"
        #[arg(long)]
        label: Option<String>,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    let mut settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(u) = cli.database_url {
        settings.database_url = u;
    }
    if let Some(d) = cli.defs {
        settings.survey_defs = d;
    }
    match cli.command {
        Command::Serve { bind } => {
            if let Some(b) = bind {
                if std::env::var("CX_PUBLIC_URL").is_err() {
                    settings.public_url = format!("http://{b}");
                }
                settings.bind = b;
            }
            serve(settings)
        }
        Command::Defs {
            command: DefsCommand::Check { dir },
        } => defs_check(&dir.unwrap_or(settings.survey_defs)),
        Command::Keys {
            command:
                KeysCommand::Create {
                    agency,
                    name,
                    label,
                },
        } => keys_create(&settings, &agency, name.as_deref(), label.as_deref()),
    }
}

fn serve(settings: Settings) -> ExitCode {
    crate::telemetry::init();
    let result = actix_web::rt::System::new().block_on(async move {
        let app = Application::build(settings)
            .await
            .map_err(|e| e.to_string())?;
        app.run_until_stopped().await.map_err(|e| e.to_string())
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn defs_check(dir: &std::path::Path) -> ExitCode {
    match load_dir(dir) {
        Ok(defs) => {
            for w in defs.expiry_warnings(chrono::Utc::now().date_naive()) {
                eprintln!("warning: {w}");
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
                println!("{e}");
            }
            ExitCode::FAILURE
        }
    }
}

fn keys_create(
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
