//! Heroku resources paas has no notion of (collaborators, pipelines),
//! answered as "none" for an existing app. The heroku CLI's compound
//! commands (`apps:info`, `domains:add`) read them before doing their real work and
//! fail on a 404.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::ApiPath;
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(collaborators))
        .routes(routes!(pipeline_couplings))
}

/// An empty list: the app exists and has none of these.
async fn none(state: &AppState, app: &str) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    apps::find(state, app).await?;
    Ok(Json(Vec::new()))
}

/// None: every token sees every app; there is no sharing to list.
#[utoipa::path(get, path = "/apps/{app}/collaborators", tag = "absent", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, description = "Always empty", body = Vec<Object>), crate::openapi::Errors))]
async fn collaborators(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    none(&state, &app).await
}

/// Heroku answers 404 for an app outside any pipeline; so does paas, for every app.
#[utoipa::path(get, path = "/apps/{app}/pipeline-couplings", tag = "absent", params(("app" = String, Path, description = "App name or id")),
    responses(crate::openapi::Errors))]
async fn pipeline_couplings(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    apps::find(&state, &app).await?;
    Err(ApiError::NotFound("This app is not in a pipeline.".into()))
}
