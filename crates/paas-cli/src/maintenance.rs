//! `maintenance`, `maintenance:on`, `maintenance:off`: while on, the router answers the
//! app's visitors with a 503 maintenance page; its dynos keep running (for migrations).

use clap::Subcommand;
use paas_wire::{App, AppUpdate};

use crate::context::{AppArg, app_path};
use crate::output::Action;
use crate::{Context, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show whether the app is in maintenance mode
    #[command(name = "maintenance")]
    Show(AppArg),
    /// Put the app in maintenance mode: visitors get a maintenance page
    #[command(name = "maintenance:on")]
    On(AppArg),
    /// Take the app out of maintenance mode
    #[command(name = "maintenance:off")]
    Off(AppArg),
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    let (app, on) = match cmd {
        Command::Show(app) => {
            let app = app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "")).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let info: App = ctx.decode(raw)?;
            return ctx.print(if info.maintenance { "on\n" } else { "off\n" });
        }
        Command::On(app) => (app, true),
        Command::Off(app) => (app, false),
    };
    let app = app.resolve().await?;
    let what = if on { "Enabling" } else { "Disabling" };
    let action = Action::start(format!("{what} maintenance mode for {app}"));
    let body = AppUpdate {
        maintenance: Some(on),
        ..AppUpdate::default()
    };
    let raw = ctx.client.patch(&app_path(&app, ""), &body).await?;
    action.done();
    if ctx.json {
        ctx.print_json(&raw)?;
    }
    Ok(())
}
