//! Heroku resources paas has no notion of (add-ons, collaborators, pipelines, SNI
//! endpoints), answered as "none" for an existing app. The heroku CLI's compound
//! commands (`apps:info`, `domains:add`) read them before doing their real work and
//! fail on a 404.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use crate::extract::ApiPath;
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/apps/{app}/addons", get(none))
        .route("/apps/{app}/collaborators", get(none))
        .route("/apps/{app}/sni-endpoints", get(none))
        .route("/apps/{app}/pipeline-couplings", get(no_pipeline))
}

/// An empty list: the app exists and has none of these.
async fn none(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<serde_json::Value>>, ApiError> {
    apps::find(&state, &app).await?;
    Ok(Json(Vec::new()))
}

/// Heroku answers 404 for an app outside any pipeline; so does paas, for every app.
async fn no_pipeline(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    apps::find(&state, &app).await?;
    Err(ApiError::NotFound("This app is not in a pipeline.".into()))
}
