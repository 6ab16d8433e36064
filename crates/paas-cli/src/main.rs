//! `paas`, the command-line client. Everything but the process boundary lives in the
//! `paas_cli` library: this file parses the arguments (clap exits 2 on a usage error),
//! reads the environment, runs one command and turns any error into `error: …` on stderr
//! with exit code 1.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use paas_cli::{Cli, Settings};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        // `paas run` forwards the one-off dyno's exit status as its own.
        Err(err) => match err.downcast_ref::<paas_cli::Error>() {
            Some(paas_cli::Error::Exit(code)) => ExitCode::from(u8::try_from(*code).unwrap_or(1)),
            _ => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::from_env()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    let result = runtime.block_on(paas_cli::run(cli, settings));
    // Not waiting for a read of stdin that may never end (`paas pg:psql` on a terminal
    // after the dyno exited: tokio's stdin is a blocking read on a thread of its own).
    runtime.shutdown_background();
    result?;
    Ok(())
}
