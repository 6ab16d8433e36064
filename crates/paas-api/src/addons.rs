//! Add-ons in Heroku's shapes: `/apps/{app}/addons`, `/addons`, the resolver the heroku
//! CLI looks add-ons up with, and `/addon-services` with their plans. Creating one
//! answers `provisioning` at once; the add-on supervisor (`paas-addons`) makes its
//! container and sets its URL on the app as a release when it answers.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paas_core::addons::{AttachmentName, Service, parse_service_plan};
use paas_store::{Addon, AddonState, Attachment, StoreError};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_for_app, create))
        .routes(routes!(info_for_app, destroy))
        .routes(routes!(list_all))
        .routes(routes!(info))
        .routes(routes!(resolve))
        .routes(routes!(services))
        .routes(routes!(service))
        .routes(routes!(plans))
}

/// Stable ids for services and plans (they are constants of paas, not rows).
pub(crate) fn service_id(service: Service) -> Uuid {
    Uuid::from_u128(0x0a11_0000_0000_4000_8000_0000_0000_0000 | (service as u128 + 1))
}

pub(crate) fn plan_id(service: Service, index: usize) -> Uuid {
    Uuid::from_u128(
        0x0a11_0000_0000_4000_8000_0000_0000_0000 | ((service as u128 + 1) << 16) | index as u128,
    )
}

pub(crate) fn plan_ref(addon: &Addon) -> wire::IdName {
    let index = addon
        .service
        .plans()
        .iter()
        .position(|p| p.name == addon.plan.name)
        .unwrap_or(0);
    wire::IdName {
        id: plan_id(addon.service, index),
        name: format!("{}:{}", addon.service.slug(), addon.plan.name),
    }
}

fn state_word(state: AddonState) -> &'static str {
    state.as_str()
}

/// An add-on, with the config vars its attachments set.
pub(crate) fn present(addon: &Addon, attachments: &[Attachment]) -> wire::Addon {
    let plan = plan_ref(addon);
    let owner = wire::IdName {
        id: addon.app_id.unwrap_or_default(),
        name: addon.app_name.clone().unwrap_or_default(),
    };
    let mut config_vars: Vec<String> = attachments
        .iter()
        .filter(|a| a.addon_id == addon.addon_id)
        .map(Attachment::config_var)
        .collect();
    config_vars.sort();
    config_vars.dedup();
    wire::Addon {
        id: addon.addon_id,
        name: addon.name.to_string(),
        app: owner.clone(),
        addon_service: wire::addons::AddonServiceRef {
            id: service_id(addon.service),
            name: addon.service.slug().to_owned(),
            human_name: addon.service.human_name().to_owned(),
            state: "ga".into(),
        },
        plan: wire::addons::AddonPlanRef {
            id: plan.id,
            name: plan.name,
            human_name: addon.plan.human_name.to_owned(),
            price: wire::addons::Price::free(),
        },
        billed_price: wire::addons::Price::free(),
        billing_entity: wire::addons::BillingEntity {
            id: owner.id,
            name: owner.name,
            kind: "app".into(),
        },
        config_vars,
        state: state_word(addon.state).to_owned(),
        provision_message: None,
        provider_id: addon.name.to_string(),
        web_url: None,
        actions: Vec::new(),
        created_at: addon.created_at,
        updated_at: addon.updated_at,
    }
}

/// The store's "not found" in the words the heroku CLI expects.
fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that add-on.".into()),
        other => other.into(),
    }
}

pub(crate) async fn find(state: &AppState, id_or_name: &str) -> Result<Addon, ApiError> {
    state.store.addon(id_or_name).await.map_err(not_found)
}

async fn present_all(state: &AppState, addons: &[Addon]) -> Result<Vec<wire::Addon>, ApiError> {
    let attachments = state.store.attachments(None, None).await?;
    Ok(addons.iter().map(|a| present(a, &attachments)).collect())
}

/// The add-ons an app owns or has attached.
#[utoipa::path(get, path = "/apps/{app}/addons", tag = "addons", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::Addon>), crate::openapi::Errors))]
async fn list_for_app(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Addon>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let addons = state.store.addons_of_app(app.app_id).await?;
    Ok(Json(present_all(&state, &addons).await?))
}

