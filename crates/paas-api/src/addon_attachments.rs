//! Attachments in Heroku's shapes: `/addon-attachments`, `/apps/{app}/addon-attachments`,
//! `/addons/{addon}/addon-attachments` and the resolver. Attaching and detaching change
//! the app's config as a release (the heroku CLI reads the newest release right after).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paas_core::addons::AttachmentName;
use paas_store::{Attachment, StoreError};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, addons, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_all, attach))
        .routes(routes!(info, detach))
        .routes(routes!(list_for_app))
        .routes(routes!(info_for_app))
        .routes(routes!(list_for_addon))
        .routes(routes!(resolve))
}

pub(crate) fn present(a: &Attachment) -> wire::AddonAttachment {
    let plan_name = a.plan.clone();
    let service = paas_core::addons::Service::parse(&a.service).ok();
    wire::AddonAttachment {
        id: a.attachment_id,
        name: a.name.clone(),
        app: wire::IdName {
            id: a.app_id,
            name: a.app_name.clone(),
        },
        addon: wire::addons::AttachmentAddon {
            id: a.addon_id,
            name: a.addon_name.clone(),
            app: wire::IdName {
                id: a.addon_app_id.unwrap_or_default(),
                name: a.addon_app_name.clone().unwrap_or_default(),
            },
            plan: wire::IdName {
                id: service
                    .map(|s| {
                        let i = s.plans().iter().position(|p| p.name == plan_name);
                        addons::plan_id(s, i.unwrap_or(0))
                    })
                    .unwrap_or_default(),
                name: format!(
                    "{}:{}",
                    service.map_or(a.service.as_str(), |s| s.slug()),
                    plan_name
                ),
            },
        },
        namespace: None,
        config_vars: vec![a.config_var()],
        web_url: None,
        log_input_url: None,
        created_at: a.created_at,
        updated_at: a.updated_at,
    }
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => {
            ApiError::NotFound("Couldn't find that add-on attachment.".into())
        }
        other => other.into(),
    }
}

/// Every attachment.
#[utoipa::path(get, path = "/addon-attachments", tag = "addons",
    responses((status = 200, body = Vec<wire::AddonAttachment>), crate::openapi::Errors))]
async fn list_all(
    State(state): State<AppState>,
    _: Authenticated,
) -> Result<Json<Vec<wire::AddonAttachment>>, ApiError> {
    let all = state.store.attachments(None, None).await?;
    Ok(Json(all.iter().map(present).collect()))
}

/// An app's attachments.
#[utoipa::path(get, path = "/apps/{app}/addon-attachments", tag = "addons", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::AddonAttachment>), crate::openapi::Errors))]
async fn list_for_app(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::AddonAttachment>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let all = state.store.attachments(Some(app.app_id), None).await?;
    Ok(Json(all.iter().map(present).collect()))
}

/// An add-on's attachments.
#[utoipa::path(get, path = "/addons/{addon}/addon-attachments", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = Vec<wire::AddonAttachment>), crate::openapi::Errors))]
async fn list_for_addon(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<Vec<wire::AddonAttachment>>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let all = state.store.attachments(None, Some(addon.addon_id)).await?;
    Ok(Json(all.iter().map(present).collect()))
}

/// One attachment by id.
#[utoipa::path(get, path = "/addon-attachments/{attachment}", tag = "addons", params(("attachment" = String, Path, description = "Attachment id")),
    responses((status = 200, body = wire::AddonAttachment), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(attachment): ApiPath<String>,
) -> Result<Json<wire::AddonAttachment>, ApiError> {
    let a = state
        .store
        .attachment(None, &attachment)
        .await
        .map_err(not_found)?;
    Ok(Json(present(&a)))
}

/// One of an app's attachments, by id, name (`DATABASE`) or config var (`DATABASE_URL`).
#[utoipa::path(get, path = "/apps/{app}/addon-attachments/{attachment}", tag = "addons", params(("app" = String, Path, description = "App name or id"), ("attachment" = String, Path, description = "Attachment id, name or config var")),
    responses((status = 200, body = wire::AddonAttachment), crate::openapi::Errors))]
