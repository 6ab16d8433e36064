//! `ps` and `ps:scale`: the formation (how many dynos of each process type should run)
//! and the dynos that do.
//!
//! Relative changes (`web+2`) are resolved here against the formation just read, with
//! `paas-core`'s bounds, and sent as absolute quantities: the API only knows absolute
//! ones, as Heroku's does. The dynos endpoint arrives with the supervisor; until a server
//! has it, `ps` shows the formation alone (a 404 there is not an error).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use paas_core::{AppName, ProcessType, Quantity, ScaleChange};
use paas_wire::{Dyno, Formation, FormationBatchUpdate, FormationUpdate, StartFailure};

use crate::context::{AppArg, app_path};
use crate::output::{self, Action, Table};
use crate::{Context, Error, Result};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the formation and the dynos of an app
    #[command(name = "ps")]
    Show(AppArg),
    /// Scale process types: web=3, worker+1, worker-1 (no argument: show the scale)
    #[command(name = "ps:scale")]
    Scale(ScaleArgs),
    /// Restart dynos one by one: all, one process type (web), or one dyno (web.2)
    #[command(name = "ps:restart")]
    Restart(RestartArgs),
}

#[derive(Debug, Args)]
pub struct RestartArgs {
    #[command(flatten)]
    pub app: AppArg,
    /// A process type or a dyno name [default: every dyno]
    #[arg(value_name = "TYPE|DYNO")]
    pub target: Option<String>,
}

#[derive(Debug, Args)]
pub struct ScaleArgs {
    #[command(flatten)]
    pub app: AppArg,
    #[arg(value_name = "TYPE=N|TYPE+N|TYPE-N", value_parser = ScaleChange::parse_arg)]
    pub changes: Vec<(ProcessType, ScaleChange)>,
}

pub async fn run(ctx: &Context, cmd: Command) -> Result<()> {
    match cmd {
        Command::Show(app) => show(ctx, &app.resolve().await?).await,
        Command::Scale(args) => scale(ctx, args).await,
        Command::Restart(args) => restart(ctx, args).await,
    }
}

async fn restart(ctx: &Context, args: RestartArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let (what, path) = match &args.target {
        Some(target) => {
            // Refuse garbage locally: a process type or a dyno name.
            if target.contains('.') {
                paas_core::DynoName::parse(target)?;
            } else {
                ProcessType::parse(target)?;
            }
            (
                format!("{target} dynos"),
                app_path(&app, &format!("/dynos/{target}")),
            )
        }
        None => ("all dynos".to_owned(), app_path(&app, "/dynos")),
    };
    let action = crate::output::Action::start(format!("Restarting {what} on {app}"));
    ctx.client.delete(&path).await?;
    action.done();
    Ok(())
}

async fn show(ctx: &Context, app: &AppName) -> Result<()> {
    let formation_raw = ctx.client.get(&app_path(app, "/formation")).await?;
    let dynos_raw = ctx.client.get_optional(&app_path(app, "/dynos")).await?;
    let failures_raw = ctx
        .client
        .get_optional(&app_path(app, "/start-failures"))
        .await?;
    if ctx.json {
        return ctx.print_json(&serde_json::json!({
            "formation": formation_raw,
            "dynos": dynos_raw,
            "start_failures": failures_raw,
        }));
    }
    let formation: Vec<Formation> = ctx.decode(formation_raw)?;
    let dynos: Option<Vec<Dyno>> = match dynos_raw {
        Some(raw) => Some(ctx.decode(raw)?),
        None => None,
    };
    let failures: Vec<StartFailure> = match failures_raw {
        Some(raw) => ctx.decode(raw)?,
        None => Vec::new(),
    };
    let mut text = show_text(app, &formation, dynos.as_deref(), Utc::now());
    text.push_str(&failures_text(&failures));
    ctx.print(&text)
}

/// The engine's refusal to start the app's dynos, said where the missing dynos are.
fn failures_text(failures: &[StartFailure]) -> String {
    failures
        .iter()
        .map(|f| {
            format!(
                "\n !    Dynos of v{} cannot be started ({} attempts; paasd keeps retrying): {}\n",
                f.release.version, f.failures, f.reason
            )
        })
        .collect()
}

fn show_text(
    app: &AppName,
    formation: &[Formation],
    dynos: Option<&[Dyno]>,
    now: DateTime<Utc>,
) -> String {
    if formation.is_empty() {
        return format!("{app} has no process types yet: deploy it with `git push paas main`.\n");
    }
    let mut table = Table::new();
    for f in sorted(formation) {
        table.row([
            format!("{}:", f.process_type),
            format!("{} ({})", f.quantity, f.size),
            f.command.clone(),
        ]);
    }
    let mut text = format!(
        "{}{}",
        output::heading(format!("{app} Formation")),
        table.render()
    );
    if let Some(dynos) = dynos {
        text.push('\n');
        text.push_str(&output::heading(format!("{app} Dynos")));
        if dynos.is_empty() {
            text.push_str("No dynos are running.\n");
        }
        let mut dynos = dynos.to_vec();
        dynos.sort_by_key(|d| dyno_order(&d.name));
        let mut table = Table::new();
        for d in &dynos {
            let mut row = vec![
                format!("{}:", d.name),
                d.state.clone(),
                output::timestamp(d.updated_at, now),
                d.release
                    .as_ref()
                    .map(|r| format!("v{}", r.version))
                    .unwrap_or_default(),
            ];
            if let Some(node) = &d.node {
                row.push(format!("on {node}"));
            }
            table.row(row);
        }
        text.push_str(&table.render());
    }
    text
}

