//! `git:remote`: point a git remote of the current repository at an app, so that
//! `git push paas main` deploys it.
//!
//! The remote holds the app's plain `git_url`. git authenticates with HTTP basic auth,
//! the API token as the password, read from `~/.netrc` (`machine <host> login paas
//! password <token>`); a token written into the URL would end up in `.git/config` and
//! in the output of `git remote -v`.

use clap::{Args, Subcommand};
use paas_core::AppName;
use paas_wire::App;

use crate::context::{AppArg, app_path};
use crate::repo::{self, RemoteChange};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Add (or update) a git remote for an app
    #[command(name = "git:remote")]
    Remote(RemoteArgs),
}

#[derive(Debug, Args)]
pub struct RemoteArgs {
    /// The app [default: the app of an existing `paas` or `heroku` remote]
    #[arg(short, long, value_name = "APP", value_parser = AppName::parse)]
    pub app: Option<AppName>,
    /// Name of the git remote to add or update
    #[arg(short, long, value_name = "REMOTE", default_value = repo::DEFAULT_REMOTE)]
    pub remote: String,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Remote(args) => remote(ctx, args).await,
    }
}

async fn remote(ctx: &Context, args: RemoteArgs) -> Result<()> {
    if !repo::inside_work_tree().await {
        return Err(Error::Refused(
            "not in a git repository: run git:remote inside your app's repository".to_owned(),
        ));
    }
    let app = match args.app {
        Some(app) => app,
        None => AppArg::default().resolve().await?,
    };
    let raw = ctx.client.get(&app_path(&app, "")).await?;
    let found: App = ctx.decode(raw.clone())?;
    let change = repo::set_remote(&args.remote, &found.git_url).await?;
    let verb = match change {
        RemoteChange::Added => "added",
        RemoteChange::Updated => "updated",
        RemoteChange::Unchanged => "already set",
    };
    eprintln!("Git remote {} {verb}: {}", args.remote, found.git_url);
    if ctx.json {
        ctx.print_json(&raw)?;
    }
    Ok(())
}
