//! `logs` and the `drains` topic: the app's log stream, and where it is forwarded.

use std::io::IsTerminal as _;

use clap::{Args, Subcommand};
use paas_wire::{LogDrain, LogDrainCreate, LogSession, LogSessionCreate};

use crate::context::{AppArg, app_path};
use crate::output::{Action, Table};
use crate::{Context, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the app's logs: its output, router requests and platform events
    Logs(LogsArgs),
    /// List the app's log drains
    #[command(name = "drains")]
    Drains(AppArg),
    /// Forward the app's logs to syslog://host:port or an http(s):// endpoint
    #[command(name = "drains:add")]
    AddDrain(DrainArgs),
    /// Stop forwarding the app's logs to a drain (its URL or token)
    #[command(name = "drains:remove")]
    RemoveDrain(DrainArgs),
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// Lines of history to show (at most 1500)
    #[arg(short = 'n', long = "num", default_value_t = 100)]
    pub num: u32,
    /// Keep streaming new lines
    #[arg(short = 't', long)]
    pub tail: bool,
    /// Only this dyno (web.1) or process type (web), or router
    #[arg(short = 'd', long)]
    pub dyno: Option<String>,
    /// Only lines from app or heroku
    #[arg(short = 's', long, value_parser = ["app", "heroku"])]
    pub source: Option<String>,
}

#[derive(Debug, Args)]
pub struct DrainArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "URL")]
    pub url: String,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Logs(args) => logs(ctx, args).await,
        Command::Drains(app) => {
            let app = app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "/log-drains")).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let drains: Vec<LogDrain> = ctx.decode(raw)?;
            if drains.is_empty() {
                return ctx.print(&format!("{app} has no drains.\n"));
            }
            let mut table = Table::with_header(["url", "token"]);
            for d in &drains {
                table.row([d.url.clone(), d.token.clone()]);
            }
            ctx.print(&table.render())
        }
        Command::AddDrain(args) => {
            let app = args.app.resolve().await?;
            let action = Action::start(format!("Adding a drain to {app}"));
            let raw = ctx
                .client
                .post(
                    &app_path(&app, "/log-drains"),
                    &LogDrainCreate { url: args.url },
                )
                .await?;
            let drain: LogDrain = ctx.decode(raw.clone())?;
            action.done();
            if ctx.json {
                return ctx.print_json(&raw);
            }
            ctx.print(&format!(
                "Successfully added drain {} (token {})\n",
                drain.url, drain.token
            ))
        }
        Command::RemoveDrain(args) => {
            let app = args.app.resolve().await?;
            let action = Action::start(format!("Removing a drain from {app}"));
            let raw = ctx
                .client
                .delete(&app_path(
                    &app,
                    &format!("/log-drains/{}", percent_encode(&args.url)),
                ))
                .await?;
            let drain: LogDrain = ctx.decode(raw)?;
            action.done();
            ctx.print(&format!("Successfully removed drain {}\n", drain.url))
        }
    }
}

async fn logs(ctx: &Context, args: LogsArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let request = LogSessionCreate {
        dyno: args.dyno,
        lines: Some(i64::from(args.num)),
        source: args.source,
        tail: Some(args.tail),
    };
    let raw = ctx
        .client
        .post(&app_path(&app, "/log-sessions"), &request)
        .await?;
    let session: LogSession = ctx.decode(raw)?;
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = Ok(());
    ctx.client
        .stream_lines(&session.logplex_url, |line| {
            if out.is_ok() {
                let line = if color {
                    colorize(line)
                } else {
                    line.to_owned()
                };
                out = crate::output::print(&line);
            }
        })
        .await?;
    Ok(out?)
}

/// Colors a line's `source[dyno]:` by who wrote it, as the heroku CLI does.
fn colorize(line: &str) -> String {
    let Some((stamp, rest)) = line.split_once(' ') else {
        return line.to_owned();
    };
    let Some((who, message)) = rest.split_once(": ") else {
        return line.to_owned();
    };
    let code = if who.starts_with("heroku[") {
        "35" // magenta: the platform
    } else if who == "app[api]" {
        "32" // green: platform events
    } else {
        "36" // cyan: the app's own output
    };
    format!("\x1b[2m{stamp}\x1b[0m \x1b[{code}m{who}:\x1b[0m {message}")
}

/// A drain URL as one path segment.
fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_by_source_and_keeps_the_text() {
        let line = "2026-11-22T14:07:00.123456+00:00 heroku[router]: at=info status=200";
        let colored = colorize(line);
        assert!(colored.contains("\x1b[35mheroku[router]:"), "{colored}");
        let plain: String = colored
            .split('\x1b')
            .map(|part| part.split_once('m').map_or(part, |(_, rest)| rest))
            .collect();
        assert_eq!(plain, line);
        assert_eq!(colorize("no structure"), "no structure");
    }

    #[test]
    fn drain_urls_become_one_path_segment() {
        assert_eq!(
            percent_encode("syslog://h.example.com:514/x?y"),
            "syslog%3A%2F%2Fh.example.com%3A514%2Fx%3Fy"
        );
    }
}
