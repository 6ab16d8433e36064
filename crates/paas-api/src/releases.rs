//! `/apps/{app}/releases`: the ledger, read-only but for rollback (which appends).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use paas_core::ReleaseRef;
use paas_store::StoreError;
use paas_wire as wire;

use crate::extract::{ApiJson, ApiPath};
use crate::range::ListRange;
use crate::{ApiError, AppState, Authenticated, apps, present};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/apps/{app}/releases", get(list).post(rollback))
        .route("/apps/{app}/releases/{release}", get(info))
        .route("/apps/{app}/releases/{release}/config-vars", get(config_at))
}

fn release_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that release.".into()),
        other => other.into(),
    }
}

async fn list(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, HeaderMap, Json<Vec<wire::Release>>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let releases = state.store.releases(app.app_id).await?;
    let (status, next, releases) =
        ListRange::from_headers(&headers, "version").page(releases, |r| r.version.to_string());
    let releases = releases
        .iter()
        .map(|r| present::release(r, &token, &state.settings))
        .collect();
    Ok((status, next, Json(releases)))
}

async fn info(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath((app, release)): ApiPath<(String, String)>,
) -> Result<Json<wire::Release>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let release = state
        .store
        .release(app.app_id, &ReleaseRef::parse(&release)?)
        .await
        .map_err(release_not_found)?;
    Ok(Json(present::release(&release, &token, &state.settings)))
}

async fn config_at(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, release)): ApiPath<(String, String)>,
) -> Result<Json<wire::ConfigVars>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let release = state
        .store
        .release(app.app_id, &ReleaseRef::parse(&release)?)
        .await
        .map_err(release_not_found)?;
    Ok(Json(release.config.0))
}

/// `POST /apps/{app}/releases {"release": "<id or version>"}`: roll back.
async fn rollback(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::ReleaseCreate>,
) -> Result<(StatusCode, Json<wire::Release>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let target = ReleaseRef::parse(&body.release)?;
    let release = state
        .store
        .rollback(app.app_id, &target)
        .await
        .map_err(release_not_found)?;
    tracing::info!(app = %app.name, release = %format!("v{}", release.version), description = %release.description, "rolled back");
    crate::logs::release_events(&state, &app.name, &release, &token.name);
    state.nudge.notify_one();
    Ok((
        StatusCode::CREATED,
        Json(present::release(&release, &token, &state.settings)),
    ))
}
