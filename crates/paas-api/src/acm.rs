//! `/apps/{app}/acm`: Heroku's Automated Certificate Management switch — `POST`
//! enables it (`heroku certs:auto:enable`), `PATCH {acm_refresh: true}` re-orders every
//! custom domain's certificate now (`certs:auto:refresh`), `DELETE` disables it (the
//! app's ACME certificates stop being served). Each wakes the certificate manager.

use axum::Json;
use axum::extract::State;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps, present};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(enable, refresh, disable))
}

/// The app as `GET /apps/{app}` shows it, `acm` included.
async fn answer(
    state: &AppState,
    app: &paas_store::App,
    token: &paas_store::ApiToken,
) -> Result<Json<wire::App>, ApiError> {
    let mut shown = present::app(app, token, &state.settings);
    shown.acm = state.store.acm_enabled(app.app_id).await?;
    if let Some(certs) = &state.certs {
        certs.changed.notify_one();
    }
    Ok(Json(shown))
}

#[utoipa::path(post, path = "/apps/{app}/acm", tag = "certs", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = wire::App), crate::openapi::Errors))]
async fn enable(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::App>, ApiError> {
    let app = apps::find(&state, &app).await?;
    state.store.set_acm(app.app_id, true).await?;
    state.logs.publish(
        &app.name,
        paas_logs::LogLine::api(format!(
            "Automatic certificate management enabled by user {}",
            token.name
        )),
    );
    answer(&state, &app, &token).await
}

#[utoipa::path(patch, path = "/apps/{app}/acm", tag = "certs", params(("app" = String, Path, description = "App name or id")), request_body = wire::AcmUpdate,
    responses((status = 200, body = wire::App), crate::openapi::Errors))]
async fn refresh(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::AcmUpdate>,
) -> Result<Json<wire::App>, ApiError> {
    let app = apps::find(&state, &app).await?;
    if body.acm_refresh == Some(true) {
        if !state.store.acm_enabled(app.app_id).await? {
            return Err(ApiError::Invalid(
                "Automatic certificate management is disabled: enable it first (certs:auto:enable)."
                    .into(),
            ));
        }
        state.store.refresh_acm(app.app_id).await?;
    }
    answer(&state, &app, &token).await
}

#[utoipa::path(delete, path = "/apps/{app}/acm", tag = "certs", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = wire::App), crate::openapi::Errors))]
async fn disable(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<wire::App>, ApiError> {
    let app = apps::find(&state, &app).await?;
    state.store.set_acm(app.app_id, false).await?;
    state.logs.publish(
        &app.name,
        paas_logs::LogLine::api(format!(
            "Automatic certificate management disabled by user {}",
            token.name
        )),
    );
    answer(&state, &app, &token).await
}
