//! `domains`, `domains:add`, `domains:remove`: hostnames the app answers on.

use clap::{Args, Subcommand};
use paas_wire::{Domain, DomainCreate};

use crate::context::{AppArg, app_path};
use crate::output::{Action, Table};
use crate::{Context, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the app's domains
    #[command(name = "domains")]
    List(AppArg),
    /// Route a hostname of yours to the app (point its DNS at the app's default name)
    #[command(name = "domains:add")]
    Add(HostArgs),
    /// Stop routing a hostname to the app
    #[command(name = "domains:remove")]
    Remove(HostArgs),
}

#[derive(Debug, Args)]
pub struct HostArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "HOSTNAME", value_parser = paas_core::Hostname::parse)]
    pub hostname: paas_core::Hostname,
}

/// A domain's certificate: `issued`, `pending`, `failing: <reason>`, `disabled` or
/// `uploaded (<name>)`, and its expiry; the default hostname's is the router's own.
fn cert_columns(d: &Domain) -> (String, String) {
    if d.kind != "custom" {
        return ("router".into(), String::new());
    }
    let status = match (&d.sni_endpoint, d.acm_status.as_deref()) {
        (Some(e), _) => format!("uploaded ({})", e["name"].as_str().unwrap_or_default()),
        (None, Some("cert issued")) => "issued".into(),
        (None, Some("failing")) => format!(
            "failing: {}",
            d.acm_status_reason.as_deref().unwrap_or("no reason given")
        ),
        (None, Some(other)) => other.into(),
        (None, None) => "pending".into(),
    };
    let expires = d
        .acm_expires_at
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    (status, expires)
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::List(app) => {
            let app = app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "/domains")).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let domains: Vec<Domain> = ctx.decode(raw)?;
            let mut table =
                Table::with_header(["hostname", "kind", "dns target", "certificate", "expires"]);
            for d in &domains {
                let (status, expires) = cert_columns(d);
                table.row([
                    d.hostname.clone(),
                    d.kind.clone(),
                    d.cname.clone().unwrap_or_default(),
                    status,
                    expires,
                ]);
            }
            ctx.print(&table.render())
        }
        Command::Add(args) => {
            let app = args.app.resolve().await?;
            let action = Action::start(format!("Adding {} to {app}", args.hostname));
            let body = DomainCreate {
                hostname: args.hostname.to_string(),
            };
            let raw = ctx.client.post(&app_path(&app, "/domains"), &body).await?;
            let domain: Domain = ctx.decode(raw)?;
            action.done();
            ctx.print(&format!(
                "Point {} at {} (a CNAME, or an A record to this server).\n",
                domain.hostname,
                domain.cname.unwrap_or_default()
            ))
        }
        Command::Remove(args) => {
            let app = args.app.resolve().await?;
            let action = Action::start(format!("Removing {} from {app}", args.hostname));
            ctx.client
                .delete(&app_path(&app, &format!("/domains/{}", args.hostname)))
                .await?;
            action.done();
            Ok(())
        }
    }
}
