//! `/apps/{app}/config-vars`: every change is one release.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use paas_core::ConfigChange;
use paas_wire as wire;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/apps/{app}/config-vars", get(show).patch(update))
}

async fn show(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::ConfigVars>, ApiError> {
    let app = apps::find(&state, &app).await?;
    Ok(Json(state.store.config_vars(app.app_id).await?.into_map()))
}

/// Sets (string) and removes (`null`) vars in one release; the whole body is checked
/// before anything is stored.
async fn update(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(patch): ApiJson<wire::ConfigVarsPatch>,
) -> Result<Json<wire::ConfigVars>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let change = ConfigChange::parse(patch.iter().map(|(k, v)| (k.as_str(), v.as_deref())))?;
    let (config, release) = state.store.update_config(app.app_id, &change).await?;
    if let Some(release) = release {
        // Names only: config values never reach the logs.
        tracing::info!(app = %app.name, release = %format!("v{}", release.version), description = %release.description, "config changed");
        crate::logs::release_events(&state, &app.name, &release, &token.name);
        state.nudge.notify_one();
    }
    Ok(Json(config.into_map()))
}
