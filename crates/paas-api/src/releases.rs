//! `/apps/{app}/releases`: the ledger, read-only but for rollback (which appends).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use paas_core::ReleaseRef;
use paas_store::StoreError;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::range::ListRange;
use crate::{ApiError, AppState, Authenticated, apps, present};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, rollback))
        .routes(routes!(info))
        .routes(routes!(config_at))
}

/// The release `release` (id, or version `3`/`v3`) of the app `app` (name or id).
async fn find(state: &AppState, app: &str, release: &str) -> Result<paas_store::Release, ApiError> {
    let app = apps::find(state, app).await?;
    state
        .store
        .release(app.app_id, &ReleaseRef::parse(release)?)
        .await
        .map_err(release_not_found)
}

fn release_not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that release.".into()),
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/apps/{app}/releases", tag = "releases", params(("app" = String, Path, description = "App name or id"), ("Range" = Option<String>, Header, description = "Heroku list range: `name ..; order=desc, max=200`")),
    responses((status = 200, body = Vec<wire::Release>), (status = 206, description = "A page; `Next-Range` names the next", body = Vec<wire::Release>), crate::openapi::Errors))]
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

#[utoipa::path(get, path = "/apps/{app}/releases/{release}", tag = "releases", params(("app" = String, Path, description = "App name or id"), ("release" = String, Path, description = "Release id, or version (`3` or `v3`)")),
    responses((status = 200, body = wire::Release), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath((app, release)): ApiPath<(String, String)>,
) -> Result<Json<wire::Release>, ApiError> {
    let release = find(&state, &app, &release).await?;
    Ok(Json(present::release(&release, &token, &state.settings)))
}

#[utoipa::path(get, path = "/apps/{app}/releases/{release}/config-vars", tag = "releases", params(("app" = String, Path, description = "App name or id"), ("release" = String, Path, description = "Release id, or version (`3` or `v3`)")),
    responses((status = 200, description = "The config of that release", body = BTreeMap<String, String>), crate::openapi::Errors))]
async fn config_at(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, release)): ApiPath<(String, String)>,
) -> Result<Json<wire::ConfigVars>, ApiError> {
    let release = find(&state, &app, &release).await?;
    Ok(Json(release.config.0))
}

/// `POST /apps/{app}/releases {"release": "<id or version>"}`: roll back.
#[utoipa::path(post, path = "/apps/{app}/releases", tag = "releases", params(("app" = String, Path, description = "App name or id")), request_body = wire::ReleaseCreate,
    responses((status = 201, description = "The new release, a copy of the target", body = wire::Release), crate::openapi::Errors))]
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
    state.nudge.app_changed(app.app_id);
    Ok((
        StatusCode::CREATED,
        Json(present::release(&release, &token, &state.settings)),
    ))
}
