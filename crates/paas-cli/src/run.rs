//! `run`, `run:detached`: one-off dynos (admin processes, factor XII).
//!
//! `paas run -- CMD ARGS…` starts a `run.N` dyno from the current release with the app's
//! config, streams its output live and exits with its exit status.

use clap::{Args, Subcommand};
use paas_wire::{Dyno, DynoCreate, EXIT_STATUS_PREFIX};

use crate::context::{AppArg, app_path};
use crate::output::{Action, shell_quote};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a one-off dyno and stream its output
    #[command(name = "run")]
    Run(RunArgs),
    /// Run a command in a one-off dyno in the background
    #[command(name = "run:detached")]
    Detached(RunArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The command and its arguments (put them after `--`)
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "COMMAND"
    )]
    pub command: Vec<String>,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    let (args, attach) = match cmd {
        Command::Run(args) => (args, true),
        Command::Detached(args) => (args, false),
    };
    let app = args.app.resolve().await?;
    let command = args
        .command
        .iter()
        .map(|a| shell_quote(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let action = Action::start(format!("Running {command} on {app}"));
    let body = DynoCreate {
        command,
        attach: Some(attach),
        // paas reads the output over HTTP line by line (`/attach`): no terminal, so
        // stdout and stderr keep their own lines.
        force_no_tty: Some(true),
        ..DynoCreate::default()
    };
    let raw = ctx.client.post(&app_path(&app, "/dynos"), &body).await?;
    let dyno: Dyno = ctx.decode(raw.clone())?;
    if !attach {
        action.done_with(format!("up, {}", dyno.name));
        if ctx.json {
            return ctx.print_json(&raw);
        }
        return Ok(());
    }
    action.done_with(format!("up, {}", dyno.name));
    follow(ctx, &app.to_string(), &dyno.name, None).await
}

/// Streams an attached one-off dyno's output (feeding it `input` as its stdin, if any)
/// and ends with its exit status: `attach_url` is Heroku's rendezvous (TLS, no exit
/// status); paas's own endpoint streams the output and ends with the exit status.
pub(crate) async fn follow(
    ctx: &Context,
    app: &str,
    dyno: &str,
    input: Option<reqwest::Body>,
) -> Result<()> {
    let url = ctx.client.url(&format!("/apps/{app}/dynos/{dyno}/attach"));
    let mut status = None;
    let on_line = |line: &str| match line.strip_prefix(EXIT_STATUS_PREFIX) {
        Some(code) => status = code.trim().parse::<i32>().ok(),
        None => println!("{line}"),
    };
    match input {
        None => ctx.client.stream_lines(&url, on_line).await?,
        Some(input) => {
            ctx.client
                .stream_lines_with_input(&url, input, on_line)
                .await?
        }
    }
    match status {
        Some(0) => Ok(()),
        Some(code) => Err(Error::Exit(code)),
        None => Err(Error::Refused(
            "the dyno's output ended without an exit status".into(),
        )),
    }
}
