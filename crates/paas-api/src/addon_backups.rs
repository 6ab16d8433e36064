//! `/addons/{addon}/backups`: capture (verified by a restore into a scratch database),
//! list, download, verify again, restore (after capturing what it replaces), delete.
//! paas's own paths: the heroku CLI's `pg:backups` talks to Heroku's data host instead.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use paas_store::{Addon, Backup};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, addons};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, capture))
        .routes(routes!(info, delete))
        .routes(routes!(download))
        .routes(routes!(verify))
        .routes(routes!(restore))
}

fn present(addon: &Addon, b: &Backup) -> wire::AddonBackup {
    wire::AddonBackup {
        id: b.backup_id,
        name: b.name(),
        addon: wire::IdName {
            id: addon.addon_id,
            name: addon.name.to_string(),
        },
        status: b.status.as_str().to_owned(),
        reason: b.reason.clone(),
        size_bytes: b.size_bytes,
        row_counts: b
            .row_counts
            .as_ref()
            .map(|c| c.0.clone())
            .unwrap_or_default(),
        started_at: b.started_at,
        finished_at: b.finished_at,
    }
}

/// A failed backup is a loud platform event in the log stream of every app attached to
/// the add-on (`app[api]: Error: backup b002 of … FAILED: …`), never a quiet status.
async fn announce_failure(state: &AppState, addon: &Addon, backup: &Backup) {
    if backup.status != paas_store::BackupStatus::Failed {
        return;
    }
    let reason = backup.reason.as_deref().unwrap_or("no reason given");
    tracing::error!(addon = %addon.name, backup = %backup.name(), reason, "add-on backup failed");
    let apps = match state.store.attachments(None, Some(addon.addon_id)).await {
        Ok(attachments) => attachments.into_iter().map(|a| a.app_name).collect(),
        Err(e) => {
            tracing::error!(addon = %addon.name, error = %e, "the apps to tell of a failed backup are unknown");
            addon.app_name.iter().cloned().collect::<Vec<_>>()
        }
    };
    for app in apps {
        state.logs.publish(
            &app,
            paas_logs::LogLine::api(format!(
                "Error: backup {} of {} FAILED: {reason}",
                backup.name(),
                addon.name
            )),
        );
    }
}

/// A backup of `addon` by name (`b001`, or `a002` for a scheduled one), number or id.
async fn find(state: &AppState, addon: &Addon, key: &str) -> Result<Backup, ApiError> {
    let num = key
        .trim_start_matches(['a', 'A', 'b', 'B'])
        .parse::<i32>()
        .ok();
    state
        .store
        .backups(addon.addon_id)
        .await?
        .into_iter()
        .find(|b| Some(b.num) == num || b.backup_id.to_string() == key)
        .ok_or_else(|| ApiError::NotFound("Couldn't find that backup.".into()))
}

/// The add-on's backups, newest first.
#[utoipa::path(get, path = "/addons/{addon}/backups", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = Vec<wire::AddonBackup>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<Vec<wire::AddonBackup>>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let backups = state.store.backups(addon.addon_id).await?;
    Ok(Json(backups.iter().map(|b| present(&addon, b)).collect()))
}

/// Captures a backup and verifies it by restoring it into a scratch database; answers
/// when both are done, `verified` or `failed` with the reason.
#[utoipa::path(post, path = "/addons/{addon}/backups", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 201, body = wire::AddonBackup), crate::openapi::Errors))]
async fn capture(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<(StatusCode, Json<wire::AddonBackup>), ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let backup = state.addons.capture(&addon).await?;
    announce_failure(&state, &addon, &backup).await;
    Ok((StatusCode::CREATED, Json(present(&addon, &backup))))
}

#[utoipa::path(get, path = "/addons/{addon}/backups/{backup}", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id"), ("backup" = String, Path, description = "b001, 1 or the backup's id")),
    responses((status = 200, body = wire::AddonBackup), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((addon, backup)): ApiPath<(String, String)>,
) -> Result<Json<wire::AddonBackup>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let backup = find(&state, &addon, &backup).await?;
    Ok(Json(present(&addon, &backup)))
}

/// Deletes a backup and its file.
#[utoipa::path(delete, path = "/addons/{addon}/backups/{backup}", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id"), ("backup" = String, Path, description = "b001, 1 or the backup's id")),
    responses((status = 200, body = wire::AddonBackup), crate::openapi::Errors))]
async fn delete(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((addon, backup)): ApiPath<(String, String)>,
) -> Result<Json<wire::AddonBackup>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let backup = find(&state, &addon, &backup).await?;
    state.addons.delete_backup(&addon, &backup).await?;
    Ok(Json(present(&addon, &backup)))
}

/// The dump itself (`pg_dump` custom format, for `pg_restore`).
#[utoipa::path(get, path = "/addons/{addon}/backups/{backup}/download", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id"), ("backup" = String, Path, description = "b001, 1 or the backup's id")),
    responses((status = 200, description = "pg_dump custom format", content_type = "application/octet-stream", body = Vec<u8>), crate::openapi::Errors))]
async fn download(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((addon, backup)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let backup = find(&state, &addon, &backup).await?;
    let path = state.addons.backup_file(&addon, &backup);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|_| ApiError::NotFound(format!("{} has no file.", backup.name())))?;
    let length = file
        .metadata()
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))?
        .len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_LENGTH, length.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "attachment; filename=\"{}-{}.dump\"",
                    addon.name,
                    backup.name()
                ),
            ),
        ],
        body,
    )
        .into_response())
}

/// Verifies a backup again: restores its file into a scratch database and compares row
/// counts with those taken at capture (a damaged file is `failed`).
#[utoipa::path(post, path = "/addons/{addon}/backups/{backup}/actions/verify", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id"), ("backup" = String, Path, description = "b001, 1 or the backup's id")),
    responses((status = 200, body = wire::AddonBackup), crate::openapi::Errors))]
async fn verify(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((addon, backup)): ApiPath<(String, String)>,
) -> Result<Json<wire::AddonBackup>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let backup = find(&state, &addon, &backup).await?;
    let backup = state.addons.verify(&addon, &backup).await?;
    announce_failure(&state, &addon, &backup).await;
    Ok(Json(present(&addon, &backup)))
}

/// Restores a verified backup into the add-on's own database, after capturing (and
/// verifying) a backup of what it replaces; `confirm` is the owning app's name.
#[utoipa::path(post, path = "/addons/{addon}/backups/{backup}/actions/restore", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id"), ("backup" = String, Path, description = "b001, 1 or the backup's id")),
    request_body = wire::BackupRestore,
    responses((status = 200, body = wire::BackupRestored), crate::openapi::Errors))]
async fn restore(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((addon, backup)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<wire::BackupRestore>,
) -> Result<Json<wire::BackupRestored>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let owner = addon.app_name.clone().unwrap_or_default();
    if body.confirm != owner {
        return Err(ApiError::Invalid(format!(
            "Confirm the restore with the name of the app that owns {} ({owner}): it replaces the whole database.",
            addon.name
        )));
    }
    let backup = find(&state, &addon, &backup).await?;
    let safety = state.addons.restore(&addon, &backup).await?;
    Ok(Json(wire::BackupRestored {
        restored: present(&addon, &backup),
        safety: present(&addon, &safety),
    }))
}
