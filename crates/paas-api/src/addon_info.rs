//! `/addons/{addon}/pg-info`: a Postgres add-on's version, size, connections and tables
//! as its server says them, and its last verified backup (`paas pg:info`).

use axum::Json;
use axum::extract::State;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::ApiPath;
use crate::{ApiError, AppState, Authenticated, addons};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pg_info))
}

#[utoipa::path(get, path = "/addons/{addon}/pg-info", tag = "addons", params(("addon" = String, Path, description = "Add-on name or id")),
    responses((status = 200, body = wire::PgInfo), crate::openapi::Errors))]
async fn pg_info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(addon): ApiPath<String>,
) -> Result<Json<wire::PgInfo>, ApiError> {
    let addon = addons::find(&state, &addon).await?;
    let facts = state.addons.pg_facts(&addon).await?;
    let last_verified_backup_at = state
        .store
        .backups(addon.addon_id)
        .await?
        .into_iter()
        .filter(|b| b.status == paas_store::BackupStatus::Verified)
        .filter_map(|b| b.finished_at)
        .max();
    Ok(Json(wire::PgInfo {
        addon: wire::IdName {
            id: addon.addon_id,
            name: addon.name.to_string(),
        },
        plan: format!("{}:{}", addon.service.slug(), addon.plan.name),
        version: facts.version,
        size_bytes: facts.size_bytes,
        connections: facts.connections,
        connection_limit: facts.connection_limit,
        tables: facts.tables,
        last_verified_backup_at,
    }))
}
