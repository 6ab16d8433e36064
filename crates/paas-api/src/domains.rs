//! `/apps/{app}/domains`: the hostnames an app answers on. The default one
//! (`<app>.<PAAS_DOMAIN>`) is listed as kind `heroku`; added ones are `custom`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use paas_core::Hostname;
use paas_store::{App, Domain, StoreError};
use paas_wire as wire;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, add))
        .routes(routes!(info, update, remove))
}

/// A custom domain's certificate, as the domain list shows it.
#[derive(Debug, Default)]
struct CertState {
    status: Option<String>,
    reason: Option<String>,
    expires_at: Option<chrono::DateTime<chrono::Utc>>,
    sni_endpoint: Option<serde_json::Value>,
}

/// Heroku's words for paas's certificate states (the CLI's `certs:auto --wait` ends on
/// `cert issued`).
fn acm_status(status: &str) -> &str {
    match status {
        "issued" => "cert issued",
        other => other,
    }
}

/// The certificate state of each of the app's custom domains, by domain id: the ACME
/// state, and the uploaded certificate covering it (which wins).
async fn cert_states(
    state: &AppState,
    app: &App,
) -> Result<std::collections::HashMap<uuid::Uuid, CertState>, ApiError> {
    let endpoints = state.store.sni_endpoints(app.app_id).await?;
    let covering: Vec<(paas_store::SniEndpoint, Vec<String>)> = endpoints
        .into_iter()
        .filter_map(|e| {
            let names = paas_tls::pem::chain_info(&e.chain_pem).ok()?.names;
            Some((e, names))
        })
        .collect();
    let mut out = std::collections::HashMap::new();
    for d in state.store.app_domain_certs(app.app_id).await? {
        let uploaded = covering.iter().find(|(_, names)| {
            names
                .iter()
                .any(|n| paas_tls::pem::name_covers(n, &d.hostname))
        });
        let cert = CertState {
            status: Some(acm_status(&d.status).to_owned()),
            reason: d.reason.clone(),
            expires_at: d.not_after.filter(|_| d.chain_pem.is_some()),
            sni_endpoint: uploaded
                .map(|(e, _)| serde_json::json!({"id": e.endpoint_id, "name": e.name})),
        };
        out.insert(d.domain_id, cert);
    }
    Ok(out)
}

/// `cname` is the app's default hostname: where a custom domain's DNS should point.
fn present(d: &Domain, app: &App, domain: &str) -> wire::Domain {
    present_with(d, app, domain, CertState::default())
}

fn present_with(d: &Domain, app: &App, domain: &str, cert: CertState) -> wire::Domain {
    wire::Domain {
        id: d.domain_id,
        hostname: d.hostname.clone(),
        kind: "custom".into(),
        cname: Some(format!("{}.{domain}", app.name)),
        status: "succeeded".into(),
        acm_status: cert.status,
        acm_status_reason: cert.reason,
        acm_expires_at: cert.expires_at,
        sni_endpoint: cert.sni_endpoint,
        app: wire::IdName {
            id: app.app_id,
            name: app.name.clone(),
        },
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

#[utoipa::path(get, path = "/apps/{app}/domains", tag = "domains", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::Domain>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Domain>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    Ok(Json(all(&state, &app).await?))
}

/// One of the app's hostnames (`heroku domains:info`), the default one included.
#[utoipa::path(get, path = "/apps/{app}/domains/{domain}", tag = "domains", params(("app" = String, Path, description = "App name or id"), ("domain" = String, Path, description = "Hostname or id")),
    responses((status = 200, body = wire::Domain), crate::openapi::Errors))]
async fn info(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, domain)): ApiPath<(String, String)>,
) -> Result<Json<wire::Domain>, ApiError> {
    let app = apps::find(&state, &app).await?;
    Ok(Json(one(&state, &app, &domain).await?))
}

/// `heroku domains:update HOST --cert NAME` and the end of `certs:add`: an uploaded
/// certificate serves every hostname it covers, so this checks the endpoint exists and
/// answers the domain as it now is.
#[utoipa::path(patch, path = "/apps/{app}/domains/{domain}", tag = "domains", params(("app" = String, Path, description = "App name or id"), ("domain" = String, Path, description = "Hostname or id")), request_body = wire::DomainUpdate,
    responses((status = 200, body = wire::Domain), crate::openapi::Errors))]
