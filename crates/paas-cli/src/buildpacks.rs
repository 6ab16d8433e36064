//! `buildpacks`, `buildpacks:add`, `:remove`, `:set`, `:clear`: the app's buildpack list,
//! run in order at every build, as Heroku's commands edit it: read the list
//! (`GET /apps/{app}/buildpack-installations`), change it here, and `PUT` it back whole.
//! A buildpack is a bundled one by name (`heroku/nodejs`, `python`), a git URL
//! (`https://…/buildpack.git#v1`) or an absolute path on the paas server.

use clap::{Args, Subcommand};
use paas_core::buildpacks::Buildpack;
use paas_wire::{BuildpackInstallation, BuildpackInstallationsUpdate, BuildpackUpdate, ConfigVars};

use crate::context::{AppArg, app_path};
use crate::output::{Action, heading};
use crate::{Context, Error, Result};

/// The legacy single buildpack; the list wins over it.
const BUILDPACK_URL: &str = "BUILDPACK_URL";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the app's buildpacks, in the order they run
    #[command(name = "buildpacks")]
    Show(AppArg),
    /// Add a buildpack (at the end, or before position --index)
    #[command(name = "buildpacks:add")]
    Add(EditArgs),
    /// Replace the buildpack at position --index (1 unless given)
    #[command(name = "buildpacks:set")]
    Set(EditArgs),
    /// Remove a buildpack, named or at position --index
    #[command(name = "buildpacks:remove")]
    Remove(RemoveArgs),
    /// Remove every buildpack: the next push detects one again
    #[command(name = "buildpacks:clear")]
    Clear(AppArg),
}

#[derive(Debug, Args)]
pub struct EditArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// 1-based position in the list
    #[arg(short, long)]
    pub index: Option<usize>,
    /// heroku/nodejs (a bundled one), a git URL (https://…/buildpack.git#v1) or an absolute path on the paas server
    #[arg(value_name = "BUILDPACK")]
    pub buildpack: String,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// 1-based position in the list
    #[arg(short, long)]
    pub index: Option<usize>,
    #[arg(value_name = "BUILDPACK")]
    pub buildpack: Option<String>,
}

/// The list as names (`heroku/nodejs`, URLs).
async fn current(ctx: &Context, path: &str) -> Result<Vec<String>> {
    let list: Vec<BuildpackInstallation> = ctx.decode(ctx.client.get(path).await?)?;
    Ok(list.into_iter().map(|i| i.buildpack.name).collect())
}

async fn replace(ctx: &Context, path: &str, list: &[String]) -> Result<Vec<String>> {
    let body = BuildpackInstallationsUpdate {
        updates: list
            .iter()
            .map(|b| BuildpackUpdate {
                buildpack: Some(b.clone()),
            })
            .collect(),
    };
    let list: Vec<BuildpackInstallation> = ctx.decode(ctx.client.put(path, &body).await?)?;
    Ok(list.into_iter().map(|i| i.buildpack.name).collect())
}

/// Stores `list` as the app's buildpacks (`doing` says so while it runs) and prints what
/// the next push builds with.
async fn save(
    ctx: &Context,
    path: &str,
    app: &impl std::fmt::Display,
    list: &[String],
    doing: String,
) -> Result<()> {
    let action = Action::start(doing);
    let list = replace(ctx, path, list).await?;
    action.done();
    if list.is_empty() {
        ctx.print(&format!(
            "{app} has no buildpacks left: the next push detects one.\n"
        ))
    } else {
        ctx.print(&format!(
            "The next push to {app} builds with:\n{}",
            numbered(&list)
        ))
    }
}

fn numbered(list: &[String]) -> String {
    list.iter()
        .enumerate()
        .map(|(i, b)| format!("{}. {b}\n", i + 1))
        .collect()
}

