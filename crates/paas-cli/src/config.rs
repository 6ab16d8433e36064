//! `config`, `config:get`, `config:set`, `config:unset`: the app's config vars (factor III).
//!
//! Arguments are checked with `paas-core`'s rules by clap before anything is sent
//! (`KEY=value` shape, key alphabet, reserved `PORT`, value size), so a bad argument
//! among good ones changes nothing. A set or unset is one PATCH, hence one release; the
//! `done, vN` that follows names it, read back from the release list.

use clap::{Args, Subcommand};
use paas_core::{ConfigChange, ConfigKey};
use paas_wire::{ConfigVars, ConfigVarsPatch};

use crate::context::{AppArg, app_path};
use crate::output::{self, Action};
use crate::{Context, Error, Result, releases};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show an app's config vars
    #[command(name = "config")]
    Show(ShowArgs),
    /// Print one config var's value
    #[command(name = "config:get")]
    Get(GetArgs),
    /// Set config vars (one release, dynos restart onto it)
    #[command(name = "config:set")]
    Set(SetArgs),
    /// Remove config vars (one release, dynos restart onto it)
    #[command(name = "config:unset")]
    Unset(UnsetArgs),
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// Print KEY=value lines a shell can source
    #[arg(short, long)]
    pub shell: bool,
}

#[derive(Debug, Args)]
pub struct GetArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// Print KEY=value instead of the bare value
    #[arg(short, long)]
    pub shell: bool,
    #[arg(value_name = "KEY")]
    pub key: String,
}

#[derive(Debug, Args)]
pub struct SetArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "KEY=VALUE", required = true, value_parser = parse_assignment)]
    pub vars: Vec<(ConfigKey, String)>,
}

#[derive(Debug, Args)]
pub struct UnsetArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "KEY", required = true, value_parser = ConfigKey::parse)]
    pub keys: Vec<ConfigKey>,
}

/// One `config:set` argument: `KEY=value`, split at the first `=` (values may hold more),
/// checked with `paas-core`'s config rules.
pub fn parse_assignment(arg: &str) -> Result<(ConfigKey, String), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?} is not KEY=value (e.g. DEBUG=1)"))?;
    ConfigChange::parse([(key, Some(value))]).map_err(|e| e.to_string())?;
    let key = ConfigKey::parse(key).map_err(|e| e.to_string())?;
    Ok((key, value.to_owned()))
}

/// The PATCH body of a set (values) or an unset (nulls); a key given twice takes the
/// last value, as repeated shell assignments would.
pub fn patch_body<'a>(
    entries: impl IntoIterator<Item = (&'a ConfigKey, Option<&'a str>)>,
) -> ConfigVarsPatch {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.map(str::to_owned)))
        .collect()
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Show(args) => show(ctx, args).await,
        Command::Get(args) => get(ctx, args).await,
        Command::Set(args) => set(ctx, args).await,
        Command::Unset(args) => unset(ctx, args).await,
    }
}

async fn show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let raw = ctx.client.get(&app_path(&app, "/config-vars")).await?;
    if ctx.json {
        return ctx.print_json(&raw);
    }
    let vars: ConfigVars = ctx.decode(raw)?;
    if args.shell {
        return ctx.print(&shell_lines(&vars));
    }
    let rows: Vec<(&String, &String)> = vars.iter().collect();
    let text = format!(
        "{}{}",
        output::heading(format!("{app} Config Vars")),
        output::pairs(&rows)
    );
    ctx.print(&text)
}

fn shell_lines(vars: &ConfigVars) -> String {
    vars.iter()
        .map(|(k, v)| format!("{k}={}\n", output::shell_quote(v)))
        .collect()
}

async fn get(ctx: &Context, args: GetArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let raw = ctx.client.get(&app_path(&app, "/config-vars")).await?;
    let vars: ConfigVars = ctx.decode(raw)?;
    let key = &args.key;
    let value = vars
        .get(key)
        .ok_or_else(|| Error::Refused(format!("config var {key} is not set on {app}")))?;
    if ctx.json {
        ctx.print_json(&serde_json::Value::String(value.clone()))
    } else if args.shell {
        ctx.print(&format!("{key}={}", output::shell_quote(value)))
    } else {
        ctx.print(value)
    }
}

