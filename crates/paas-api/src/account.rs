//! `/account`: the caller. paas has no user accounts; a token is the identity.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use paas_wire as wire;

use crate::{AppState, Authenticated};

pub(crate) fn router() -> Router<AppState> {
    Router::new().route("/account", get(account))
}

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
