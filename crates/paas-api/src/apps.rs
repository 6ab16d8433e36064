//! `/apps`: create, list, info, destroy.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use paas_core::AppName;
use paas_store::{App, StoreError};
use paas_wire as wire;
use rand::Rng;

use crate::extract::ApiPath;
use crate::range::ListRange;
use crate::{ApiError, AppState, Authenticated, present};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/apps", get(list).post(create))
        .route("/apps/{app}", get(info).delete(destroy))
}

/// Finds the app a path names (id or name), or answers Heroku's 404.
pub(crate) async fn find(state: &AppState, id_or_name: &str) -> Result<App, ApiError> {
    state.store.app(id_or_name).await.map_err(|e| match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that app.".into()),
        other => other.into(),
    })
}

async fn create(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    body: Bytes,
) -> Result<(StatusCode, Json<wire::App>), ApiError> {
    // The heroku CLI may send no body at all for `apps:create` without a name.
    let request: wire::AppCreate = if body.iter().all(u8::is_ascii_whitespace) {
        wire::AppCreate::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Invalid(format!("Invalid request body: {e}")))?
    };
    let app = match request.name.as_deref() {
        Some(name) => state.store.create_app(&AppName::parse(name)?).await?,
        None => create_with_generated_name(&state).await?,
    };
    tracing::info!(app = %app.name, "app created");
    state.logs.publish(
        &app.name,
        paas_logs::LogLine::api(format!("Initial release by user {}", token.name)),
    );
    Ok((
        StatusCode::CREATED,
        Json(present::app(&app, &token, &state.settings)),
    ))
}

async fn create_with_generated_name(state: &AppState) -> Result<App, ApiError> {
    let mut last = None;
    for _ in 0..8 {
        let name = AppName::generate(rand::rng().random());
        match state.store.create_app(&name).await {
            Err(e @ StoreError::AppNameTaken(_)) => last = Some(e),
            other => return Ok(other?),
        }
    }
    Err(last.map_or_else(
        || ApiError::Conflict("Could not find a free app name.".into()),
        Into::into,
    ))
}

async fn list(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    headers: HeaderMap,
) -> Result<(StatusCode, HeaderMap, Json<Vec<wire::App>>), ApiError> {
    let apps = state.store.apps().await?;
    let (status, next, apps) =
        ListRange::from_headers(&headers, "name").page(apps, |a| a.name.clone());
    let apps = apps
        .iter()
        .map(|a| present::app(a, &token, &state.settings))
        .collect();
    Ok((status, next, Json(apps)))
}

async fn info(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::App>, ApiError> {
    let app = find(&state, &app).await?;
    Ok(Json(present::app(&app, &token, &state.settings)))
}

/// Removes the app with its config, builds, ledger and formation; answers the app as it was.
async fn destroy(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::App>, ApiError> {
    let app = find(&state, &app).await?;
    state.store.delete_app(app.app_id).await?;
    // The ledger is gone; the repository, build cache and images follow. A failure here
    // leaves garbage on disk, never a half-existing app.
    match AppName::parse(&app.name) {
        Ok(name) => {
            if let Err(e) = state.builder.forget_app(&name, app.app_id).await {
                tracing::warn!(app = %app.name, error = %e, "could not remove all of a destroyed app's files");
            }
        }
        Err(e) => tracing::warn!(app = %app.name, error = %e, "stored app name does not parse"),
    }
    tracing::info!(app = %app.name, "app destroyed");
    state.logs.forget(&app.name);
    state.drains_changed.notify_one();
    Ok(Json(present::app(&app, &token, &state.settings)))
}
