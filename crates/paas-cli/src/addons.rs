//! `addons`, `addons:create`, `addons:info`, `addons:attach`, `addons:detach`,
//! `addons:destroy`: Postgres and Redis add-ons, attached to apps by a URL config var.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use paas_wire::addons::{NameOnly, OptionalName};
use paas_wire::{Addon, AddonAttachment, AddonCreate, AttachmentCreate};

use crate::context::{AppArg, app_path};
use crate::output::{self, Action, Table};
use crate::{Context, Error, Result};

/// How long `addons:create` waits for the add-on to accept connections.
const PROVISION_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the app's add-ons (owned or attached)
    #[command(name = "addons")]
    List(AppArg),
    /// Create an add-on (postgresql or redis) and attach it to the app
    #[command(name = "addons:create")]
    Create(CreateArgs),
    /// Show an add-on
    #[command(name = "addons:info")]
    Info(AddonArgs),
    /// Attach an existing add-on to another app
    #[command(name = "addons:attach")]
    Attach(AttachArgs),
    /// Detach an add-on from the app (its config var is unset as a release)
    #[command(name = "addons:detach")]
    Detach(DetachArgs),
    /// Destroy an add-on and its data
    #[command(name = "addons:destroy")]
    Destroy(DestroyArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// postgresql or redis (Heroku's heroku-postgresql[:plan], heroku-redis work too)
    #[arg(value_name = "SERVICE")]
    pub service: String,
    /// The attachment's name: its config var is NAME_URL (default DATABASE or REDIS)
    #[arg(long = "as", value_name = "NAME")]
    pub attachment: Option<String>,
    /// The plan (postgresql: essential-0, essential-1, standard-0; redis: mini, premium-0)
    #[arg(long)]
    pub plan: Option<String>,
    /// Return at once instead of waiting until the add-on accepts connections
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Debug, Args)]
pub struct AddonArgs {
    #[arg(value_name = "ADDON")]
    pub addon: String,
}

#[derive(Debug, Args)]
pub struct AttachArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "ADDON")]
    pub addon: String,
    /// The attachment's name (its config var is NAME_URL)
    #[arg(long = "as", value_name = "NAME")]
    pub attachment: Option<String>,
}

#[derive(Debug, Args)]
pub struct DetachArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// The attachment's name (DATABASE), its config var, or its add-on's name
    #[arg(value_name = "ATTACHMENT")]
    pub attachment: String,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "ADDON")]
    pub addon: String,
    /// The add-on's name again, to confirm
    #[arg(long)]
    pub confirm: Option<String>,
}

fn plan_slug(addon: &Addon) -> &str {
    addon
        .plan
        .name
        .split_once(':')
        .map_or(addon.plan.name.as_str(), |(_, p)| p)
}

