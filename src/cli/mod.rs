//! The `cx-survey` command line. Flags win over the environment; `--help` lists every setting
//! with its variable and default (`settings`). Usage mistakes exit 2 (clap), configuration
//! errors exit 2, failures 1; every error goes to stderr.

mod defs;
mod explain;
mod invite;
mod keys;
mod report;
mod serve;
mod settings;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use settings::SettingsArgs;

/// Below every command's help: the one variable that is not a setting.
const LOGS_HELP: &str = "Logs: JSON lines on stderr, one object per line with a request id, \
    filtered by RUST_LOG [default: info]. On a terminal, `report` and `invite --send-now` print \
    plain lines instead.";

#[derive(Parser, Debug)]
#[command(
    name = "cx-survey",
    version,
    about = "Post-transaction CX surveys for federal HISPs (OMB A-11 Section 280)",
    after_help = LOGS_HELP
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Migrate the database, load survey-defs/ and serve HTTP
    /// (the address is --bind / CX_BIND)
    #[command(after_help = LOGS_HELP)]
    Serve,
    /// Survey definition files
    #[command(after_help = LOGS_HELP)]
    Defs {
        #[command(subcommand)]
        command: DefsCommand,
    },
    /// Admin API keys
    #[command(after_help = LOGS_HELP)]
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The quarterly OMB report: collections, details, response files, v1 counts, JSON and HTML
    #[command(after_help = LOGS_HELP)]
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
    #[command(after_help = LOGS_HELP)]
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
    /// Probe a running server's `/readyz` (for a container HEALTHCHECK or a probe): exit 0 if
    /// it answers 200 within 3 seconds, 1 otherwise
    #[command(after_help = LOGS_HELP)]
    Healthcheck {
        /// Server to probe (default: http:// + --bind / CX_BIND, an unspecified address probed on
        /// loopback)
        #[arg(long)]
        url: Option<String>,
    },
    /// Who may use an agency's staff console (roles: viewer, manager, admin)
    #[command(after_help = LOGS_HELP)]
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
    /// Developer tools
    #[command(after_help = LOGS_HELP)]
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
    /// Print the database's plans for the staff console's responses page queries
    Explain {
        /// The agency whose responses are read (the seed's is `seed`)
        #[arg(long)]
        agency: String,
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

#[derive(Subcommand, Debug)]
pub enum UsersCommand {
    /// Give a person a role in an agency (replacing their role there), creating the agency if new
    Grant {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        email: String,
        /// viewer, manager or admin
        #[arg(long)]
        role: String,
    },
    /// Take a person's role in an agency away; their sessions there end at the next request
    Revoke {
        #[arg(long)]
        agency: String,
        #[arg(long)]
        email: String,
    },
    /// One line per person: email, role, last sign-in
    List {
        #[arg(long)]
        agency: String,
    },
    /// Print a single-use console sign-in URL for a person with a role (last line), valid 15
    /// minutes: works with or without an identity provider
    Link {
        #[arg(long)]
        email: String,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    // Needs no configuration beyond CX_BIND: a probe must not fail on an unrelated setting.
    if let Command::Healthcheck { url } = &cli.command {
        let bind = cli.settings.bind.as_deref().unwrap_or_default();
        return crate::healthcheck::run(url.as_deref(), bind);
    }
    let mut settings = match cli.settings.settings() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if !matches!(cli.command, Command::Serve) {
        settings.pool_min_idle = 0;
    }
    match cli.command {
        Command::Serve => serve::serve(settings),
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
        Command::Users { command } => match command {
            UsersCommand::Grant {
                agency,
                email,
                role,
            } => users::grant(&settings, &agency, &email, &role),
            UsersCommand::Revoke { agency, email } => users::revoke(&settings, &agency, &email),
            UsersCommand::List { agency } => users::list(&settings, &agency),
            UsersCommand::Link { email } => users::link(&settings, &email),
        },
        Command::Healthcheck { .. } => unreachable!("handled above"),
        Command::Dev { command } => dev(&settings, command),
    }
}

fn dev(settings: &crate::configuration::Settings, command: DevCommand) -> ExitCode {
    match command {
        DevCommand::Seed {
            responses,
            deployments,
            impressions_per_response,
            fiscal_year,
            quarter,
        } => report::dev_seed(
            settings,
            responses,
            deployments,
            impressions_per_response,
            fiscal_year,
            quarter,
        ),
        DevCommand::Explain {
            agency,
            fiscal_year,
            quarter,
        } => explain::dev_explain(settings, &agency, fiscal_year, quarter),
    }
}

/// Logs of the one-shot commands (`report`, `invite --send-now`): today's JSON lines off a
/// terminal (cron, CI, a log collector), plain lines on one, warnings and errors only unless
/// `RUST_LOG` says otherwise. Returns whether stderr is a terminal.
pub(crate) fn init_one_shot_logs() -> bool {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        crate::telemetry::init();
        return false;
    }
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .without_time()
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    true
}

pub(crate) fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("{e}");
    ExitCode::FAILURE
}
