//! `/account`: the caller. paas has no user accounts; a token is the identity.

use axum::Json;
use axum::extract::State;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::{AppState, Authenticated};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(account))
}

/// The caller: one account per API token.
#[utoipa::path(get, path = "/account", tag = "account",
    responses((status = 200, body = wire::Account), crate::openapi::Errors))]
async fn account(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
) -> Json<wire::Account> {
    let owner = crate::present::owner(&token, &state.settings);
    Json(wire::Account {
        id: owner.id,
        email: owner.email,
        name: token.name,
        created_at: token.created_at,
        updated_at: token.created_at,
    })
}
