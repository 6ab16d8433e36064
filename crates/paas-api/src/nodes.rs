//! `/nodes`: the machines dynos run on (read-only): a Swarm cluster's nodes with their
//! state and dyno counts (`PAAS_RUNTIME=swarm`), or the single engine.

use axum::Json;
use axum::extract::State;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{ApiError, AppState, Authenticated};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[utoipa::path(get, path = "/nodes", tag = "nodes",
    responses((status = 200, body = Vec<wire::Node>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
) -> Result<Json<Vec<wire::Node>>, ApiError> {
    let nodes = state
        .nodes
        .list(&state.settings.instance)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(
        nodes
            .into_iter()
            .map(|n| wire::Node {
                name: n.name,
                addr: n.addr.map(|a| a.to_string()),
                state: n.state,
                availability: n.availability,
                manager: n.manager,
                dynos: n.dynos,
            })
            .collect(),
    ))
}
