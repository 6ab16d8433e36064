//! `/oauth/authorizations`: API tokens in Heroku's shape, so `heroku authorizations`,
//! `authorizations:create`, `:info` and `:revoke` (and `heroku login -i` with a token as
//! password, and `heroku auth:token`) work. One authorization is one `api_token` row;
//! `description` is its name. The secret is only ever shown when it is made, or back to
//! the caller who presented it (paas stores only a hash).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::Utc;
use paas_store::TokenInfo;
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath, token_from_authorization};
use crate::{ApiError, AppState, Authenticated};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(info, revoke))
}

/// The longest expiry `authorizations:create -e` may ask for (ten years).
const MAX_EXPIRES_IN: u64 = 315_360_000;

fn present(
    token: &TokenInfo,
    secret: Option<String>,
    state: &AppState,
) -> wire::OAuthAuthorization {
    let expires_in = token
        .expires_at
        .map(|at| (at - Utc::now()).num_seconds().max(0));
    wire::OAuthAuthorization {
        id: token.token_id,
        description: token.name.clone(),
        scope: vec!["global".into()],
        access_token: Some(wire::OAuthAccessToken {
            id: token.token_id,
            token: secret,
            expires_in,
        }),
        refresh_token: None,
        grant: None,
        client: None,
        user: wire::OAuthUser {
            id: token.token_id,
            email: crate::present::email(&token.name, &state.settings.domain),
            full_name: None,
        },
        created_at: token.created_at,
        updated_at: token.last_used_at.unwrap_or(token.created_at),
    }
}

/// The caller's own secret, echoed only on the caller's own authorization.
fn own_secret(
    headers: &HeaderMap,
    caller: &paas_store::ApiToken,
    token: &TokenInfo,
) -> Option<String> {
    if caller.token_id != token.token_id {
        return None;
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(token_from_authorization)
}

/// Every token, sorted by description (as the heroku CLI shows them).
#[utoipa::path(get, path = "/oauth/authorizations", tag = "authorizations",
    responses((status = 200, body = Vec<wire::OAuthAuthorization>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
) -> Result<Json<Vec<wire::OAuthAuthorization>>, ApiError> {
    let tokens = state.store.tokens().await?;
    Ok(Json(
        tokens
            .iter()
            .map(|t| present(t, own_secret(&headers, &caller, t), &state))
            .collect(),
    ))
}

/// Makes a token; its secret is in `access_token.token` of this answer only.
#[utoipa::path(post, path = "/oauth/authorizations", tag = "authorizations",
    request_body = wire::OAuthAuthorizationCreate,
    responses((status = 201, body = wire::OAuthAuthorization), crate::openapi::Errors))]
async fn create(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiJson(body): ApiJson<wire::OAuthAuthorizationCreate>,
) -> Result<(StatusCode, Json<wire::OAuthAuthorization>), ApiError> {
    let expires_in =
        match &body.expires_in {
            None => None,
            Some(wire::Seconds::Number(n)) => Some(*n),
            Some(wire::Seconds::Text(t)) => Some(t.trim().parse::<u64>().map_err(|_| {
                ApiError::Invalid("expires_in must be a number of seconds.".into())
            })?),
        };
    if let Some(n) = expires_in
        && !(1..=MAX_EXPIRES_IN).contains(&n)
    {
        return Err(ApiError::Invalid(format!(
            "expires_in must be from 1 to {MAX_EXPIRES_IN} seconds."
        )));
    }
    if let Some(scope) = &body.scope
        && scope.iter().any(|s| s != "global")
    {
        return Err(ApiError::Invalid(
            "paas tokens have one scope: global.".into(),
        ));
    }
    let name = body
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map_or_else(
            || format!("authorization by {}", caller.name),
            str::to_owned,
        );
    let new = state
        .store
        .create_token_expiring(&name, expires_in.map(std::time::Duration::from_secs))
        .await?;
    tracing::info!(token = %new.token.name, by = %caller.name, "API token created");
    let info = TokenInfo {
        token_id: new.token.token_id,
        name: new.token.name.clone(),
        created_at: new.token.created_at,
        last_used_at: None,
        expires_at: new.token.expires_at,
    };
    Ok((
        StatusCode::CREATED,
        Json(present(&info, Some(new.secret.clone()), &state)),
    ))
}

#[utoipa::path(get, path = "/oauth/authorizations/{authorization}", tag = "authorizations",
    params(("authorization" = String, Path, description = "Authorization id, or `~` for the caller's own")),
    responses((status = 200, body = wire::OAuthAuthorization), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<wire::OAuthAuthorization>, ApiError> {
    let token = find(&state, &caller, &id).await?;
    let secret = own_secret(&headers, &caller, &token);
    Ok(Json(present(&token, secret, &state)))
}

/// Revokes the token: it is refused at once, here and on git.
#[utoipa::path(delete, path = "/oauth/authorizations/{authorization}", tag = "authorizations",
    params(("authorization" = String, Path, description = "Authorization id, or `~` for the caller's own")),
    responses((status = 200, body = wire::OAuthAuthorization), crate::openapi::Errors))]
async fn revoke(
    State(state): State<AppState>,
    Authenticated(caller): Authenticated,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<wire::OAuthAuthorization>, ApiError> {
    let token = find(&state, &caller, &id).await?;
    let revoked = state
        .store
        .revoke_token(&token.token_id.to_string())
        .await?;
    tracing::info!(token = %revoked.name, by = %caller.name, "API token revoked");
    Ok(Json(present(&revoked, None, &state)))
}

/// By id only (names are not unique), or `~`: the caller's own.
async fn find(
    state: &AppState,
    caller: &paas_store::ApiToken,
    id: &str,
) -> Result<TokenInfo, ApiError> {
    let id = if id == "~" {
        caller.token_id
    } else {
        uuid::Uuid::parse_str(id)
            .map_err(|_| ApiError::NotFound("Couldn't find that authorization.".into()))?
    };
    match state.store.token(&id.to_string()).await {
        Ok(t) if t.token_id == id => Ok(t),
        Ok(_) | Err(paas_store::StoreError::NotFound { .. }) => Err(ApiError::NotFound(
            "Couldn't find that authorization.".into(),
        )),
        Err(e) => Err(e.into()),
    }
}