/// What the server stores for `raw` (`python` → `heroku/python`), to compare with the list.
fn canonical(raw: &str) -> String {
    Buildpack::parse(raw).map_or_else(|_| raw.to_owned(), |b| b.name())
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Show(app) => {
            let app = app.resolve().await?;
            let list = current(ctx, &app_path(&app, "/buildpack-installations")).await?;
            if ctx.json {
                return ctx.print_json(&serde_json::json!(list));
            }
            if list.is_empty() {
                let config: ConfigVars =
                    ctx.decode(ctx.client.get(&app_path(&app, "/config-vars")).await?)?;
                return match config.get(BUILDPACK_URL) {
                    Some(url) => ctx.print(&format!(
                        "{app} has no buildpacks set; its BUILDPACK_URL config var builds it with {url}\n"
                    )),
                    None => ctx.print(&format!(
                        "{app} has no buildpacks set: a push is built with the first bundled buildpack that detects it, or its Dockerfile\n"
                    )),
                };
            }
            ctx.print(&format!(
                "{}\n{}",
                heading(format!("{app} Buildpacks")),
                numbered(&list)
            ))
        }
        Command::Add(args) | Command::Set(args) if args.index == Some(0) => Err(Error::Refused(
            "--index is 1-based: the first buildpack is --index 1".into(),
        )),
        Command::Add(args) => {
            let app = args.app.resolve().await?;
            let path = app_path(&app, "/buildpack-installations");
            let mut list = current(ctx, &path).await?;
            let wanted = canonical(&args.buildpack);
            if list.contains(&wanted) {
                return ctx.print(&format!(
                    "The buildpack {wanted} is already set on {app}.\n"
                ));
            }
            let at = args.index.map_or(list.len(), |i| (i - 1).min(list.len()));
            list.insert(at, args.buildpack.clone());
            let doing = format!("Adding {} to {app}", args.buildpack);
            save(ctx, &path, &app, &list, doing).await
        }
        Command::Set(args) => {
            let app = args.app.resolve().await?;
            let path = app_path(&app, "/buildpack-installations");
            let mut list = current(ctx, &path).await?;
            let at = args.index.unwrap_or(1) - 1;
            if at < list.len() {
                list[at] = args.buildpack.clone();
            } else {
                list.push(args.buildpack.clone());
            }
            let doing = format!("Setting {} on {app}", args.buildpack);
            save(ctx, &path, &app, &list, doing).await
        }
        Command::Remove(args) => {
            let app = args.app.resolve().await?;
            let path = app_path(&app, "/buildpack-installations");
            let mut list = current(ctx, &path).await?;
            let at = match (&args.buildpack, args.index) {
                (Some(_), Some(_)) | (None, None) => {
                    return Err(Error::Refused(
                        "Name the buildpack to remove, or give --index (not both)".into(),
                    ));
                }
                (Some(name), None) => list.iter().position(|b| *b == canonical(name)),
                (None, Some(i)) => i.checked_sub(1).filter(|i| *i < list.len()),
            };
            let Some(at) = at else {
                return Err(Error::Refused(format!(
                    "Buildpack not found on {app}. Nothing was removed."
                )));
            };
            let removed = list.remove(at);
            save(
                ctx,
                &path,
                &app,
                &list,
                format!("Removing {removed} from {app}"),
            )
            .await
        }
        Command::Clear(app) => {
            let app = app.resolve().await?;
            let action = Action::start(format!("Clearing the buildpacks of {app}"));
            replace(ctx, &app_path(&app, "/buildpack-installations"), &[]).await?;
            action.done();
            let config: ConfigVars =
                ctx.decode(ctx.client.get(&app_path(&app, "/config-vars")).await?)?;
            if config.contains_key(BUILDPACK_URL) {
                ctx.print(&format!(
                    "{app} still has the BUILDPACK_URL config var: the next push builds with it (paas config:unset BUILDPACK_URL to detect again).\n"
                ))
            } else {
                Ok(())
            }
        }
    }
}
