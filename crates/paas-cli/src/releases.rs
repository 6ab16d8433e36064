//! `releases`, `releases:info`, `rollback`: the app's append-only release ledger.
//!
//! Lists are read newest first with Heroku's `Range: version ..; order=desc, max=N`
//! header; the client sorts again so that a server ignoring `order` still prints right.
//! A rollback appends a release (`vN+1` = build and config of `vK`); with no argument it
//! targets the release before the current one, which is not always the newest (a failed
//! deploy is newer than the current release).

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use paas_core::{AppName, ReleaseRef, ReleaseVersion};
use paas_wire::{ConfigVars, Release, ReleaseCreate};

use crate::context::{AppArg, app_path};
use crate::output::{self, Action, Table};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List an app's releases, newest first
    #[command(name = "releases")]
    List(ListArgs),
    /// Show one release
    #[command(name = "releases:info")]
    Info(InfoArgs),
    /// Roll back to an earlier release (a new release with its build and config)
    #[command(name = "rollback")]
    Rollback(RollbackArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// How many releases to show
    #[arg(short, long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub num: u32,
}

#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The release: a version (v3 or 3) or a release id
    #[arg(value_name = "RELEASE", value_parser = ReleaseRef::parse)]
    pub release: ReleaseRef,
}

#[derive(Debug, Args)]
pub struct RollbackArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The release to roll back to [default: the one before the current release]
    #[arg(value_name = "RELEASE", value_parser = ReleaseRef::parse)]
    pub release: Option<ReleaseRef>,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::List(args) => list(ctx, args).await,
        Command::Info(args) => info(ctx, args).await,
        Command::Rollback(args) => rollback(ctx, args).await,
    }
}

/// The `Range` header for the newest `max` releases.
pub fn newest_first(max: u32) -> String {
    format!("version ..; order=desc, max={max}")
}

/// The newest `max` releases, newest first.
async fn fetch_newest(
    ctx: &Context,
    app: &AppName,
    max: u32,
) -> Result<(serde_json::Value, Vec<Release>)> {
    let raw = ctx
        .client
        .get_range(&app_path(app, "/releases"), &newest_first(max))
        .await?;
    let mut releases: Vec<Release> = ctx.decode(raw.clone())?;
    releases.sort_by_key(|r| std::cmp::Reverse(r.version));
    releases.truncate(max as usize);
    Ok((raw, releases))
}

/// The newest release's version, for the `done, vN` of commands that make one.
/// `None` if it cannot be read: the change itself has already succeeded.
pub async fn latest_version(ctx: &Context, app: &AppName) -> Option<i32> {
    let (_, releases) = fetch_newest(ctx, app, 1).await.ok()?;
    releases.first().map(|r| r.version)
}

async fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let (raw, releases) = fetch_newest(ctx, &app, args.num).await?;
    if ctx.json {
        return ctx.print_json(&raw);
    }
    ctx.print(&list_text(&app, &releases, Utc::now()))
}

fn list_text(app: &AppName, releases: &[Release], now: DateTime<Utc>) -> String {
    if releases.is_empty() {
        return format!("{app} has no releases yet.\n");
    }
    let title = match releases.iter().find(|r| r.current) {
        Some(current) => format!("{app} Releases - Current: v{}", current.version),
        None => format!("{app} Releases"),
    };
    let mut table = Table::new();
    for r in releases {
        table.row([
            format!("v{}", r.version),
            r.description.clone(),
            marker(r).to_owned(),
            r.user.email.clone(),
            output::timestamp(r.created_at, now),
        ]);
    }
    format!("{}{}", output::heading(title), table.render())
}

/// `current`, or the status when it is not `succeeded` (`failed`, `pending`).
fn marker(release: &Release) -> &str {
    match release.status.as_str() {
        "succeeded" if release.current => "current",
        "succeeded" => "",
        other => other,
    }
}

fn ref_segment(release: &ReleaseRef) -> String {
    match release {
        ReleaseRef::Version(v) => v.get().to_string(),
        ReleaseRef::Id(id) => id.clone(),
    }
}

async fn info(ctx: &Context, args: InfoArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let path = app_path(&app, &format!("/releases/{}", ref_segment(&args.release)));
    let raw = ctx.client.get(&path).await?;
    if ctx.json {
        return ctx.print_json(&raw);
    }
    let release: Release = ctx.decode(raw)?;
    // The config at that release, where the server offers it (heroku's CLI reads it too).
    let config_path = app_path(&app, &format!("/releases/{}/config-vars", release.id));
    let config: Option<ConfigVars> = match ctx.client.get_optional(&config_path).await? {
        Some(raw) => Some(ctx.decode(raw)?),
        None => None,
    };
    ctx.print(&info_text(&release, config.as_ref(), Utc::now()))
}