async fn set(ctx: &Context, args: SetArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let body = patch_body(args.vars.iter().map(|(k, v)| (k, Some(v.as_str()))));
    let raw = change(ctx, &app, &body, "Setting").await?;
    if ctx.json {
        return ctx.print_json(&raw);
    }
    let vars: ConfigVars = ctx.decode(raw)?;
    let rows: Vec<(&String, &str)> = body
        .keys()
        .map(|k| (k, vars.get(k).map(String::as_str).unwrap_or_default()))
        .collect();
    ctx.print(&output::pairs(&rows))
}

async fn unset(ctx: &Context, args: UnsetArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let body = patch_body(args.keys.iter().map(|k| (k, None)));
    let raw = change(ctx, &app, &body, "Unsetting").await?;
    if ctx.json {
        ctx.print_json(&raw)?;
    }
    Ok(())
}

/// PATCHes the app's config vars with `body` behind a progress line (`<verb> A, B and
/// restarting <app>`), ended with the release the change made when it can be read back;
/// returns the API's answer.
async fn change(
    ctx: &Context,
    app: &paas_core::AppName,
    body: &ConfigVarsPatch,
    verb: &str,
) -> Result<serde_json::Value> {
    let names = body.keys().cloned().collect::<Vec<_>>().join(", ");
    let action = Action::start(format!("{verb} {names} and restarting {app}"));
    let raw = ctx
        .client
        .patch(&app_path(app, "/config-vars"), body)
        .await?;
    match releases::latest_version(ctx, app).await {
        Some(version) => action.done_with(format!("v{version}")),
        None => action.done(),
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments_split_at_the_first_equals_sign() {
        let (k, v) = parse_assignment("DATABASE_URL=postgres://u:p@h/db?x=1").unwrap();
        assert_eq!(k.as_str(), "DATABASE_URL");
        assert_eq!(v, "postgres://u:p@h/db?x=1");
        let (k, v) = parse_assignment("EMPTY=").unwrap();
        assert_eq!((k.as_str(), v.as_str()), ("EMPTY", ""));
    }

    #[test]
    fn assignments_without_equals_or_with_bad_keys_are_refused() {
        for bad in ["FOO", "=1", "1A=x", "A-B=x", "PORT=80", "A B=c"] {
            assert!(parse_assignment(bad).is_err(), "{bad}");
        }
        let err = parse_assignment("FOO").unwrap_err();
        assert!(err.contains("KEY=value"), "{err}");
    }

    #[test]
    fn oversized_values_are_refused_before_sending() {
        let big = format!("A={}", "x".repeat(paas_core::config::MAX_VALUE_BYTES + 1));
        assert!(parse_assignment(&big).is_err());
    }

    #[test]
    fn patch_bodies_set_values_and_null_removals() {
        let a = ConfigKey::parse("A").unwrap();
        let b = ConfigKey::parse("B").unwrap();
        let body = patch_body([(&a, Some("1")), (&b, Some("2")), (&a, Some("3"))]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"A": "3", "B": "2"})
        );
        let body = patch_body([(&a, None)]);
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"A": null})
        );
    }

    #[test]
    fn shell_output_quotes_what_needs_it() {
        let vars: ConfigVars = [
            ("A".to_owned(), "1".to_owned()),
            ("B".to_owned(), "two words".to_owned()),
        ]
        .into();
        assert_eq!(shell_lines(&vars), "A=1\nB='two words'\n");
    }

    #[test]
    fn clap_refuses_a_bad_assignment_as_a_usage_error() {
        use clap::Parser;
        let err = crate::Cli::try_parse_from(["paas", "config:set", "-a", "demo", "GOOD=1", "BAD"])
            .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("KEY=value"), "{err}");
        let ok = crate::Cli::try_parse_from(["paas", "config:set", "-a", "demo", "A=1", "B=x=y"]);
        assert!(ok.is_ok());
    }
}
