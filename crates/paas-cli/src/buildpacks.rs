//! `buildpacks`, `buildpacks:set`, `buildpacks:clear`: an app's own buildpack.
//!
//! Like Dokku, paas keeps it in the `BUILDPACK_URL` config var (a git URL, `#ref`
//! allowed, or an absolute path on the paas server); the next push builds with it.

use std::collections::BTreeMap;

use clap::{Args, Subcommand};
use paas_wire::ConfigVars;

use crate::context::{AppArg, app_path};
use crate::output::Action;
use crate::{Context, Result};

const BUILDPACK_URL: &str = "BUILDPACK_URL";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the app's buildpack
    #[command(name = "buildpacks")]
    Show(AppArg),
    /// Build the app with this buildpack from the next push on
    #[command(name = "buildpacks:set")]
    Set(SetArgs),
    /// Go back to detecting the bundled buildpacks
    #[command(name = "buildpacks:clear")]
    Clear(AppArg),
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// A git URL (https://…/buildpack.git#v1) or an absolute path on the paas server
    #[arg(value_name = "URL")]
    pub url: String,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Show(app) => {
            let app = app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "/config-vars")).await?;
            let config: ConfigVars = ctx.decode(raw)?;
            let url = config.get(BUILDPACK_URL).cloned();
            if ctx.json {
                return ctx.print_json(&serde_json::json!({ "buildpack_url": url }));
            }
            match url {
                Some(url) => ctx.print(&format!("{app} is built with {url}\n")),
                None => ctx.print(&format!(
                    "{app} uses the bundled buildpacks (python, nodejs, static, procfile), or its Dockerfile\n"
                )),
            }
        }
        Command::Set(args) => {
            let app = args.app.resolve().await?;
            let action = Action::start(format!("Setting the buildpack of {app} to {}", args.url));
            let body = BTreeMap::from([(BUILDPACK_URL, Some(args.url))]);
            ctx.client
                .patch(&app_path(&app, "/config-vars"), &body)
                .await?;
            action.done_with("the next push builds with it");
            Ok(())
        }
        Command::Clear(app) => {
            let app = app.resolve().await?;
            let action = Action::start(format!("Clearing the buildpack of {app}"));
            let body = BTreeMap::from([(BUILDPACK_URL, None::<String>)]);
            ctx.client
                .patch(&app_path(&app, "/config-vars"), &body)
                .await?;
            action.done();
            Ok(())
        }
    }
}
