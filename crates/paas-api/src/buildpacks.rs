//! `/apps/{app}/buildpack-installations`: the app's buildpack list, run in order at every
//! build (`heroku buildpacks:add/remove/set/clear`, `paas buildpacks:*`), and
//! `/buildpacks/{slug}`: the buildpack registry's look-up, for the bundled buildpacks, so
//! the heroku CLI pointed at paasd (`HEROKU_BUILDPACK_REGISTRY_URL`) resolves
//! `heroku/python` without the internet.

use axum::Json;
use axum::extract::State;
use paas_core::buildpacks::{self, Buildpack};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, replace))
        .routes(routes!(registry))
}

fn shown(list: &[Buildpack]) -> Vec<wire::BuildpackInstallation> {
    list.iter()
        .enumerate()
        .map(|(i, b)| wire::BuildpackInstallation {
            ordinal: i32::try_from(i).unwrap_or(i32::MAX),
            buildpack: wire::BuildpackRef {
                url: b.wire_url(),
                name: b.name(),
            },
        })
        .collect()
}

#[utoipa::path(get, path = "/apps/{app}/buildpack-installations", tag = "buildpacks", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::BuildpackInstallation>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::BuildpackInstallation>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    Ok(Json(shown(&state.store.buildpacks(app.app_id).await?)))
}

/// Replaces the whole list; the next push builds with it.
#[utoipa::path(put, path = "/apps/{app}/buildpack-installations", tag = "buildpacks", params(("app" = String, Path, description = "App name or id")),
    request_body = wire::BuildpackInstallationsUpdate,
    responses((status = 200, body = Vec<wire::BuildpackInstallation>), crate::openapi::Errors))]
async fn replace(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::BuildpackInstallationsUpdate>,
) -> Result<Json<Vec<wire::BuildpackInstallation>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let raw = body
        .updates
        .into_iter()
        .map(|u| {
            u.buildpack.ok_or_else(|| {
                ApiError::Invalid(
                    "Every update needs a buildpack (a name such as heroku/python, a git URL or a path on the paas server)."
                        .into(),
                )
            })
        })
        .collect::<Result<Vec<String>, ApiError>>()?;
    let list = buildpacks::parse_list(&raw)?;
    state.store.set_buildpacks(app.app_id, &list).await?;
    let names: Vec<String> = list.iter().map(Buildpack::name).collect();
    state.logs.publish(
        &app.name,
        paas_logs::LogLine::api(if names.is_empty() {
            format!("Buildpacks cleared by user {}", token.name)
        } else {
            format!(
                "Buildpacks set to {} by user {}",
                names.join(", "),
                token.name
            )
        }),
    );
    Ok(Json(shown(&list)))
}

/// The registry's answer for a bundled buildpack's slug (`heroku%2Fpython`); 404 for
/// every other name. No token: the heroku CLI sends none to the registry.
#[utoipa::path(get, path = "/buildpacks/{slug}", tag = "buildpacks", security(()), params(("slug" = String, Path, description = "namespace/name, the slash percent-encoded")),
    responses((status = 200, body = wire::RegistryBuildpack), crate::openapi::Errors))]
async fn registry(
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<wire::RegistryBuildpack>, ApiError> {
    let blob_url = Buildpack::registry_blob_url(&slug).ok_or_else(|| {
        ApiError::NotFound(format!(
            "This registry has only the buildpacks bundled with paas: {}.",
            buildpacks::bundled_names().join(", ")
        ))
    })?;
    let (namespace, name) = slug.split_once('/').unwrap_or(("heroku", &slug));
    Ok(Json(wire::RegistryBuildpack {
        name: name.to_owned(),
        namespace: namespace.to_owned(),
        blob_url,
        description: format!("paas's bundled {name} buildpack"),
    }))
}
