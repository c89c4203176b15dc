//! The `cx-survey` command line. Flags win over the environment.

mod defs;
mod invite;
mod keys;
mod report;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::configuration::Settings;

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
    /// The quarterly OMB report: collections, details, response files, v1 counts, JSON and HTML
    Report {
        /// Four-digit federal fiscal year (FY N runs Oct 1 of N-1 to Sep 30 of N)
        #[arg(long)]
        fiscal_year: i32,
        /// Fiscal quarter 1-4
        #[arg(long)]
        quarter: u8,
        /// Only this HISP (slug)
        #[arg(long)]
        hisp: Option<String>,
        /// Output directory (created if missing)
        #[arg(long)]
        out: PathBuf,
    },
    /// Queue email invitations from a CSV file (email,transaction_id,transaction_date,locale),
    /// and/or send what is due now
    Invite {
        /// Deployment id the invitations are for
        #[arg(long, requires = "csv")]
        deployment: Option<String>,
        /// CSV file: header email,transaction_id,transaction_date,locale
        #[arg(long, requires = "deployment")]
        csv: Option<PathBuf>,
        /// Deliver every due invitation now over CX_SMTP_URL, then exit
        #[arg(long)]
        send_now: bool,
    },
    /// Developer tools
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum DevCommand {
    /// Fill the database with a reproducible synthetic quarter (for benchmarks and demos)
    Seed {
        /// Number of responses
        #[arg(long)]
        responses: u64,
        /// Number of deployments (over five services and the three shipped instruments)
        #[arg(long, default_value_t = 50)]
        deployments: usize,
        /// Impressions recorded per response, on average
        #[arg(long, default_value_t = 1.25)]
        impressions_per_response: f64,
        #[arg(long)]
        fiscal_year: i32,
        #[arg(long)]
        quarter: u8,
    },
}

#[derive(Subcommand, Debug)]
pub enum DefsCommand {
    /// Validate instrument and registry files; exit 1 with `file: path: problem` lines
    Check {
        /// Directory to check (default: CX_SURVEY_DEFS or survey-defs)
        dir: Option<PathBuf>,
        /// Also check against the database (DATABASE_URL) what start-up would refuse: registry
        /// entries that would touch another agency's rows, changed instrument versions.
        /// Nothing is written.
        #[arg(long)]
        database: bool,
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
    /// List an agency's keys: id, created, revoked, label (never the key)
    List {
        #[arg(long)]
        agency: String,
    },
    /// Revoke a key by the id `keys list` shows
    Revoke {
        #[arg(long)]
        id: String,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    let mut settings = match settings(cli.database_url, cli.defs, &cli.command) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match cli.command {
        Command::Serve { bind } => {
            if let Some(b) = bind {
                if std::env::var("CX_PUBLIC_URL").is_err() {
                    settings.public_url = format!("http://{b}");
                }
                settings.bind = b;
            }
            serve::serve(settings)
        }
        Command::Defs {
            command: DefsCommand::Check { dir, database },
        } => {
            let dir = dir.unwrap_or(settings.survey_defs.clone());
            defs::check(&dir, database.then_some(&settings))
        }
        Command::Keys {
            command:
                KeysCommand::Create {
                    agency,
                    name,
                    label,
                },
        } => keys::create(&settings, &agency, name.as_deref(), label.as_deref()),
        Command::Keys {
            command: KeysCommand::List { agency },
        } => keys::list(&settings, &agency),
        Command::Keys {
            command: KeysCommand::Revoke { id },
        } => keys::revoke(&settings, &id),
        Command::Report {
            fiscal_year,
            quarter,
            hisp,
            out,
        } => report::report(&settings, fiscal_year, quarter, hisp, &out),
        Command::Invite {
            deployment,
            csv,
            send_now,
        } => invite::invite(&settings, deployment, csv, send_now),
        Command::Dev {
            command:
                DevCommand::Seed {
                    responses,
                    deployments,
                    impressions_per_response,
                    fiscal_year,
                    quarter,
                },
        } => report::dev_seed(
            &settings,
            responses,
            deployments,
            impressions_per_response,
            fiscal_year,
            quarter,
        ),
    }
}

/// The settings from the environment, with the command line's overrides; exit code 2 when
/// the environment is not a valid configuration.
fn settings(
    database_url: Option<String>,
    defs: Option<PathBuf>,
    command: &Command,
) -> Result<Settings, ExitCode> {
    let mut settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return Err(ExitCode::from(2));
        }
    };
    if let Some(u) = database_url {
        settings.database_url = u.into();
    }
    if let Some(d) = defs {
        settings.survey_defs = d;
    }
    if !matches!(command, Command::Serve { .. }) {
        settings.pool_min_idle = 0;
    }
    Ok(settings)
}

pub(crate) fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("{e}");
    ExitCode::FAILURE
}
