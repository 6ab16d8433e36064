//! `pg:info`, and `pg:backups`, `pg:backups:capture`, `pg:backups:download`, `pg:backups:restore`,
//! `pg:backups:verify`, `pg:backups:delete`: backups of an app's Postgres add-on, each
//! verified by a restore into a scratch database on the server; `pg:backups:schedule`,
//! `pg:backups:schedules`, `pg:backups:unschedule` (daily, run by paasd);
//! `pg:credentials:rotate`; `pg:psql` (and `redis:cli`), a one-off dyno running the
//! add-on's client, fed this process's stdin.

use clap::{Args, Subcommand};
use paas_wire::{
    AddonAttachment, AddonBackup, BackupRestore, BackupRestored, BackupSchedule, BackupScheduleSet,
    CredentialsRotate, CredentialsRotated, Dyno, PgInfo,
};

use crate::context::{AppArg, app_path};
use crate::output::{Action, Table};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The database's version, size, connections, tables and last verified backup
    #[command(name = "pg:info")]
    Info(DbArgs),
    /// List the database's backups
    #[command(name = "pg:backups")]
    List(DbArgs),
    /// Capture a backup now and verify it
    #[command(name = "pg:backups:capture")]
    Capture(DbArgs),
    /// Download a backup (default: the newest verified one) as a pg_restore file
    #[command(name = "pg:backups:download")]
    Download(DownloadArgs),
    /// Restore a backup (default: the newest verified one) into the database, after
    /// capturing what it replaces
    #[command(name = "pg:backups:restore")]
    Restore(ConfirmArgs),
    /// Verify a backup again (restore it into a scratch database, compare row counts)
    #[command(name = "pg:backups:verify")]
    Verify(BackupArgs),
    /// Delete a backup and its file
    #[command(name = "pg:backups:delete")]
    Delete(ConfirmArgs),
    /// Back the database up every day at a time (verified; the newest N kept)
    #[command(name = "pg:backups:schedule")]
    Schedule(ScheduleArgs),
    /// The backup schedules of the app's databases
    #[command(name = "pg:backups:schedules")]
    Schedules(AppOnly),
    /// Stop the database's daily backups (its backups stay)
    #[command(name = "pg:backups:unschedule")]
    Unschedule(DbPos),
    /// A new random password for the database; every attached app's URL changes as a release
    #[command(name = "pg:credentials:rotate")]
    Rotate(RotateArgs),
    /// psql on the database, in a one-off dyno (stdin is psql's: `echo 'select 1' | paas pg:psql`)
    #[command(name = "pg:psql")]
    Psql(PsqlArgs),
    /// redis-cli on a Redis add-on, in a one-off dyno (stdin is redis-cli's)
    #[command(name = "redis:cli")]
    RedisCli(RedisPos),
}

#[derive(Debug, Args)]
pub struct AppOnly {
    #[command(flatten)]
    pub app: AppArg,
}

/// The database as a positional argument, Heroku style (`pg:psql HEROKU_POSTGRESQL_RED`).
#[derive(Debug, Args)]
pub struct DbPos {
    #[command(flatten)]
    pub app: AppArg,
    /// The database: an attachment (DATABASE), its config var, or the add-on's name
    #[arg(value_name = "DATABASE", default_value = "DATABASE")]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct PsqlArgs {
    #[command(flatten)]
    pub db: DbPos,
    /// SQL to run instead of reading stdin
    #[arg(short, long)]
    pub command: Option<String>,
}

#[derive(Debug, Args)]
pub struct RedisPos {
    #[command(flatten)]
    pub app: AppArg,
    /// The Redis add-on: an attachment (REDIS), its config var, or the add-on's name
    #[arg(value_name = "REDIS", default_value = "REDIS")]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(flatten)]
    pub db: DbPos,
    /// When, every day: 'HH:MM' or 'HH:MM TIMEZONE' ('02:00 Europe/Paris'; default UTC)
    #[arg(long)]
    pub at: String,
    /// How many scheduled backups to keep (1 to 90)
    #[arg(long, default_value_t = paas_core::backup_schedule::DEFAULT_KEEP)]
    pub keep: u16,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub db: DbPos,
    /// The app's name again, to confirm
    #[arg(long)]
    pub confirm: Option<String>,
}

impl DbPos {
    fn as_db(&self) -> DbArgs {
        DbArgs {
            app: self.app.clone(),
            db: self.db.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub struct DbArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The database: an attachment (DATABASE), its config var, or the add-on's name
    #[arg(long, default_value = "DATABASE")]
    pub db: String,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// b001 (or 1)
    #[arg(value_name = "BACKUP")]
    pub backup: String,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(value_name = "BACKUP")]
    pub backup: Option<String>,
    /// Where to write it
    #[arg(short, long, default_value = "latest.dump")]
    pub output: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(value_name = "BACKUP")]
    pub backup: Option<String>,
    /// The app's name again, to confirm
    #[arg(long)]
    pub confirm: Option<String>,
}