fn info_text(release: &Release, config: Option<&ConfigVars>, now: DateTime<Utc>) -> String {
    let mut rows = vec![
        ("By", release.user.email.clone()),
        ("Change", release.description.clone()),
        (
            "Current",
            if release.current { "yes" } else { "no" }.to_owned(),
        ),
        ("Status", release.status.clone()),
        ("When", output::timestamp(release.created_at, now)),
    ];
    if let Some(reason) = &release.status_reason {
        rows.push(("Reason", reason.clone()));
    }
    if let Some(slug) = &release.slug {
        rows.push(("Slug", slug.id.to_string()));
    }
    let mut text = format!(
        "{}{}",
        output::heading(format!("Release v{}", release.version)),
        output::pairs(&rows)
    );
    if let Some(config) = config {
        let pairs: Vec<(&String, &String)> = config.iter().collect();
        text.push('\n');
        text.push_str(&output::heading(format!(
            "v{} Config vars",
            release.version
        )));
        text.push_str(&output::pairs(&pairs));
    }
    text
}

/// The release before the current one, the target of a bare `rollback`.
fn previous_of_current(app: &AppName, releases: &[Release]) -> Result<ReleaseVersion> {
    let current = releases
        .iter()
        .find(|r| r.current)
        .ok_or_else(|| Error::Refused(format!("{app} has no current release to roll back from")))?;
    ReleaseVersion::new(current.version)?
        .previous()
        .ok_or_else(|| {
            Error::Refused(format!(
                "{app} is at v{}: there is no earlier release to roll back to",
                current.version
            ))
        })
}

async fn rollback(ctx: &Context, args: RollbackArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let target = match args.release {
        Some(release) => release,
        None => {
            // The current release is among the newest few unless many deploys failed.
            let (_, releases) = fetch_newest(ctx, &app, 200).await?;
            ReleaseRef::Version(previous_of_current(&app, &releases)?)
        }
    };
    let label = match &target {
        ReleaseRef::Version(v) => v.to_string(),
        ReleaseRef::Id(id) => format!("release {id}"),
    };
    let action = Action::start(format!("Rolling back {app} to {label}"));
    let body = ReleaseCreate {
        release: ref_segment(&target),
    };
    let raw = ctx.client.post(&app_path(&app, "/releases"), &body).await?;
    let release: Release = ctx.decode(raw.clone())?;
    action.done_with(format!("v{}", release.version));
    if ctx.json {
        ctx.print_json(&raw)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(version: i32, status: &str, current: bool, description: &str) -> Release {
        serde_json::from_value(serde_json::json!({
            "id": format!("00000000-0000-0000-0000-{version:012}"),
            "version": version,
            "description": description,
            "status": status,
            "current": current,
            "created_at": "2026-11-22T14:00:00Z",
            "updated_at": "2026-11-22T14:00:00Z",
            "slug": null,
            "user": {"id": "00000000-0000-0000-0000-000000000000", "email": "me@example.com"},
            "app": {"id": "00000000-0000-0000-0000-000000000000", "name": "demo"},
            "addon_plan_names": [],
            "output_stream_url": null
        }))
        .unwrap()
    }

    fn demo() -> AppName {
        AppName::parse("demo").unwrap()
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-22T14:03:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_range_header_asks_for_the_newest_first() {
        assert_eq!(newest_first(15), "version ..; order=desc, max=15");
    }

    #[test]
    fn the_list_marks_the_current_and_unsuccessful_releases() {
        let releases = [
            release(3, "failed", false, "Deploy 89abcde"),
            release(2, "succeeded", true, "Set FOO config vars"),
            release(1, "succeeded", false, "Initial release"),
        ];
        let ts = "me@example.com  2026/11/22 14:00:00 +0000 (~ 3m ago)";
        assert_eq!(
            list_text(&demo(), &releases, now()),
            format!(
                "=== demo Releases - Current: v2\n\
                 v3  Deploy 89abcde       failed   {ts}\n\
                 v2  Set FOO config vars  current  {ts}\n\
                 v1  Initial release               {ts}\n"
            )
        );
        assert_eq!(
            list_text(&demo(), &[], now()),
            "demo has no releases yet.\n"
        );
    }

    #[test]
    fn bare_rollback_targets_the_release_before_the_current_one() {
        let releases = [
            release(5, "failed", false, "Deploy b"),
            release(4, "succeeded", true, "Deploy a"),
            release(3, "succeeded", false, "x"),
        ];
        assert_eq!(previous_of_current(&demo(), &releases).unwrap().get(), 3);
        let only = [release(1, "succeeded", true, "Initial release")];
        assert!(previous_of_current(&demo(), &only).is_err());
        assert!(previous_of_current(&demo(), &[]).is_err());
    }

    #[test]
    fn release_refs_become_path_segments() {
        assert_eq!(ref_segment(&ReleaseRef::parse("v7").unwrap()), "7");
        let id = "0190a3c4-1234-7abc-8def-0123456789ab";
        assert_eq!(ref_segment(&ReleaseRef::parse(id).unwrap()), id);
    }

    #[test]
    fn info_shows_the_release_and_its_config_when_offered() {
        let r = release(2, "succeeded", true, "Set FOO config vars");
        let config: ConfigVars = [("FOO".to_owned(), "bar".to_owned())].into();
        assert_eq!(
            info_text(&r, Some(&config), now()),
            "=== Release v2\n\
             By:      me@example.com\n\
             Change:  Set FOO config vars\n\
             Current: yes\n\
             Status:  succeeded\n\
             When:    2026/11/22 14:00:00 +0000 (~ 3m ago)\n\
             \n\
             === v2 Config vars\n\
             FOO: bar\n"
        );
    }
}
