//! `/apps`: create, list, info, destroy.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use paas_core::AppName;
use paas_store::{App, StoreError};
use paas_wire as wire;
use rand::Rng;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiBytes, ApiJson, ApiPath};
use crate::range::ListRange;
use crate::{ApiError, AppState, Authenticated, present};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        // `heroku apps` lists "your" apps: `~` is the caller (as is its id or email).
        .routes(routes!(list_of_user))
        .routes(routes!(info, update, destroy))
}

/// Finds the app a path names (id or name), or answers Heroku's 404.
pub(crate) async fn find(state: &AppState, id_or_name: &str) -> Result<App, ApiError> {
    state.store.app(id_or_name).await.map_err(|e| match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that app.".into()),
        other => other.into(),
    })
}

/// A new app, named or with a generated name.
#[utoipa::path(post, path = "/apps", tag = "apps",
    request_body(content = Option<wire::AppCreate>, description = "May be empty: a name is generated"),
    responses((status = 201, body = wire::App), crate::openapi::Errors))]
async fn create(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<wire::App>), ApiError> {
    // The heroku CLI may send no body at all for `apps:create` without a name (or
    // `null`, which the description allows too).
    let request: wire::AppCreate = crate::extract::optional_body(&body)?;
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

/// Every app.
#[utoipa::path(get, path = "/apps", tag = "apps", params(("Range" = Option<String>, Header, description = "Heroku list range: `name ..; order=desc, max=200`")),
    responses((status = 200, body = Vec<wire::App>), (status = 206, description = "A page; `Next-Range` names the next", body = Vec<wire::App>), crate::openapi::Errors))]
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

/// paas has one account per token and every token sees every app, so the caller's apps
/// are all apps; another user is unknown.
#[utoipa::path(get, path = "/users/{user}/apps", tag = "apps",
    params(("user" = String, Path, description = "`~` (the caller), or the caller's id or email"), ("Range" = Option<String>, Header, description = "Heroku list range: `name ..; order=desc, max=200`")),
    responses((status = 200, body = Vec<wire::App>), (status = 206, description = "A page; `Next-Range` names the next", body = Vec<wire::App>), crate::openapi::Errors))]
async fn list_of_user(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(user): ApiPath<String>,
    headers: HeaderMap,
) -> Result<(StatusCode, HeaderMap, Json<Vec<wire::App>>), ApiError> {
    let owner = present::owner(&token, &state.settings);
    if user != "~" && user != owner.id.to_string() && user != owner.email {
        return Err(ApiError::NotFound("Couldn't find that user.".into()));
    }
    list(State(state), Authenticated(token), headers).await
}

#[utoipa::path(get, path = "/apps/{app}", tag = "apps", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = wire::App), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::App>, ApiError> {
    let app = find(&state, &app).await?;
    Ok(Json(present::app(&app, &token, &state.settings)))
}

/// Maintenance mode on or off. A new name or stack is refused: the app's dynos, network,
/// git repository and log stream all carry its name, and there is one stack.
#[utoipa::path(patch, path = "/apps/{app}", tag = "apps", params(("app" = String, Path, description = "App name or id")), request_body = wire::AppUpdate,
    responses((status = 200, body = wire::App), crate::openapi::Errors))]
async fn update(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::AppUpdate>,
) -> Result<Json<wire::App>, ApiError> {
    let mut app = find(&state, &app).await?;
    if let Some(name) = body.name.as_deref().filter(|n| *n != app.name) {
        AppName::parse(name)?;
        return Err(ApiError::Invalid(format!(
            "paas cannot rename apps ({} to {name}): create {name} and move the config and domains to it.",
            app.name
        )));
    }
    if let Some(stack) = body.build_stack.as_deref().filter(|s| *s != present::STACK) {
        return Err(ApiError::Invalid(format!(
            "Unknown stack {stack:?}: paas has one, {}.",
            present::STACK
        )));
    }
    if let Some(on) = body.maintenance.filter(|on| *on != app.maintenance) {
        app = state.store.set_maintenance(app.app_id, on).await?;
        tracing::info!(app = %app.name, maintenance = on, "maintenance mode changed");
        state.nudge.app_changed(app.app_id);
    }
    Ok(Json(present::app(&app, &token, &state.settings)))
}

/// Removes the app with its config, builds, ledger and formation; answers the app as it was.
#[utoipa::path(delete, path = "/apps/{app}", tag = "apps", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = wire::App), crate::openapi::Errors))]
async fn destroy(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::App>, ApiError> {
    let app = find(&state, &app).await?;
    // The add-ons it owns go with it (detached from other apps as releases); its
    // attachments to other apps' add-ons go with its row.
    state.addons.destroy_owned(app.app_id).await?;
    state.store.delete_app(app.app_id).await?;
    // Its dynos go now, not at the next resync.
    state.nudge.app_changed(app.app_id);
    state.addons.changed();
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