/// The add-on `db` names for the app: its id and name.
async fn addon_of(ctx: &Context, args: &DbArgs) -> Result<(String, String, String)> {
    let app = args.app.resolve().await?;
    let path = app_path(&app, &format!("/addon-attachments/{}", args.db));
    match ctx.client.get_optional(&path).await? {
        Some(raw) => {
            let a: AddonAttachment = ctx.decode(raw)?;
            Ok((app.to_string(), a.addon.id.to_string(), a.addon.name))
        }
        None => {
            let a: paas_wire::Addon =
                ctx.decode(ctx.client.get(&format!("/addons/{}", args.db)).await?)?;
            Ok((app.to_string(), a.id.to_string(), a.name))
        }
    }
}

async fn backups(ctx: &Context, addon: &str) -> Result<Vec<AddonBackup>> {
    ctx.decode(ctx.client.get(&format!("/addons/{addon}/backups")).await?)
}

/// The named backup, or the newest verified one.
async fn pick(ctx: &Context, addon: &str, name: Option<&str>) -> Result<String> {
    if let Some(name) = name {
        return Ok(name.to_owned());
    }
    backups(ctx, addon)
        .await?
        .into_iter()
        .find(|b| b.status == "verified")
        .map(|b| b.name)
        .ok_or_else(|| {
            Error::Refused("no verified backup: capture one with paas pg:backups:capture".into())
        })
}

fn status(b: &AddonBackup) -> String {
    match (&b.status[..], &b.reason) {
        ("failed", Some(why)) => format!("failed: {why}"),
        (s, _) => s.to_owned(),
    }
}

fn check_confirm(app: &str, confirm: Option<&str>, what: &str) -> Result<()> {
    match confirm {
        Some(c) if c == app => Ok(()),
        Some(c) => Err(Error::Refused(format!(
            "confirmation {c:?} does not match the app {app}; nothing was done"
        ))),
        None => Err(Error::Refused(format!(
            "this {what} and cannot be undone. To proceed, run again with --confirm {app}"
        ))),
    }
}

fn print_schedule(ctx: &Context, s: &BackupSchedule) -> Result<()> {
    ctx.print(&format!(
        "{}: every day at {}, keeping {} (next: {})\n",
        s.addon.name,
        s.at,
        s.keep,
        s.next_at.format("%Y-%m-%d %H:%M UTC")
    ))
}