/// Every add-on.
#[utoipa::path(get, path = "/addons", tag = "addons",
    responses((status = 200, body = Vec<wire::Addon>), crate::openapi::Errors))]
async fn list_all(
    State(state): State<AppState>,
    _: Authenticated,
) -> Result<Json<Vec<wire::Addon>>, ApiError> {
    let addons = state.store.addons().await?;
    Ok(Json(present_all(&state, &addons).await?))
}

/// Creates an add-on for the app (`heroku-postgresql[:plan]`, `postgresql`, `redis`).
/// It answers `provisioning`; the app gets `DATABASE_URL` (or `<as>_URL`) as a release
/// once the add-on accepts connections.
#[utoipa::path(post, path = "/apps/{app}/addons", tag = "addons", params(("app" = String, Path, description = "App name or id")),
    request_body = wire::AddonCreate,
    responses((status = 201, body = wire::Addon), crate::openapi::Errors))]
async fn create(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::AddonCreate>,
) -> Result<(StatusCode, Json<wire::Addon>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let (service, plan) = parse_service_plan(&body.plan.name, None)?;
    if body.config.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::Invalid(
            "paas add-ons take no provider options (-- --key value).".into(),
        ));
    }
    if body.name.is_some() {
        return Err(ApiError::Invalid(
            "paas names add-ons itself; --name is not supported.".into(),
        ));
    }
    let attachment = match body.attachment.and_then(|a| a.name) {
        Some(name) => Some(AttachmentName::parse(&name)?),
        None => None,
    };
    let (addon, attachment) = state
        .addons
        .create(app.app_id, service, plan, attachment)
        .await?;
    tracing::info!(app = %app.name, addon = %addon.name, attachment = %attachment.name, "add-on created");
    Ok((StatusCode::CREATED, Json(present(&addon, &[attachment]))))
}

/// One add-on.
#[utoipa::path(get, path = "/addons/{addon}", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = wire::Addon), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<wire::Addon>, ApiError> {
    let addon = find(&state, &addon).await?;
    let attachments = state.store.attachments(None, Some(addon.addon_id)).await?;
    Ok(Json(present(&addon, &attachments)))
}

/// One of an app's add-ons (owned or attached).
#[utoipa::path(get, path = "/apps/{app}/addons/{addon}", tag = "addons", params(("app" = String, Path, description = "App name or id"), ("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = wire::Addon), crate::openapi::Errors))]
async fn info_for_app(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, addon)): ApiPath<(String, String)>,
) -> Result<Json<wire::Addon>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let addon = app_addon(&state, app.app_id, &addon).await?;
    let attachments = state.store.attachments(None, Some(addon.addon_id)).await?;
    Ok(Json(present(&addon, &attachments)))
}

async fn app_addon(state: &AppState, app_id: Uuid, key: &str) -> Result<Addon, ApiError> {
    state
        .store
        .addons_of_app(app_id)
        .await?
        .into_iter()
        .find(|a| a.addon_id.to_string() == key || a.name.as_str() == key)
        .ok_or_else(|| ApiError::NotFound("Couldn't find that add-on.".into()))
}

/// Destroys an add-on the app owns: detached from every app (each a release), its
/// container and volume removed. Answers it `deprovisioned`.
#[utoipa::path(delete, path = "/apps/{app}/addons/{addon}", tag = "addons", params(("app" = String, Path, description = "App name or id"), ("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = wire::Addon), crate::openapi::Errors))]
async fn destroy(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, addon)): ApiPath<(String, String)>,
) -> Result<Json<wire::Addon>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let addon = app_addon(&state, app.app_id, &addon).await?;
    if addon.app_id != Some(app.app_id) {
        return Err(ApiError::Invalid(format!(
            "{} is owned by {}, not {}: destroy it there, or detach it here.",
            addon.name,
            addon.app_name.as_deref().unwrap_or("another app"),
            app.name
        )));
    }
    let attachments = state.store.attachments(None, Some(addon.addon_id)).await?;
    state.addons.destroy(&addon).await?;
    tracing::info!(app = %app.name, addon = %addon.name, "add-on destroyed");
    let mut shown = present(&addon, &attachments);
    shown.state = "deprovisioned".into();
    Ok(Json(shown))
}