/// `web` first, then the other types by name: the order people scan for.
fn sorted(formation: &[Formation]) -> Vec<&Formation> {
    let mut rows: Vec<&Formation> = formation.iter().collect();
    rows.sort_by_key(|f| (f.process_type != "web", f.process_type.clone()));
    rows
}

/// Sorts `web.2` before `web.10`.
fn dyno_order(name: &str) -> (bool, String, u64) {
    match name.rsplit_once('.') {
        Some((kind, n)) => (
            kind != "web",
            kind.to_owned(),
            n.parse().unwrap_or(u64::MAX),
        ),
        None => (true, name.to_owned(), u64::MAX),
    }
}

/// `web at 3:basic, worker at 1:basic`
fn running_summary(formation: &[&Formation]) -> String {
    formation
        .iter()
        .map(|f| format!("{} at {}:{}", f.process_type, f.quantity, f.size))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The absolute quantities to send. `current` is the formation as read, needed only
/// when a change is relative; a type given twice is refused as ambiguous.
fn resolve_changes(
    app: &AppName,
    changes: &[(ProcessType, ScaleChange)],
    current: &[Formation],
) -> Result<Vec<FormationUpdate>> {
    let mut updates: BTreeMap<&ProcessType, i64> = BTreeMap::new();
    for (kind, change) in changes {
        let now = match change {
            ScaleChange::To(_) => Quantity::new(0)?,
            ScaleChange::By(_) => {
                let row = current
                    .iter()
                    .find(|f| f.process_type == kind.as_str())
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            current.iter().map(|f| f.process_type.as_str()).collect();
                        Error::Refused(format!(
                            "{app} has no process type {kind} (its types: {})",
                            if known.is_empty() {
                                "none yet".to_owned()
                            } else {
                                known.join(", ")
                            }
                        ))
                    })?;
                Quantity::new(row.quantity)?
            }
        };
        let quantity = change.resolve(now)?;
        if updates.insert(kind, i64::from(quantity.get())).is_some() {
            return Err(Error::Refused(format!(
                "process type {kind} is given twice; give each type once"
            )));
        }
    }
    Ok(updates
        .into_iter()
        .map(|(kind, quantity)| FormationUpdate {
            process_type: kind.to_string(),
            quantity: Some(paas_wire::QuantityChange::To(quantity)),
            size: None,
        })
        .collect())
}