/// Starts the add-on's console dyno and joins it: `script`, or else this process's
/// stdin, is its stdin.
async fn console(ctx: &Context, args: DbArgs, script: Option<String>) -> Result<()> {
    let (app, id, name) = addon_of(ctx, &args).await?;
    let action = Action::start(format!("Connecting to {name} on {app}"));
    let dyno: Dyno = ctx.decode(
        ctx.client
            .post(
                &format!("/apps/{app}/addons/{id}/actions/console"),
                &serde_json::json!({}),
            )
            .await?,
    )?;
    action.done_with(format!("up, {}", dyno.name));
    let input = match script {
        Some(script) => reqwest::Body::from(script + "\n"),
        None => reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(tokio::io::stdin())),
    };
    crate::run::follow(ctx, &app, &dyno.name, Some(input)).await
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Schedule(args) => {
            let (_, id, _) = addon_of(ctx, &args.db.as_db()).await?;
            let raw = ctx
                .client
                .put(
                    &format!("/addons/{id}/backup-schedule"),
                    &BackupScheduleSet {
                        at: args.at,
                        keep: Some(i64::from(args.keep)),
                    },
                )
                .await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let s: BackupSchedule = ctx.decode(raw)?;
            print_schedule(ctx, &s)
        }
        Command::Schedules(args) => {
            let app = args.app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "/backup-schedules")).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let list: Vec<BackupSchedule> = ctx.decode(raw)?;
            if list.is_empty() {
                return ctx.print(&format!(
                    "No backup schedules on {app}. Set one with paas pg:backups:schedule --at '02:00 UTC'\n"
                ));
            }
            for s in &list {
                print_schedule(ctx, s)?;
            }
            Ok(())
        }
        Command::Unschedule(args) => {
            let (_, id, name) = addon_of(ctx, &args.as_db()).await?;
            let action = Action::start(format!("Stopping the daily backups of {name}"));
            ctx.client
                .delete(&format!("/addons/{id}/backup-schedule"))
                .await?;
            action.done();
            Ok(())
        }
        Command::Rotate(args) => {
            let (app, id, name) = addon_of(ctx, &args.db.as_db()).await?;
            check_confirm(
                &app,
                args.confirm.as_deref(),
                &format!(
                    "changes the password of {name}: every attached app's URL changes and the old password stops working,"
                ),
            )?;
            let action = Action::start(format!("Rotating the credentials of {name}"));
            let raw = ctx
                .client
                .post(
                    &format!("/addons/{id}/actions/rotate-credentials"),
                    &CredentialsRotate { confirm: app },
                )
                .await?;
            action.done();
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let done: CredentialsRotated = ctx.decode(raw)?;
            for r in &done.releases {
                ctx.print(&format!(
                    "{}: v{} {}\n",
                    r.app.name, r.version, r.description
                ))?;
            }
            Ok(())
        }
        Command::Psql(args) => console(ctx, args.db.as_db(), args.command).await,
        Command::RedisCli(args) => {
            console(
                ctx,
                DbArgs {
                    app: args.app,
                    db: args.db,
                },
                None,
            )
            .await
        }
        Command::Info(args) => {
            let (_, id, _) = addon_of(ctx, &args).await?;
            let raw = ctx.client.get(&format!("/addons/{id}/pg-info")).await?;
            let info: PgInfo = ctx.decode(raw)?;
            if ctx.json {
                return ctx.print_json(&serde_json::to_value(&info).unwrap_or_default());
            }
            let last = info.last_verified_backup_at.map_or_else(
                || "none".to_owned(),
                |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            );
            ctx.print(&format!(
                "=== {}\nPlan:                 {}\nPG Version:           {}\nData Size:            {} B\nTables:               {}\nConnections:          {}/{}\nLast verified backup: {last}\n",
                info.addon.name,
                info.plan,
                info.version,
                info.size_bytes,
                info.tables,
                info.connections,
                info.connection_limit,
            ))
        }
        Command::List(args) => {
            let (_, id, name) = addon_of(ctx, &args).await?;
            let list = backups(ctx, &id).await?;
            if ctx.json {
                return ctx.print_json(&serde_json::to_value(&list).unwrap_or_default());
            }
            if list.is_empty() {
                return ctx.print(&format!(
                    "No backups of {name}. Capture one with paas pg:backups:capture\n"
                ));
            }
            let mut table = Table::with_header(["id", "started", "took", "size", "status"]);
            for b in &list {
                let took = b
                    .finished_at
                    .map(|f| format!("{}s", (f - b.started_at).num_seconds()))
                    .unwrap_or_default();
                table.row([
                    b.name.clone(),
                    b.started_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                    took,
                    b.size_bytes.map(|s| format!("{s} B")).unwrap_or_default(),
                    status(b),
                ]);
            }
            ctx.print(&table.render())
        }
        Command::Capture(args) => {
            let (_, id, name) = addon_of(ctx, &args).await?;
            let action = Action::start(format!("Backing up {name}"));
            let b: AddonBackup = ctx.decode(
                ctx.client
                    .post(&format!("/addons/{id}/backups"), &serde_json::json!({}))
                    .await?,
            )?;
            if b.status != "verified" {
                drop(action);
                return Err(Error::Refused(format!(
                    "backup {} of {name} {}",
                    b.name,
                    status(&b)
                )));
            }
            action.done_with(&b.name);
            if ctx.json {
                return ctx.print_json(&serde_json::to_value(&b).unwrap_or_default());
            }
            ctx.print(&format!(
                "{} of {name}: verified ({} tables, {} bytes)\n",
                b.name,
                b.row_counts.len(),
                b.size_bytes.unwrap_or_default()
            ))
        }
        Command::Download(args) => {
            let (_, id, _) = addon_of(ctx, &args.db).await?;
            let backup = pick(ctx, &id, args.backup.as_deref()).await?;
            let action = Action::start(format!("Downloading {backup}"));
            let bytes = ctx
                .client
                .get_bytes(&format!("/addons/{id}/backups/{backup}/download"))
                .await?;
            tokio::fs::write(&args.output, &bytes).await?;
            action.done_with(format!(
                "{} bytes to {}",
                bytes.len(),
                args.output.display()
            ));
            Ok(())
        }
        Command::Restore(args) => {
            let (app, id, name) = addon_of(ctx, &args.db).await?;
            check_confirm(
                &app,
                args.confirm.as_deref(),
                &format!("replaces the whole database {name}"),
            )?;
            let backup = pick(ctx, &id, args.backup.as_deref()).await?;
            let action = Action::start(format!("Restoring {backup} into {name}"));
            let done: BackupRestored = ctx.decode(
                ctx.client
                    .post(
                        &format!("/addons/{id}/backups/{backup}/actions/restore"),
                        &BackupRestore { confirm: app },
                    )
                    .await?,
            )?;
            action.done();
            ctx.print(&format!(
                "Restored {} into {name}; what it replaced is backup {}\n",
                done.restored.name, done.safety.name
            ))
        }
        Command::Verify(args) => {
            let (_, id, _) = addon_of(ctx, &args.db).await?;
            let b: AddonBackup = ctx.decode(
                ctx.client
                    .post(
                        &format!("/addons/{id}/backups/{}/actions/verify", args.backup),
                        &serde_json::json!({}),
                    )
                    .await?,
            )?;
            ctx.print(&format!("{}: {}\n", b.name, status(&b)))
        }
        Command::Delete(args) => {
            let (app, id, _) = addon_of(ctx, &args.db).await?;
            let Some(backup) = args.backup else {
                return Err(Error::Refused("name the backup to delete (b001)".into()));
            };
            check_confirm(&app, args.confirm.as_deref(), "deletes the backup")?;
            let action = Action::start(format!("Deleting {backup}"));
            ctx.client
                .delete(&format!("/addons/{id}/backups/{backup}"))
                .await?;
            action.done();
            Ok(())
        }
    }
}
