//! `certs`, `certs:add`, `certs:info`, `certs:remove` (uploaded certificates) and
//! `certs:auto`, `certs:auto:enable`, `certs:auto:disable`, `certs:auto:refresh`
//! (automatic ACME certificates for custom domains), as the heroku CLI has them.

use clap::{Args, Subcommand};
use paas_wire::{AcmUpdate, App, Domain, SniEndpoint, SniEndpointCreate};

use crate::context::{AppArg, app_path};
use crate::output::{Action, Table, pairs};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the app's uploaded certificates
    #[command(name = "certs")]
    List(AppArg),
    /// Upload a certificate chain and its private key (PEM files)
    #[command(name = "certs:add")]
    Add(AddArgs),
    /// Show one uploaded certificate
    #[command(name = "certs:info")]
    Info(NameArgs),
    /// Remove an uploaded certificate
    #[command(name = "certs:remove")]
    Remove(NameArgs),
    /// Show automatic certificate management and each custom domain's certificate
    #[command(name = "certs:auto")]
    Auto(AppArg),
    /// Turn on automatic certificates for the app's custom domains
    #[command(name = "certs:auto:enable")]
    Enable(AppArg),
    /// Turn off automatic certificates (their certificates stop being served)
    #[command(name = "certs:auto:disable")]
    Disable(AppArg),
    /// Order new certificates for every custom domain now
    #[command(name = "certs:auto:refresh")]
    Refresh(AppArg),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The certificate chain, leaf first (PEM)
    #[arg(value_name = "CRT")]
    pub cert: std::path::PathBuf,
    /// Its private key (PEM)
    #[arg(value_name = "KEY")]
    pub key: std::path::PathBuf,
}

#[derive(Debug, Args)]
pub struct NameArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The certificate's name (`paas certs` lists them); optional with only one
    #[arg(long)]
    pub name: Option<String>,
}

fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::Refused(format!("cannot read {}: {e}", path.display())))
}

