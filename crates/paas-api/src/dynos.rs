//! `/apps/{app}/dynos`: the dynos as the supervisor last observed them in Docker.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use paas_wire as wire;

use crate::extract::ApiPath;
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/apps/{app}/dynos", get(list))
}

async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Dyno>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let dynos = state.store.dynos(app.app_id).await?;
    Ok(Json(
        dynos
            .into_iter()
            .map(|d| wire::Dyno {
                id: d.dyno_id,
                name: d.name,
                process_type: d.process_type,
                state: d.state,
                command: d.command,
                size: "basic".into(),
                release: d
                    .release_id
                    .zip(d.version)
                    .map(|(id, version)| wire::ReleaseRefBody { id, version }),
                app: wire::IdName {
                    id: app.app_id,
                    name: app.name.clone(),
                },
                attach_url: None,
                created_at: d.started_at.unwrap_or(d.created_at),
                updated_at: d.updated_at,
            })
            .collect(),
    ))
}
