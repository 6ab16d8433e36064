//! `/apps/{app}/formation`: how many dynos of each process type should run.

use axum::Json;
use axum::extract::State;
use paas_core::{ProcessType, Quantity, ScaleChange};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps, present};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, batch_update))
        .routes(routes!(info, update_one))
}

/// Dyno sizes paas knows. Sizes do not change limits yet; anything else is refused
/// rather than silently ignored.
pub(crate) const SIZES: &[&str] = &["basic", "standard-1x", "free", "eco", "hobby"];

fn parse_update(
    kind: &str,
    quantity: Option<wire::QuantityChange>,
    size: Option<&str>,
) -> Result<(ProcessType, Option<ScaleChange>), ApiError> {
    let kind = ProcessType::parse(kind)?;
    if let Some(size) = size.filter(|size| !SIZES.iter().any(|s| s.eq_ignore_ascii_case(size))) {
        return Err(ApiError::Invalid(format!(
            "Unknown dyno size {size:?}: paas has {}.",
            SIZES.join(", ")
        )));
    }
    let change = match quantity {
        None => None,
        Some(wire::QuantityChange::To(n)) => Some(ScaleChange::To(Quantity::new(n)?)),
        Some(wire::QuantityChange::By(n)) => Some(ScaleChange::By(n)),
    };
    Ok((kind, change))
}

#[utoipa::path(get, path = "/apps/{app}/formation", tag = "formation", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::Formation>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Formation>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let formation = state.store.formation(app.app_id).await?;
    Ok(Json(formation.iter().map(present::formation).collect()))
}

#[utoipa::path(get, path = "/apps/{app}/formation/{type}", tag = "formation", params(("app" = String, Path, description = "App name or id"), ("type" = String, Path, description = "Process type or formation id")),
    responses((status = 200, body = wire::Formation), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, kind)): ApiPath<(String, String)>,
) -> Result<Json<wire::Formation>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let formation = state.store.formation(app.app_id).await?;
    formation
        .iter()
        .find(|f| f.process_type == kind || f.formation_id.to_string() == kind)
        .map(|f| Json(present::formation(f)))
        .ok_or_else(|| ApiError::NotFound(format!("Couldn't find that process type ({kind}).")))
}

async fn scale(
    state: &AppState,
    who: &str,
    app: &paas_store::App,
    updates: Vec<(ProcessType, Option<ScaleChange>)>,
) -> Result<Vec<paas_store::Formation>, ApiError> {
    let updates: Vec<(ProcessType, ScaleChange)> = updates
        .into_iter()
        .filter_map(|(k, q)| q.map(|q| (k, q)))
        .collect();
    let formation = state.store.scale(app.app_id, &updates).await?;
    // What each touched type is at now (relative changes resolved by the store).
    let now: Vec<(&str, i32)> = formation
        .iter()
        .filter(|f| updates.iter().any(|(k, _)| k.as_str() == f.process_type))
        .map(|f| (f.process_type.as_str(), f.quantity))
        .collect();
    let summary: Vec<String> = now.iter().map(|(k, q)| format!("{k}={q}")).collect();
    tracing::info!(app = %app.name, scale = %summary.join(" "), "formation scaled");
    let scaled: Vec<String> = now
        .iter()
        .map(|(k, q)| format!("{k}@{q}:Standard-1X"))
        .collect();
    state.logs.publish(
        &app.name,
        paas_logs::LogLine::api(format!("Scaled to {} by user {who}", scaled.join(" "))),
    );
    state.nudge.app_changed(app.app_id);
    Ok(formation)
}

/// `{"updates": [{"type": "web", "quantity": 3}]}`: all updates or none.
#[utoipa::path(patch, path = "/apps/{app}/formation", tag = "formation", params(("app" = String, Path, description = "App name or id")), request_body = wire::FormationBatchUpdate,
    responses((status = 200, body = Vec<wire::Formation>), crate::openapi::Errors))]
async fn batch_update(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::FormationBatchUpdate>,
) -> Result<Json<Vec<wire::Formation>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    if body.updates.is_empty() {
        return Err(ApiError::Invalid(
            "updates must name at least one process type.".into(),
        ));
    }
    let updates = body
        .updates
        .iter()
        .map(|u| parse_update(&u.process_type, u.quantity, u.size.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    let touched: Vec<String> = updates.iter().map(|(k, _)| k.to_string()).collect();
    let formation = scale(&state, &token.name, &app, updates).await?;
    Ok(Json(
        formation
            .iter()
            .filter(|f| touched.contains(&f.process_type))
            .map(present::formation)
            .collect(),
    ))
}

#[utoipa::path(patch, path = "/apps/{app}/formation/{type}", tag = "formation", params(("app" = String, Path, description = "App name or id"), ("type" = String, Path, description = "Process type", pattern = r"^[A-Za-z][A-Za-z0-9_-]{0,29}$")), request_body = wire::FormationTypeUpdate,
    responses((status = 200, body = wire::Formation), crate::openapi::Errors))]
async fn update_one(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath((app, kind)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<wire::FormationTypeUpdate>,
) -> Result<Json<wire::Formation>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let update = parse_update(&kind, body.quantity, body.size.as_deref())?;
    let kind = update.0.clone();
    let formation = scale(&state, &token.name, &app, vec![update]).await?;
    formation
        .iter()
        .find(|f| f.process_type == kind.as_str())
        .map(|f| Json(present::formation(f)))
        .ok_or_else(|| ApiError::NotFound(format!("Couldn't find that process type ({kind}).")))
}
