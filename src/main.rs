use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cx_survey::cli::run(cx_survey::cli::Cli::parse())
}
