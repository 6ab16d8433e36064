//! The `paas` command-line client as a library: argument definitions, the API client,
//! and one module per Heroku-style topic (`apps`, `config`, `releases`, `ps`, `git`).
//!
//! The binary (`src/main.rs`) only parses arguments, reads the environment into
//! [`Settings`] and calls [`run`]. Its behaviour depends on nothing else than the
//! arguments, `PAAS_API_URL`, `PAAS_API_TOKEN`, `HOME` (for `~/.netrc`) and the current
//! directory (for the git remote that names the app), so end-to-end tests can drive it
//! as a subprocess.
//!
//! Adding a topic (`logs`, `run`, `domains`, …) is one new module with a clap
//! `Subcommand` enum and an async `run`, plus one variant in [`cli::Command`] and one arm
//! in [`run`].

pub mod addons;
pub mod apps;
pub mod auth;
pub mod buildpacks;
pub mod builds;
pub mod certs;
pub mod cli;
pub mod client;
pub mod config;
pub mod context;
pub mod domains;
mod error;
pub mod git;
pub mod logs;
pub mod maintenance;
pub mod netrc;
pub mod output;
pub mod pg;
pub mod ps;
pub mod releases;
pub mod repo;
pub mod run;
pub mod settings;

pub use cli::Cli;
pub use client::{ApiError, Client};
pub use context::Context;
pub use error::{Error, Result};
pub use settings::Settings;

/// Runs one parsed command line against the API that `settings` names.
pub async fn run(cli: Cli, settings: Settings) -> Result<()> {
    let ctx = Context::new(Client::new(&settings)?, cli.json);
    match cli.command {
        cli::Command::Apps(cmd) => apps::run(&ctx, cmd).await,
        cli::Command::Config(cmd) => config::run(&ctx, cmd).await,
        cli::Command::Releases(cmd) => releases::run(&ctx, cmd).await,
        cli::Command::Ps(cmd) => ps::run(&ctx, cmd).await,
        cli::Command::Git(cmd) => git::run(&ctx, cmd).await,
        cli::Command::Builds(cmd) => builds::run(&ctx, cmd).await,
        cli::Command::Buildpacks(cmd) => buildpacks::run(&ctx, cmd).await,
        cli::Command::Run(cmd) => run::run(&ctx, cmd).await,
        cli::Command::Domains(cmd) => domains::run(&ctx, cmd).await,
        cli::Command::Addons(cmd) => addons::run(&ctx, cmd).await,
        cli::Command::Pg(cmd) => pg::run(&ctx, cmd).await,
        cli::Command::Certs(cmd) => certs::run(&ctx, cmd).await,
        cli::Command::Logs(cmd) => logs::run(&ctx, cmd).await,
        cli::Command::Maintenance(cmd) => maintenance::run(&ctx, cmd).await,
        cli::Command::Auth(cmd) => auth::run(&ctx, &settings, cmd).await,
    }
}
