//! `/apps/{app}/sni-endpoints`: certificates users upload (`heroku certs:add cert key`).
//! The pair is checked before anything is stored — PEM that parses, a key that matches
//! the first certificate, every certificate of the chain valid now — else a 422 that
//! names the problem. The private key is sealed before it reaches the store. An
//! uploaded certificate wins over an ACME one for the names it covers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paas_store::{App, SniEndpoint, StoreError};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(info, update, remove))
}

fn certs(state: &AppState) -> Result<&paas_tls::CertsHandle, ApiError> {
    state.certs.as_ref().ok_or_else(|| {
        ApiError::Invalid("The router's HTTPS listener is off (PAAS_ROUTER_TLS_ADDR=off).".into())
    })
}

fn not_found(e: StoreError) -> ApiError {
    match e {
        StoreError::NotFound { .. } => ApiError::NotFound("Record not found.".into()),
        other => other.into(),
    }
}

/// The checked pair, or the 422 saying what is wrong with it.
fn check(body: &wire::SniEndpointCreate) -> Result<paas_tls::Parsed, ApiError> {
    paas_tls::pem::parse(
        &body.certificate_chain,
        &body.private_key,
        chrono::Utc::now(),
    )
    .map_err(|e| ApiError::Invalid(e.to_string()))
}

pub(crate) async fn present(
    state: &AppState,
    app: &App,
    e: &SniEndpoint,
) -> Result<wire::SniEndpoint, ApiError> {
    let info =
        paas_tls::pem::chain_info(&e.chain_pem).map_err(|e| ApiError::Internal(Box::new(e)))?;
    let domains = state
        .store
        .domains(app.app_id)
        .await?
        .into_iter()
        .filter(|d| {
            info.names
                .iter()
                .any(|n| paas_tls::pem::name_covers(n, &d.hostname))
        })
        .map(|d| d.domain_id)
        .collect();
    Ok(wire::SniEndpoint {
        id: e.endpoint_id,
        name: e.name.clone(),
        display_name: None,
        app: wire::IdName {
            id: app.app_id,
            name: app.name.clone(),
        },
        certificate_chain: e.chain_pem.clone(),
        domains,
        ssl_cert: wire::SslCert {
            id: e.endpoint_id,
            cert_domains: info.names.clone(),
            expires_at: info.not_after,
            starts_at: info.not_before,
            issuer: info.issuer.clone(),
            subject: info.subject.clone(),
            ca_signed: !info.self_signed,
            self_signed: info.self_signed,
            acm: false,
        },
        created_at: e.created_at,
        updated_at: e.updated_at,
    })
}

#[utoipa::path(get, path = "/apps/{app}/sni-endpoints", tag = "certs", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::SniEndpoint>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::SniEndpoint>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let mut out = Vec::new();
    for e in state.store.sni_endpoints(app.app_id).await? {
        out.push(present(&state, &app, &e).await?);
    }
    Ok(Json(out))
}

#[utoipa::path(post, path = "/apps/{app}/sni-endpoints", tag = "certs", params(("app" = String, Path, description = "App name or id")), request_body = wire::SniEndpointCreate,
    responses((status = 201, body = wire::SniEndpoint), crate::openapi::Errors))]
async fn create(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::SniEndpointCreate>,
) -> Result<(StatusCode, Json<wire::SniEndpoint>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let certs = certs(&state)?;
    let parsed = check(&body)?;
    let sealed = certs
        .sealer
        .seal(paas_tls::acme::KEY_PURPOSE, parsed.key_pem.as_bytes())
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("{}-{}", app.name, &suffix[..6]);
    let endpoint = state
        .store
        .add_sni_endpoint(app.app_id, &name, &parsed.chain_pem, &sealed)
        .await?;
    changed(
        &state,
        &app,
        format!(
            "Added certificate {name} for {} by user {}",
            parsed.info.names.join(", "),
            token.name
        ),
    );
    Ok((
        StatusCode::CREATED,
        Json(present(&state, &app, &endpoint).await?),
    ))
}

#[utoipa::path(get, path = "/apps/{app}/sni-endpoints/{endpoint}", tag = "certs", params(("app" = String, Path, description = "App name or id"), ("endpoint" = String, Path, description = "Endpoint name or id")),
    responses((status = 200, body = wire::SniEndpoint), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, endpoint)): ApiPath<(String, String)>,
) -> Result<Json<wire::SniEndpoint>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let e = state
        .store
        .sni_endpoint(app.app_id, &endpoint)
        .await
        .map_err(not_found)?;
    Ok(Json(present(&state, &app, &e).await?))
}

#[utoipa::path(patch, path = "/apps/{app}/sni-endpoints/{endpoint}", tag = "certs", params(("app" = String, Path, description = "App name or id"), ("endpoint" = String, Path, description = "Endpoint name or id")), request_body = wire::SniEndpointCreate,
    responses((status = 200, body = wire::SniEndpoint), crate::openapi::Errors))]
async fn update(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath((app, endpoint)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<wire::SniEndpointCreate>,
) -> Result<Json<wire::SniEndpoint>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let certs = certs(&state)?;
    let parsed = check(&body)?;
    let sealed = certs
        .sealer
        .seal(paas_tls::acme::KEY_PURPOSE, parsed.key_pem.as_bytes())
        .map_err(|e| ApiError::Internal(Box::new(e)))?;
    let e = state
        .store
        .update_sni_endpoint(app.app_id, &endpoint, &parsed.chain_pem, &sealed)
        .await
        .map_err(not_found)?;
    changed(
        &state,
        &app,
        format!("Updated certificate {} by user {}", e.name, token.name),
    );
    Ok(Json(present(&state, &app, &e).await?))
}

#[utoipa::path(delete, path = "/apps/{app}/sni-endpoints/{endpoint}", tag = "certs", params(("app" = String, Path, description = "App name or id"), ("endpoint" = String, Path, description = "Endpoint name or id")),
    responses((status = 200, body = wire::SniEndpoint), crate::openapi::Errors))]
async fn remove(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath((app, endpoint)): ApiPath<(String, String)>,
) -> Result<Json<wire::SniEndpoint>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let e = state
        .store
        .remove_sni_endpoint(app.app_id, &endpoint)
        .await
        .map_err(not_found)?;
    changed(
        &state,
        &app,
        format!("Removed certificate {} by user {}", e.name, token.name),
    );
    Ok(Json(present(&state, &app, &e).await?))
}

/// Tells the certificate manager the app's endpoints changed, and the app's log `event`.
fn changed(state: &AppState, app: &paas_store::App, event: String) {
    if let Some(certs) = &state.certs {
        certs.changed.notify_one();
    }
    state
        .logs
        .publish(&app.name, paas_logs::LogLine::api(event));
}