fn details(e: &SniEndpoint) -> String {
    let c = &e.ssl_cert;
    let mut out = pairs(&[
        ("Name", e.name.clone()),
        ("Common Name(s)", c.cert_domains.join(", ")),
        (
            "Expires At",
            c.expires_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("Issuer", c.issuer.clone()),
        (
            "Starts At",
            c.starts_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        ),
        ("Subject", c.subject.clone()),
        ("Domains", e.domains.len().to_string()),
    ]);
    out.push_str(if c.self_signed {
        "The certificate is self signed.\n"
    } else {
        "The certificate is signed by a certificate authority.\n"
    });
    out
}

/// The one endpoint `--name` picks, or the only one.
async fn pick(
    ctx: &Context,
    app: &paas_core::AppName,
    name: Option<String>,
) -> Result<SniEndpoint> {
    let all: Vec<SniEndpoint> =
        ctx.decode(ctx.client.get(&app_path(app, "/sni-endpoints")).await?)?;
    let mut matching: Vec<SniEndpoint> = all
        .into_iter()
        .filter(|e| name.as_ref().is_none_or(|n| *n == e.name))
        .collect();
    match matching.len() {
        1 => Ok(matching.remove(0)),
        0 if name.is_none() => Err(Error::Refused(format!("{app} has no SSL certificates"))),
        0 => Err(Error::Refused("no certificate of that name".into())),
        _ => Err(Error::Refused(
            "the app has several certificates: pass --name".into(),
        )),
    }
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::List(app) => {
            let app = app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "/sni-endpoints")).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let all: Vec<SniEndpoint> = ctx.decode(raw)?;
            if all.is_empty() {
                return ctx.print(&format!(
                    "{app} has no SSL certificates.\nUse paas certs:add CRT KEY to add one.\n"
                ));
            }
            let mut table = Table::with_header(["name", "common name(s)", "expires", "domains"]);
            for e in &all {
                table.row([
                    e.name.clone(),
                    e.ssl_cert.cert_domains.join(", "),
                    e.ssl_cert
                        .expires_at
                        .format("%Y-%m-%d %H:%M UTC")
                        .to_string(),
                    e.domains.len().to_string(),
                ]);
            }
            ctx.print(&table.render())
        }
        Command::Add(args) => {
            let app = args.app.resolve().await?;
            let body = SniEndpointCreate {
                certificate_chain: read(&args.cert)?,
                private_key: read(&args.key)?,
            };
            let action = Action::start(format!("Adding SSL certificate to {app}"));
            let raw = ctx
                .client
                .post(&app_path(&app, "/sni-endpoints"), &body)
                .await?;
            let made: SniEndpoint = ctx.decode(raw)?;
            action.done();
            ctx.print(&details(&made))
        }
        Command::Info(args) => {
            let app = args.app.resolve().await?;
            let e = pick(ctx, &app, args.name).await?;
            ctx.print(&details(&e))
        }
        Command::Remove(args) => {
            let app = args.app.resolve().await?;
            let e = pick(ctx, &app, args.name).await?;
            let action = Action::start(format!("Removing SSL certificate {} from {app}", e.name));
            ctx.client
                .delete(&app_path(&app, &format!("/sni-endpoints/{}", e.name)))
                .await?;
            action.done();
            Ok(())
        }
        Command::Auto(app) => {
            let app = app.resolve().await?;
            let shown: App = ctx.decode(ctx.client.get(&app_path(&app, "")).await?)?;
            let domains: Vec<Domain> =
                ctx.decode(ctx.client.get(&app_path(&app, "/domains")).await?)?;
            if ctx.json {
                return ctx.print_json(&serde_json::to_value(&domains).unwrap_or_default());
            }
            if !shown.acm {
                return ctx.print(&format!(
                    "Automatic certificate management is disabled on {app}.\n"
                ));
            }
            let mut out = format!("Automatic certificate management is enabled on {app}.\n");
            out.push_str(&domain_table(&domains));
            ctx.print(&out)
        }
        Command::Enable(app) => {
            let app = app.resolve().await?;
            let action = Action::start(format!(
                "Enabling automatic certificate management on {app}"
            ));
            ctx.client
                .post(&app_path(&app, "/acm"), &serde_json::json!({}))
                .await?;
            action.done();
            Ok(())
        }
        Command::Disable(app) => {
            let app = app.resolve().await?;
            let action = Action::start(format!(
                "Disabling automatic certificate management on {app}"
            ));
            ctx.client.delete(&app_path(&app, "/acm")).await?;
            action.done();
            Ok(())
        }
        Command::Refresh(app) => {
            let app = app.resolve().await?;
            let action = Action::start(format!("Refreshing certificates of {app}"));
            let body = AcmUpdate {
                acm_refresh: Some(true),
            };
            ctx.client.patch(&app_path(&app, "/acm"), &body).await?;
            action.done();
            Ok(())
        }
    }
}

/// Custom domains with their certificate status, reason and expiry.
pub fn domain_table(domains: &[Domain]) -> String {
    let mut table = Table::with_header(["domain", "certificate", "expires", "reason"]);
    for d in domains.iter().filter(|d| d.kind == "custom") {
        let status = match (&d.sni_endpoint, d.acm_status.as_deref()) {
            (Some(endpoint), _) => format!(
                "uploaded ({})",
                endpoint["name"].as_str().unwrap_or_default()
            ),
            (None, Some("cert issued")) => "issued".to_owned(),
            (None, Some(other)) => other.to_owned(),
            (None, None) => "pending".to_owned(),
        };
        table.row([
            d.hostname.clone(),
            status,
            d.acm_expires_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            d.acm_status_reason.clone().unwrap_or_default(),
        ]);
    }
    if table.is_empty() {
        return "No custom domains: add one with paas domains:add HOSTNAME.\n".into();
    }
    table.render()
}
