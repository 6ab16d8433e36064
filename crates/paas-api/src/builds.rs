//! `/apps/{app}/builds`: what `git push` built, with its output.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use paas_store::StoreError;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::ApiPath;
use crate::{ApiError, AppState, Authenticated, apps, present};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(info))
        .routes(routes!(output))
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that build.".into()),
        other => other.into(),
    }
}

#[utoipa::path(get, path = "/apps/{app}/builds", tag = "builds", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::Build>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Build>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let mut builds = Vec::new();
    for build in state.store.builds(app.app_id).await? {
        let release = state.store.release_of_build(build.build_id).await?;
        builds.push(present::build(
            &build,
            &app,
            release,
            &token,
            &state.settings,
        ));
    }
    Ok(Json(builds))
}

#[utoipa::path(get, path = "/apps/{app}/builds/{id}", tag = "builds", params(("app" = String, Path, description = "App name or id"), ("id" = Uuid, Path, description = "Build id")),
    responses((status = 200, body = wire::Build), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath((app, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<wire::Build>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let build = state.store.build(app.app_id, id).await.map_err(not_found)?;
    let release = state.store.release_of_build(build.build_id).await?;
    Ok(Json(present::build(
        &build,
        &app,
        release,
        &token,
        &state.settings,
    )))
}

/// The build's whole output as text (secrets were masked before it was stored).
#[utoipa::path(get, path = "/apps/{app}/builds/{id}/output", tag = "builds", params(("app" = String, Path, description = "App name or id"), ("id" = Uuid, Path, description = "Build id")),
    responses((status = 200, description = "The build output", content_type = "text/plain", body = String), crate::openapi::Errors))]
async fn output(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, id)): ApiPath<(String, Uuid)>,
) -> Result<impl IntoResponse, ApiError> {
    let app = apps::find(&state, &app).await?;
    let build = state.store.build(app.app_id, id).await.map_err(not_found)?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        build.output,
    ))
}