fn short_service(addon: &Addon) -> &str {
    addon
        .addon_service
        .name
        .strip_prefix("heroku-")
        .unwrap_or(&addon.addon_service.name)
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::List(app) => {
            let app = app.resolve().await?;
            let raw = ctx.client.get(&app_path(&app, "/addons")).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let addons: Vec<Addon> = ctx.decode(raw)?;
            let attachments: Vec<AddonAttachment> =
                ctx.decode(ctx.client.get("/addon-attachments").await?)?;
            if addons.is_empty() {
                return ctx.print(&format!("No add-ons for app {app}.\n"));
            }
            let mut table = Table::with_header(["add-on", "service", "plan", "state", "as"]);
            for a in &addons {
                let mut used: Vec<String> = attachments
                    .iter()
                    .filter(|t| t.addon.id == a.id)
                    .map(|t| {
                        if t.app.name == app.as_str() {
                            t.config_vars.join(",")
                        } else {
                            format!("{} on {}", t.config_vars.join(","), t.app.name)
                        }
                    })
                    .collect();
                used.sort();
                table.row([
                    a.name.clone(),
                    short_service(a).to_owned(),
                    plan_slug(a).to_owned(),
                    a.state.clone(),
                    used.join("; "),
                ]);
            }
            ctx.print(&table.render())
        }
        Command::Create(args) => {
            let app = args.app.resolve().await?;
            let body = AddonCreate {
                plan: NameOnly {
                    name: match &args.plan {
                        Some(plan) => format!("{}:{plan}", args.service),
                        None => args.service.clone(),
                    },
                },
                attachment: Some(OptionalName {
                    name: args.attachment.clone(),
                }),
                config: None,
                confirm: None,
                name: None,
            };
            let action = Action::start(format!("Creating {} on {app}", args.service));
            let raw = ctx.client.post(&app_path(&app, "/addons"), &body).await?;
            let mut addon: Addon = ctx.decode(raw)?;
            action.done_with(&addon.name);
            if !args.no_wait {
                let action =
                    Action::start(format!("Waiting for {} to accept connections", addon.name));
                let started = Instant::now();
                while addon.state == "provisioning" {
                    if started.elapsed() > PROVISION_TIMEOUT {
                        return Err(Error::Refused(format!(
                            "{} is still provisioning; see paas addons:info {}",
                            addon.name, addon.name
                        )));
                    }
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    addon = ctx.decode(ctx.client.get(&format!("/addons/{}", addon.id)).await?)?;
                }
                action.done_with(format!("{:.1}s", started.elapsed().as_secs_f64()));
            }
            if ctx.json {
                return ctx.print_json(&serde_json::to_value(&addon).unwrap_or_default());
            }
            let vars = addon.config_vars.join(", ");
            match addon.state.as_str() {
                "provisioned" => ctx.print(&format!("Created {} as {vars}\n", addon.name)),
                _ => ctx.print(&format!(
                    "{} is being created; the app gets {vars} as a release when it accepts connections.\n",
                    addon.name
                )),
            }
        }
        Command::Info(args) => {
            let raw = ctx.client.get(&format!("/addons/{}", args.addon)).await?;
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let addon: Addon = ctx.decode(raw)?;
            let attachments: Vec<AddonAttachment> = ctx.decode(
                ctx.client
                    .get(&format!("/addons/{}/addon-attachments", addon.id))
                    .await?,
            )?;
            let mut used: Vec<String> = attachments
                .iter()
                .map(|t| format!("{}::{}", t.app.name, t.name))
                .collect();
            used.sort();
            let rows = [
                ("Service", short_service(&addon).to_owned()),
                ("Plan", plan_slug(&addon).to_owned()),
                ("Attachments", used.join(", ")),
                ("Owning app", addon.app.name.clone()),
                ("Installed at", addon.created_at.to_rfc3339()),
                ("State", addon.state.clone()),
            ];
            ctx.print(&format!(
                "{}{}",
                output::heading(&addon.name),
                output::pairs(&rows)
            ))
        }
        Command::Attach(args) => {
            let app = args.app.resolve().await?;
            let action = Action::start(format!("Attaching {} to {app}", args.addon));
            let body = AttachmentCreate {
                addon: NameOnly {
                    name: args.addon.clone(),
                },
                app: NameOnly {
                    name: app.to_string(),
                },
                confirm: None,
                name: args.attachment.clone(),
                namespace: None,
            };
            let raw = ctx.client.post("/addon-attachments", &body).await?;
            let attachment: AddonAttachment = ctx.decode(raw)?;
            action.done();
            if ctx.json {
                return ctx.print_json(&serde_json::to_value(&attachment).unwrap_or_default());
            }
            ctx.print(&format!(
                "Attached {} to {app} as {}\n",
                attachment.addon.name,
                attachment.config_vars.join(", ")
            ))
        }
        Command::Detach(args) => {
            let app = args.app.resolve().await?;
            let found: Vec<AddonAttachment> = ctx.decode(
                ctx.client
                    .post(
                        "/actions/addon-attachments/resolve",
                        &paas_wire::AttachmentResolve {
                            addon_attachment: args.attachment.clone(),
                            app: Some(app.to_string()),
                            addon_service: None,
                        },
                    )
                    .await?,
            )?;
            let mine: Vec<&AddonAttachment> = found
                .iter()
                .filter(|a| a.app.name == app.as_str())
                .collect();
            let [attachment] = mine.as_slice() else {
                return Err(Error::Refused(format!(
                    "{} names {} attachments of {app}; give the attachment's name (e.g. DATABASE)",
                    args.attachment,
                    mine.len()
                )));
            };
            let action = Action::start(format!(
                "Detaching {} ({}) from {app}",
                attachment.name, attachment.addon.name
            ));
            ctx.client
                .delete(&format!("/addon-attachments/{}", attachment.id))
                .await?;
            action.done_with(format!("unset {}", attachment.config_vars.join(", ")));
            Ok(())
        }
        Command::Destroy(args) => {
            let app = args.app.resolve().await?;
            match args.confirm.as_deref() {
                Some(c) if c == args.addon => {}
                Some(c) => {
                    return Err(Error::Refused(format!(
                        "confirmation {c:?} does not match the add-on {}; nothing was destroyed",
                        args.addon
                    )));
                }
                None => {
                    return Err(Error::Refused(format!(
                        "this destroys {} and all its data, and cannot be undone. To proceed, run again with --confirm {}",
                        args.addon, args.addon
                    )));
                }
            }
            let action = Action::start(format!("Destroying {} on {app}", args.addon));
            ctx.client
                .delete(&app_path(&app, &format!("/addons/{}", args.addon)))
                .await?;
            action.done();
            Ok(())
        }
    }
}
