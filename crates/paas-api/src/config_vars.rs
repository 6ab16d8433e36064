//! `/apps/{app}/config-vars`: every change is one release.

use axum::Json;
use axum::extract::State;
use paas_core::ConfigChange;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(show, update))
}

#[utoipa::path(get, path = "/apps/{app}/config-vars", tag = "config-vars", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = BTreeMap<String, String>), crate::openapi::Errors))]
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
#[utoipa::path(patch, path = "/apps/{app}/config-vars", tag = "config-vars", params(("app" = String, Path, description = "App name or id")),
    request_body(content = BTreeMap<String, Option<String>>, description = "A string sets a var, `null` removes it"),
    responses((status = 200, description = "The whole resulting config", body = BTreeMap<String, String>), crate::openapi::Errors))]
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
        state.nudge.app_changed(app.app_id);
    }
    Ok(Json(config.into_map()))
}
