//! `builds`, `builds:output`: what `git push` built, and the full build log.

use chrono::Utc;
use clap::{Args, Subcommand};
use paas_wire::Build;

use crate::context::{AppArg, app_path};
use crate::output::{self, Table};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List an app's builds, newest first
    #[command(name = "builds")]
    List(AppArg),
    /// Print a build's whole output [default: the newest build]
    #[command(name = "builds:output")]
    Output(OutputArgs),
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The build id
    #[arg(value_name = "BUILD_ID")]
    pub id: Option<uuid::Uuid>,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::List(app) => list(ctx, app).await,
        Command::Output(args) => show_output(ctx, args).await,
    }
}

async fn fetch(ctx: &Context, app: &paas_core::AppName) -> Result<(serde_json::Value, Vec<Build>)> {
    let raw = ctx.client.get(&app_path(app, "/builds")).await?;
    let mut builds: Vec<Build> = ctx.decode(raw.clone())?;
    builds.sort_by_key(|b| std::cmp::Reverse(b.created_at));
    Ok((raw, builds))
}

async fn list(ctx: &Context, app: AppArg) -> Result<()> {
    let app = app.resolve().await?;
    let (raw, builds) = fetch(ctx, &app).await?;
    if ctx.json {
        return ctx.print_json(&raw);
    }
    if builds.is_empty() {
        return ctx.print(&format!("{app} has no builds yet: git push paas main\n"));
    }
    let now = Utc::now();
    let mut table = Table::with_header(["id", "status", "commit", "created"]);
    for b in &builds {
        let commit = b.source_blob.version.as_deref().unwrap_or("");
        table.row([
            b.id.to_string(),
            b.status.clone(),
            commit[..commit.len().min(7)].to_owned(),
            output::timestamp(b.created_at, now),
        ]);
    }
    ctx.print(&format!(
        "{}\n{}",
        output::heading(format!("{app} Builds")),
        table.render()
    ))
}

async fn show_output(ctx: &Context, args: OutputArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let id = match args.id {
        Some(id) => id,
        None => {
            let (_, builds) = fetch(ctx, &app).await?;
            builds
                .first()
                .map(|b| b.id)
                .ok_or_else(|| Error::Refused(format!("{app} has no builds yet.")))?
        }
    };
    let text = ctx
        .client
        .get_text(&app_path(&app, &format!("/builds/{id}/output")))
        .await?;
    ctx.print(&text)
}