async fn info_for_app(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, attachment)): ApiPath<(String, String)>,
) -> Result<Json<wire::AddonAttachment>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let a = state
        .store
        .attachment(Some(app.app_id), &attachment)
        .await
        .map_err(not_found)?;
    if a.app_id != app.app_id {
        return Err(ApiError::NotFound(
            "Couldn't find that add-on attachment.".into(),
        ));
    }
    Ok(Json(present(&a)))
}

/// Attaches an add-on to an app under a name (default: the service's, `DATABASE` or
/// `REDIS`); its URL is set as a release.
#[utoipa::path(post, path = "/addon-attachments", tag = "addons",
    request_body = wire::AttachmentCreate,
    responses((status = 201, body = wire::AddonAttachment), crate::openapi::Errors))]
async fn attach(
    State(state): State<AppState>,
    _: Authenticated,
    ApiJson(body): ApiJson<wire::AttachmentCreate>,
) -> Result<(StatusCode, Json<wire::AddonAttachment>), ApiError> {
    if body.namespace.is_some() {
        return Err(ApiError::Invalid(
            "paas add-ons have one credential; --credential is not supported.".into(),
        ));
    }
    let addon = addons::find(&state, &body.addon.name).await?;
    let app = apps::find(&state, &body.app.name).await?;
    let name = match body.name {
        Some(name) => AttachmentName::parse(&name)?,
        None => addon.service.default_attachment(),
    };
    let (attachment, release) = state
        .addons
        .attach(addon.addon_id, app.app_id, &name)
        .await?;
    tracing::info!(app = %app.name, addon = %addon.name, attachment = %attachment.name, release = ?release.map(|r| r.version), "add-on attached");
    Ok((StatusCode::CREATED, Json(present(&attachment))))
}

/// Detaches: the app's var is unset as a release. An add-on's last attachment cannot
/// be detached (destroy the add-on instead).
#[utoipa::path(delete, path = "/addon-attachments/{attachment}", tag = "addons", params(("attachment" = String, Path, description = "Attachment id")),
    responses((status = 200, body = wire::AddonAttachment), crate::openapi::Errors))]
async fn detach(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(attachment): ApiPath<String>,
) -> Result<Json<wire::AddonAttachment>, ApiError> {
    let a = state
        .store
        .attachment(None, &attachment)
        .await
        .map_err(not_found)?;
    state.addons.detach(&a).await?;
    tracing::info!(app = %a.app_name, addon = %a.addon_name, attachment = %a.name, "add-on detached");
    Ok(Json(present(&a)))
}

/// The attachments a name means: an attachment's id, its name or config var in `app`
/// (`DATABASE`, `DATABASE_URL`), or an add-on's name (its attachments in `app`). 404
/// (`not_found`) when none, which makes the heroku CLI's pg commands fall back to the
/// app's attachment list.
#[utoipa::path(post, path = "/actions/addon-attachments/resolve", tag = "addons",
    request_body = wire::AttachmentResolve,
    responses((status = 200, body = Vec<wire::AddonAttachment>), crate::openapi::Errors))]
async fn resolve(
    State(state): State<AppState>,
    _: Authenticated,
    ApiJson(body): ApiJson<wire::AttachmentResolve>,
) -> Result<Json<Vec<wire::AddonAttachment>>, ApiError> {
    let (app, key) = match body.addon_attachment.split_once("::") {
        Some((app, key)) => (Some(app.to_owned()), key.to_owned()),
        None => (body.app.clone(), body.addon_attachment.clone()),
    };
    let app = match app {
        Some(app) => Some(apps::find(&state, &app).await?),
        None => None,
    };
    let app_id = app.as_ref().map(|a| a.app_id);
    let all = state.store.attachments(app_id, None).await?;
    let by_name = AttachmentName::from_config_var(&key)
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|| key.to_ascii_uppercase());
    let mut found: Vec<&Attachment> = all
        .iter()
        .filter(|a| {
            a.attachment_id.to_string() == key
                || (app_id.is_some() && a.name == by_name)
                || a.addon_name == key
        })
        .collect();
    if let Some(service) = body.addon_service.as_deref() {
        let service = paas_core::addons::Service::parse(service)?;
        found.retain(|a| a.service == service.short());
    }
    if found.is_empty() {
        return Err(ApiError::NotFound(
            "Couldn't find that add-on attachment.".into(),
        ));
    }
    Ok(Json(found.into_iter().map(present).collect()))
}