/// The add-ons a name (or id) means: an add-on's own name, or an attachment's name in
/// `app` (`DATABASE`, `DATABASE_URL`); `app::name` names the app too. 404 when none.
#[utoipa::path(post, path = "/actions/addons/resolve", tag = "addons",
    request_body = wire::AddonResolve,
    responses((status = 200, body = Vec<wire::Addon>), crate::openapi::Errors))]
async fn resolve(
    State(state): State<AppState>,
    _: Authenticated,
    ApiJson(body): ApiJson<wire::AddonResolve>,
) -> Result<Json<Vec<wire::Addon>>, ApiError> {
    let (app, key) = match body.addon.split_once("::") {
        Some((app, key)) => (Some(app.to_owned()), key.to_owned()),
        None => (body.app.clone(), body.addon.clone()),
    };
    let mut found: HashMap<Uuid, Addon> = HashMap::new();
    match state.store.addon(&key).await {
        Ok(a) => {
            found.insert(a.addon_id, a);
        }
        Err(StoreError::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(app) = app {
        let app = apps::find(&state, &app).await?;
        match state.store.attachment(Some(app.app_id), &key).await {
            Ok(att) => {
                let a = state.store.addon_by_id(att.addon_id).await?;
                found.insert(a.addon_id, a);
            }
            Err(StoreError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let service = match body.addon_service.as_deref() {
        Some(s) => Some(Service::parse(s)?),
        None => None,
    };
    let mut addons: Vec<Addon> = found
        .into_values()
        .filter(|a| service.is_none_or(|s| a.service == s))
        .collect();
    if addons.is_empty() {
        return Err(ApiError::NotFound("Couldn't find that add-on.".into()));
    }
    addons.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Json(present_all(&state, &addons).await?))
}

fn present_service(service: Service) -> wire::AddonService {
    wire::AddonService {
        id: service_id(service),
        name: service.slug().to_owned(),
        human_name: service.human_name().to_owned(),
        state: "ga".into(),
        cli_plugin_name: None,
        supports_multiple_installations: true,
        supports_sharing: true,
    }
}

fn find_service(raw: &str) -> Result<Service, ApiError> {
    Service::ALL
        .into_iter()
        .find(|s| s.slug() == raw || s.short() == raw || service_id(*s).to_string() == raw)
        .ok_or_else(|| ApiError::NotFound("Couldn't find that add-on service.".into()))
}

/// The services paas runs: Postgres (`heroku-postgresql`) and Redis (`heroku-redis`).
#[utoipa::path(get, path = "/addon-services", tag = "addons",
    responses((status = 200, body = Vec<wire::AddonService>), crate::openapi::Errors))]
async fn services(_: Authenticated) -> Json<Vec<wire::AddonService>> {
    Json(Service::ALL.into_iter().map(present_service).collect())
}

#[utoipa::path(get, path = "/addon-services/{service}", tag = "addons", params(("service" = String, Path, description = "Service name or id")),
    responses((status = 200, body = wire::AddonService), crate::openapi::Errors))]
async fn service(
    _: Authenticated,
    ApiPath(service): ApiPath<String>,
) -> Result<Json<wire::AddonService>, ApiError> {
    Ok(Json(present_service(find_service(&service)?)))
}

/// A service's plans: each its container's memory and connection limit.
#[utoipa::path(get, path = "/addon-services/{service}/plans", tag = "addons", params(("service" = String, Path, description = "Service name or id")),
    responses((status = 200, body = Vec<wire::AddonPlan>), crate::openapi::Errors))]
async fn plans(
    _: Authenticated,
    ApiPath(service): ApiPath<String>,
) -> Result<Json<Vec<wire::AddonPlan>>, ApiError> {
    let service = find_service(&service)?;
    Ok(Json(
        service
            .plans()
            .iter()
            .enumerate()
            .map(|(i, p)| wire::AddonPlan {
                id: plan_id(service, i),
                name: format!("{}:{}", service.slug(), p.name),
                human_name: p.human_name.to_owned(),
                description: format!(
                    "{} MiB of memory, {} connections",
                    p.memory_bytes >> 20,
                    p.max_connections
                ),
                default: p.default,
                price: wire::addons::Price::free(),
                state: "public".into(),
                addon_service: wire::IdName {
                    id: service_id(service),
                    name: service.slug().to_owned(),
                },
                memory_bytes: p.memory_bytes,
                max_connections: p.max_connections,
            })
            .collect(),
    ))
}
