//! paas's own add-on operations (the heroku CLI's `pg:*` talk to Heroku's data host, so
//! there is no Heroku route to follow):
//! - `/addons/{addon}/backup-schedule` (GET, PUT, DELETE) and
//!   `/apps/{app}/backup-schedules`: daily scheduled backups, run by paasd
//!   (`paas_addons::schedule`);
//! - `POST /addons/{addon}/actions/rotate-credentials`: a new password, a release on
//!   every attached app;
//! - `POST /apps/{app}/addons/{addon}/actions/console`: an attached one-off dyno running
//!   `psql` or `redis-cli` against the add-on (`paas_addons::console`), read and fed
//!   through `/apps/{app}/dynos/{name}/attach` like `paas run`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use paas_core::addons::Service;
use paas_core::backup_schedule::{BackupAt, DEFAULT_KEEP, parse_keep};
use paas_store::{Addon, BackupSchedule};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dynos::{OneOff, start_one_off};
use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, addons, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(schedule_info, schedule_set, schedule_delete))
        .routes(routes!(schedules_of_app))
        .routes(routes!(rotate))
        .routes(routes!(console))
}

fn present(s: &BackupSchedule) -> wire::BackupSchedule {
    wire::BackupSchedule {
        addon: wire::IdName {
            id: s.addon_id,
            name: s.addon_name.clone(),
        },
        at: s.at().display(),
        timezone: s.timezone.clone(),
        keep: i64::from(s.keep),
        next_at: s.next_at,
        last_run_for: s.last_due_at,
    }
}

fn postgres_only(addon: &Addon, what: &str) -> Result<(), ApiError> {
    if addon.service == Service::Postgresql {
        Ok(())
    } else {
        Err(ApiError::Invalid(format!(
            "{} is a {} add-on: only Postgres add-ons have {what}.",
            addon.name, addon.service
        )))
    }
}

/// The add-on named `addon` and its schedule; a 404 when it has none.
async fn schedule_of(state: &AppState, addon: &str) -> Result<(Addon, BackupSchedule), ApiError> {
    let addon = addons::find(state, addon).await?;
    let schedule = state
        .store
        .backup_schedule(addon.addon_id, Utc::now())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("{} has no backup schedule.", addon.name)))?;
    Ok((addon, schedule))
}

/// The add-on's daily backup schedule.
#[utoipa::path(get, path = "/addons/{addon}/backup-schedule", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = wire::BackupSchedule), crate::openapi::Errors))]
async fn schedule_info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<wire::BackupSchedule>, ApiError> {
    let (_, schedule) = schedule_of(&state, &addon).await?;
    Ok(Json(present(&schedule)))
}

/// Sets (or replaces) the daily backup schedule: a verified backup at `at` every day,
/// the newest `keep` scheduled ones kept.
#[utoipa::path(put, path = "/addons/{addon}/backup-schedule", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    request_body = wire::BackupScheduleSet,
    responses((status = 200, body = wire::BackupSchedule), crate::openapi::Errors))]
async fn schedule_set(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
    ApiJson(body): ApiJson<wire::BackupScheduleSet>,
) -> Result<Json<wire::BackupSchedule>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    postgres_only(&addon, "backups")?;
    let at = BackupAt::parse(&body.at)?;
    let keep = body
        .keep
        .map(parse_keep)
        .transpose()?
        .unwrap_or(DEFAULT_KEEP);
    let schedule = state
        .store
        .set_backup_schedule(addon.addon_id, &at, keep)
        .await?;
    tracing::info!(addon = %addon.name, at = %at.display(), keep, "backup schedule set");
    Ok(Json(present(&schedule)))
}

/// Removes the schedule (its backups stay).
#[utoipa::path(delete, path = "/addons/{addon}/backup-schedule", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = wire::BackupSchedule), crate::openapi::Errors))]
async fn schedule_delete(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<wire::BackupSchedule>, ApiError> {
    let (addon, schedule) = schedule_of(&state, &addon).await?;
    state.store.delete_backup_schedule(addon.addon_id).await?;
    Ok(Json(present(&schedule)))
}

/// The backup schedules of the add-ons attached to an app.
#[utoipa::path(get, path = "/apps/{app}/backup-schedules", tag = "addons", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::BackupSchedule>), crate::openapi::Errors))]
async fn schedules_of_app(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::BackupSchedule>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let attached: Vec<uuid::Uuid> = state
        .store
        .attachments(Some(app.app_id), None)
        .await?
        .into_iter()
        .map(|a| a.addon_id)
        .collect();
    let schedules = state.store.backup_schedules(Utc::now()).await?;
    Ok(Json(
        schedules
            .iter()
            .filter(|s| attached.contains(&s.addon_id))
            .map(present)
            .collect(),
    ))
}

/// A new random password for a Postgres add-on: changed on its server, then every
/// attachment's URL is set anew as a release on its app; the old password is refused
/// from then on. `confirm` is the owning app's name.
#[utoipa::path(post, path = "/addons/{addon}/actions/rotate-credentials", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    request_body = wire::CredentialsRotate,
    responses((status = 200, body = wire::CredentialsRotated), crate::openapi::Errors))]
async fn rotate(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
    ApiJson(body): ApiJson<wire::CredentialsRotate>,
) -> Result<Json<wire::CredentialsRotated>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let owner = addon.app_name.clone().unwrap_or_default();
    if body.confirm != owner {
        return Err(ApiError::Invalid(format!(
            "Confirm the rotation with the name of the app that owns {} ({owner}): every attached app gets a new URL and the old password stops working.",
            addon.name
        )));
    }
    postgres_only(&addon, "rotatable credentials")?;
    let releases = state.addons.rotate_credentials(&addon).await?;
    Ok(Json(wire::CredentialsRotated {
        addon: wire::IdName {
            id: addon.addon_id,
            name: addon.name.to_string(),
        },
        releases: releases
            .into_iter()
            .map(|r| wire::AppRelease {
                app: wire::IdName {
                    id: r.app_id,
                    name: r.app_name,
                },
                version: r.version,
                description: r.description,
            })
            .collect(),
    }))
}

/// An attached one-off dyno of the app running the add-on's client (`psql` for
/// Postgres, `redis-cli` for Redis) from the add-on's service image, on the app's
/// network, with the credentials in its environment. Attach to it (and feed its stdin)
/// at `/apps/{app}/dynos/{name}/attach`.
#[utoipa::path(post, path = "/apps/{app}/addons/{addon}/actions/console", tag = "addons", params(("app" = String, Path, description = "App name or id"), ("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 201, body = wire::Dyno), crate::openapi::Errors))]
async fn console(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, addon)): ApiPath<(String, String)>,
) -> Result<(StatusCode, Json<wire::Dyno>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let addon = addons::find(&state, &addon).await?;
    let attached = state
        .store
        .attachments(Some(app.app_id), Some(addon.addon_id))
        .await?;
    if attached.is_empty() {
        return Err(ApiError::Invalid(format!(
            "{} is not attached to {}: only attached apps reach it.",
            addon.name, app.name
        )));
    }
    if addon.state != paas_store::AddonState::Provisioned {
        return Err(ApiError::Invalid(format!(
            "{} is {}: wait until it is provisioned.",
            addon.name,
            addon.state.as_str()
        )));
    }
    let console = paas_addons::console::console(&addon);
    let dyno = start_one_off(
        &state,
        &app,
        OneOff {
            command: &console.command,
            image: Some(console.image.to_owned()),
            env: console.env,
            attach: true,
            // Read and fed over HTTP line by line, as `paas run`.
            tty: false,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dyno)))
}