async fn update(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, domain)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<wire::DomainUpdate>,
) -> Result<Json<wire::Domain>, ApiError> {
    let app = apps::find(&state, &app).await?;
    if let Some(name) = body.sni_endpoint.as_deref() {
        state
            .store
            .sni_endpoint(app.app_id, name)
            .await
            .map_err(|_| ApiError::NotFound("Couldn't find that SNI endpoint.".into()))?;
    }
    Ok(Json(one(&state, &app, &domain).await?))
}

/// The app's hostname `domain` (by name, any case, or by id), the default one included.
async fn one(state: &AppState, app: &App, domain: &str) -> Result<wire::Domain, ApiError> {
    all(state, app)
        .await?
        .into_iter()
        .find(|d| d.hostname.eq_ignore_ascii_case(domain) || d.id.to_string() == domain)
        .ok_or_else(|| ApiError::NotFound("Couldn't find that domain.".into()))
}

/// The default hostname (with its ACME certificate's state when it has one: a public
/// `PAAS_DOMAIN`), then the custom ones.
async fn all(state: &AppState, app: &App) -> Result<Vec<wire::Domain>, ApiError> {
    let default_cert = state
        .store
        .default_host_cert(app.app_id, &state.settings.domain)
        .await?;
    let mut out = vec![wire::Domain {
        id: app.app_id,
        hostname: format!("{}.{}", app.name, state.settings.domain),
        kind: "heroku".into(),
        cname: None,
        status: "succeeded".into(),
        acm_status: default_cert
            .as_ref()
            .map(|c| acm_status(&c.status).to_owned()),
        acm_status_reason: default_cert.as_ref().and_then(|c| c.reason.clone()),
        acm_expires_at: default_cert
            .as_ref()
            .and_then(|c| c.not_after.filter(|_| c.chain_pem.is_some())),
        sni_endpoint: None,
        app: wire::IdName {
            id: app.app_id,
            name: app.name.clone(),
        },
        created_at: app.created_at,
        updated_at: app.updated_at,
    }];
    let mut certs = cert_states(state, app).await?;
    out.extend(state.store.domains(app.app_id).await?.iter().map(|d| {
        let cert = certs.remove(&d.domain_id).unwrap_or_default();
        present_with(d, app, &state.settings.domain, cert)
    }));
    Ok(out)
}

#[utoipa::path(post, path = "/apps/{app}/domains", tag = "domains", params(("app" = String, Path, description = "App name or id")), request_body = wire::DomainCreate,
    responses((status = 201, body = wire::Domain), crate::openapi::Errors))]
async fn add(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::DomainCreate>,
) -> Result<(StatusCode, Json<wire::Domain>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let hostname = Hostname::parse(&body.hostname)?;
    if hostname.is_within(&state.settings.domain) {
        return Err(ApiError::Invalid(format!(
            "{hostname} is under {}, where apps get their names; add a domain of your own.",
            state.settings.domain
        )));
    }
    let domain = state
        .store
        .add_domain(app.app_id, hostname.as_str())
        .await?;
    tracing::info!(app = %app.name, hostname = %hostname, "domain added");
    state.nudge.app_changed(app.app_id);
    if let Some(certs) = &state.certs {
        certs.changed.notify_one();
    }
    Ok((
        StatusCode::CREATED,
        Json(present(&domain, &app, &state.settings.domain)),
    ))
}

#[utoipa::path(delete, path = "/apps/{app}/domains/{domain}", tag = "domains", params(("app" = String, Path, description = "App name or id"), ("domain" = String, Path, description = "Hostname or id")),
    responses((status = 200, body = wire::Domain), crate::openapi::Errors))]
async fn remove(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, domain)): ApiPath<(String, String)>,
) -> Result<Json<wire::Domain>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let domain = state
        .store
        .remove_domain(app.app_id, &domain)
        .await
        .map_err(|e| match e {
            StoreError::NotFound { .. } => ApiError::NotFound("Couldn't find that domain.".into()),
            other => other.into(),
        })?;
    tracing::info!(app = %app.name, hostname = %domain.hostname, "domain removed");
    state.nudge.app_changed(app.app_id);
    if let Some(certs) = &state.certs {
        certs.changed.notify_one();
    }
    Ok(Json(present(&domain, &app, &state.settings.domain)))
}