async fn scale(ctx: &Context, args: ScaleArgs) -> Result<()> {
    let app = args.app.resolve().await?;
    let path = app_path(&app, "/formation");
    let needs_current = args.changes.is_empty()
        || args
            .changes
            .iter()
            .any(|(_, c)| matches!(c, ScaleChange::By(_)));
    let current: Vec<Formation> = if needs_current {
        let raw = ctx.client.get(&path).await?;
        if args.changes.is_empty() {
            // `ps:scale` alone shows the scale, like heroku.
            if ctx.json {
                return ctx.print_json(&raw);
            }
            let formation: Vec<Formation> = ctx.decode(raw)?;
            let line = sorted(&formation)
                .iter()
                .map(|f| format!("{}={}:{}", f.process_type, f.quantity, f.size))
                .collect::<Vec<_>>()
                .join(" ");
            return ctx.print(&line);
        }
        ctx.decode(raw)?
    } else {
        Vec::new()
    };
    let updates = resolve_changes(&app, &args.changes, &current)?;
    let action = Action::start("Scaling dynos");
    let raw = ctx
        .client
        .patch(
            &path,
            &FormationBatchUpdate {
                updates: updates.clone(),
            },
        )
        .await?;
    let result: Vec<Formation> = ctx.decode(raw.clone())?;
    let changed: Vec<&Formation> = sorted(&result)
        .into_iter()
        .filter(|f| updates.iter().any(|u| u.process_type == f.process_type))
        .collect();
    action.done_with(format!("now running {}", running_summary(&changed)));
    if ctx.json {
        ctx.print_json(&raw)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn formation(kind: &str, quantity: i64) -> Formation {
        serde_json::from_value(serde_json::json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "type": kind,
            "quantity": quantity,
            "size": "basic",
            "command": format!("run-{kind}"),
            "app": {"id": "00000000-0000-0000-0000-000000000000", "name": "demo"},
            "created_at": "2026-11-22T14:00:00Z",
            "updated_at": "2026-11-22T14:00:00Z"
        }))
        .unwrap()
    }

    fn demo() -> AppName {
        AppName::parse("demo").unwrap()
    }

    fn changes(args: &[&str]) -> Vec<(ProcessType, ScaleChange)> {
        args.iter()
            .map(|a| ScaleChange::parse_arg(a).unwrap())
            .collect()
    }

    fn quantities(updates: &[FormationUpdate]) -> Vec<(String, i64)> {
        updates
            .iter()
            .map(|u| match u.quantity {
                Some(paas_wire::QuantityChange::To(n)) => (u.process_type.clone(), n),
                other => panic!("not an absolute quantity: {other:?}"),
            })
            .collect()
    }

    #[test]
    fn relative_changes_resolve_against_the_current_formation() {
        let current = [formation("web", 2), formation("worker", 1)];
        let updates = resolve_changes(&demo(), &changes(&["web+1", "worker-1"]), &current).unwrap();
        assert_eq!(
            quantities(&updates),
            [("web".into(), 3), ("worker".into(), 0)]
        );
        let updates = resolve_changes(&demo(), &changes(&["web=5"]), &[]).unwrap();
        assert_eq!(quantities(&updates), [("web".into(), 5)]);
    }

    #[test]
    fn impossible_changes_are_refused_before_sending() {
        let current = [formation("web", 1)];
        assert!(resolve_changes(&demo(), &changes(&["web-2"]), &current).is_err());
        assert!(resolve_changes(&demo(), &changes(&["web+100"]), &current).is_err());
        let err = resolve_changes(&demo(), &changes(&["clock+1"]), &current).unwrap_err();
        assert!(err.to_string().contains("no process type clock"), "{err}");
        assert!(resolve_changes(&demo(), &changes(&["web=1", "web=2"]), &current).is_err());
    }

    #[test]
    fn the_summary_reads_like_herokus() {
        let f = [formation("web", 3), formation("worker", 1)];
        let refs: Vec<&Formation> = f.iter().collect();
        assert_eq!(running_summary(&refs), "web at 3:basic, worker at 1:basic");
    }

    #[test]
    fn ps_shows_formation_then_dynos_when_the_server_has_them() {
        let f = [formation("worker", 0), formation("web", 2)];
        let now = DateTime::parse_from_rfc3339("2026-11-22T14:03:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            show_text(&demo(), &f, None, now),
            "=== demo Formation\nweb:     2 (basic)  run-web\nworker:  0 (basic)  run-worker\n"
        );
        let dynos: Vec<Dyno> = serde_json::from_value(serde_json::json!([
            {"name": "web.10", "state": "up", "updated_at": "2026-11-22T14:00:00Z",
             "release": {"id": "00000000-0000-0000-0000-000000000003", "version": 3},
             "id": "00000000-0000-0000-0000-00000000000a", "type": "web", "command": "serve",
             "size": "basic", "app": {"id": "00000000-0000-0000-0000-000000000001", "name": "demo"},
             "attach_url": null, "created_at": "2026-11-22T14:00:00Z"},
            {"name": "web.2", "state": "starting", "updated_at": "2026-11-22T14:02:00Z",
             "release": {"id": "00000000-0000-0000-0000-000000000003", "version": 3},
             "id": "00000000-0000-0000-0000-00000000000b", "type": "web", "command": "serve",
             "size": "basic", "app": {"id": "00000000-0000-0000-0000-000000000001", "name": "demo"},
             "attach_url": null, "created_at": "2026-11-22T14:02:00Z"}
        ]))
        .unwrap();
        let text = show_text(&demo(), &f, Some(&dynos), now);
        assert!(
            text.ends_with(
                "=== demo Dynos\n\
                 web.2:   starting  2026/11/22 14:02:00 +0000 (~ 1m ago)  v3\n\
                 web.10:  up        2026/11/22 14:00:00 +0000 (~ 3m ago)  v3\n"
            ),
            "{text}"
        );
        assert!(show_text(&demo(), &[], None, now).contains("no process types"));
    }

    #[test]
    fn ps_shows_each_dynos_node_on_a_cluster() {
        let f = [formation("web", 2)];
        let now = DateTime::parse_from_rfc3339("2026-11-22T14:03:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let dyno = |name: &str, node: &str| {
            serde_json::json!({"name": name, "state": "up", "updated_at": "2026-11-22T14:00:00Z",
             "release": {"id": "00000000-0000-0000-0000-000000000003", "version": 3},
             "node": node, "id": "00000000-0000-0000-0000-00000000000a", "type": "web",
             "command": "serve", "size": "basic", "attach_url": null,
             "app": {"id": "00000000-0000-0000-0000-000000000001", "name": "demo"},
             "created_at": "2026-11-22T14:00:00Z"})
        };
        let dynos: Vec<Dyno> = serde_json::from_value(serde_json::json!([
            dyno("web.1", "node-a"),
            dyno("web.2", "node-b")
        ]))
        .unwrap();
        let text = show_text(&demo(), &f, Some(&dynos), now);
        assert!(
            text.ends_with(
                "web.1:  up  2026/11/22 14:00:00 +0000 (~ 3m ago)  v3  on node-a\n\
                 web.2:  up  2026/11/22 14:00:00 +0000 (~ 3m ago)  v3  on node-b\n"
            ),
            "{text}"
        );
    }
}
