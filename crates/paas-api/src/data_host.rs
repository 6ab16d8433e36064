//! The part of Heroku's data host (`HEROKU_DATA_HOST`, `/client/v11/…`) that the heroku
//! CLI's `pg:info`, `pg:backups` and `pg:backups:capture` call, on paasd's own port:
//! the CLI keeps HEROKU_HOST's scheme and port and swaps only the host name, and these
//! paths are told apart by their prefix. Backups are paas's verified ones
//! (`addon_backups.rs`): a transfer `succeeded` only when its dump was `verified`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paas_core::addons::Service;
use paas_store::{Addon, Backup, BackupStatus};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::ApiPath;
use crate::{ApiError, AppState, Authenticated, addon_backups, addons, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(database))
        .routes(routes!(capture))
        .routes(routes!(transfers))
        .routes(routes!(transfer))
}

/// A Postgres add-on by id or name; 404 for any other (the CLI says "not yet
/// provisioned" then).
async fn postgres(state: &AppState, key: &str) -> Result<Addon, ApiError> {
    let addon = addons::find(state, key).await?;
    if addon.service != Service::Postgresql || addon.state != paas_store::AddonState::Provisioned {
        return Err(ApiError::NotFound("Couldn't find that database.".into()));
    }
    Ok(addon)
}

/// `7.3 MB`, as Heroku prints sizes.
fn human_bytes(n: i64) -> String {
    let units = ["bytes", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < units.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} bytes")
    } else {
        format!("{v:.1} {}", units[unit])
    }
}

fn row(name: &str, value: impl Into<String>) -> wire::DataInfoRow {
    wire::DataInfoRow {
        name: name.to_owned(),
        values: vec![value.into()],
    }
}

#[utoipa::path(get, path = "/client/v11/databases/{addon}", tag = "data", params(("addon" = String, Path, description = "Add-on id or name")),
    responses((status = 200, body = wire::DataDatabase), crate::openapi::Errors))]
async fn database(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<wire::DataDatabase>, ApiError> {
    let addon = postgres(&state, &addon).await?;
    let facts = state.addons.pg_facts(&addon).await?;
    let last_verified = state.store.last_verified_backup_at(addon.addon_id).await?;
    let version = facts
        .version
        .split_whitespace()
        .next()
        .unwrap_or(&facts.version)
        .to_owned();
    Ok(Json(wire::DataDatabase {
        resource_url: addon.service.url(&addon.credentials, &addon.name),
        info: vec![
            row("Plan", addon.plan.human_name),
            row("Status", "Available"),
            row(
                "Connections",
                format!("{}/{}", facts.connections, facts.connection_limit),
            ),
            row("PG Version", version),
            row(
                "Created",
                addon.created_at.format("%Y-%m-%d %H:%M").to_string(),
            ),
            row("Data Size", human_bytes(facts.size_bytes)),
            row("Tables", facts.tables.to_string()),
            row(
                "Last Verified Backup",
                last_verified.map_or_else(
                    || "none".to_owned(),
                    |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                ),
            ),
            row("Continuous Protection", "Off"),
        ],
    }))
}

/// A backup as a transfer; `from_name` is the attachment it is known by. Its logs are
/// always there (the CLI asks for them with `?verbose=true`, ignored here).
fn present(addon: &Addon, from_name: &str, b: &Backup) -> wire::Transfer {
    let mut logs = vec![wire::TransferLog {
        created_at: b.started_at,
        message: format!("pg_dump of {} started", addon.name),
    }];
    if let Some(at) = b.finished_at {
        logs.push(wire::TransferLog {
            created_at: at,
            message: match (&b.status, &b.reason) {
                (BackupStatus::Verified, _) => {
                    "verified: restored into a scratch database, row counts equal".to_owned()
                }
                (_, Some(reason)) => format!("failed: {reason}"),
                (status, None) => status.as_str().to_owned(),
            },
        });
    }
    wire::Transfer {
        uuid: b.backup_id,
        num: b.num,
        from_type: "pg_dump".into(),
        to_type: "gof3r".into(),
        from_name: from_name.to_owned(),
        to_name: "BACKUP".into(),
        to_url: format!("/addons/{}/backups/{}/download", addon.addon_id, b.name()),
        schedule: None,
        created_at: b.started_at,
        started_at: b.started_at,
        finished_at: b.finished_at,
        canceled_at: None,
        succeeded: b.status == BackupStatus::Verified,
        warnings: 0,
        processed_bytes: b.size_bytes.unwrap_or(0),
        source_bytes: b.size_bytes.unwrap_or(0),
        logs,
    }
}

/// The attachment name of `addon` on `app` (its owner when `None`), else `DATABASE`.
async fn attachment_name(
    state: &AppState,
    addon: &Addon,
    app: Option<uuid::Uuid>,
) -> Result<String, ApiError> {
    let app = app.or(addon.app_id);
    let attachments = state.store.attachments(app, Some(addon.addon_id)).await?;
    Ok(attachments
        .into_iter()
        .next()
        .map_or_else(|| "DATABASE".to_owned(), |a| a.name))
}

/// Captures a backup and verifies it; answers when both are done (the CLI then polls
/// the transfer once and finds it finished).
#[utoipa::path(post, path = "/client/v11/databases/{addon}/backups", tag = "data", params(("addon" = String, Path, description = "Add-on id or name")),
    responses((status = 201, body = wire::Transfer), crate::openapi::Errors))]
async fn capture(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<(StatusCode, Json<wire::Transfer>), ApiError> {
    let addon = postgres(&state, &addon).await?;
    let backup = state.addons.capture(&addon).await?;
    addon_backups::announce_failure(&state, &addon, &backup).await;
    let from = attachment_name(&state, &addon, None).await?;
    Ok((StatusCode::CREATED, Json(present(&addon, &from, &backup))))
}

/// Every backup of the Postgres add-ons attached to `app`, newest first.
async fn app_transfers(state: &AppState, app: &str) -> Result<Vec<wire::Transfer>, ApiError> {
    let app = apps::find(state, app).await?;
    let mut out = Vec::new();
    for attachment in state.store.attachments(Some(app.app_id), None).await? {
        let addon = state.store.addon_by_id(attachment.addon_id).await?;
        if addon.service != Service::Postgresql {
            continue;
        }
        for b in state.store.backups(addon.addon_id).await? {
            out.push(present(&addon, &attachment.name, &b));
        }
    }
    out.sort_by_key(|t| std::cmp::Reverse(t.created_at));
    Ok(out)
}

#[utoipa::path(get, path = "/client/v11/apps/{app}/transfers", tag = "data", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::Transfer>), crate::openapi::Errors))]
async fn transfers(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Transfer>>, ApiError> {
    Ok(Json(app_transfers(&state, &app).await?))
}

#[utoipa::path(get, path = "/client/v11/apps/{app}/transfers/{transfer}", tag = "data", params(("app" = String, Path, description = "App name or id"), ("transfer" = String, Path, description = "The transfer's uuid or number")),
    responses((status = 200, body = wire::Transfer), crate::openapi::Errors))]
async fn transfer(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, key)): ApiPath<(String, String)>,
) -> Result<Json<wire::Transfer>, ApiError> {
    app_transfers(&state, &app)
        .await?
        .into_iter()
        .find(|t| t.uuid.to_string() == key || t.num.to_string() == key)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound("Couldn't find that transfer.".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_herokus() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(7_631_663), "7.6 MB");
        assert_eq!(human_bytes(1_200_000_000), "1.2 GB");
    }
}
