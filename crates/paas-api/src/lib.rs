//! The control API: Heroku Platform API v3 paths and shapes over axum.
//!
//! One module per resource, each exporting `router()`; they are merged in [`router`],
//! which is therefore the list of every endpoint. Handlers parse raw input into
//! `paas_core` types at the edge, call the store, and turn rows into `paas_wire` shapes
//! (in `present`). Every failure is an [`ApiError`], the only type that becomes an HTTP
//! error response.

mod absent;
mod account;
mod acm;
mod addon_actions;
mod addon_attachments;
mod addon_backups;
mod addon_info;
mod addons;
mod apps;
mod authorizations;
mod buildpacks;
mod builds;
mod config_vars;
mod data_host;
mod domains;
mod dynos;
mod error;
mod extract;
mod formation;
mod git;
mod logs;
mod nodes;
mod openapi;
mod present;
mod range;
mod releases;
mod rendezvous;
mod sni_endpoints;
pub mod tls;

use axum::extract::State;
use axum::http::{HeaderName, StatusCode};
use axum::{Json, Router};
use paas_store::Store;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use error::ApiError;
pub use extract::Authenticated;
pub use rendezvous::RendezvousTable;

/// What the API needs to describe apps to clients.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Apps answer at `<app>.<domain>`.
    pub domain: String,
    /// Where apps' default hosts are reached, for `web_url`.
    pub web_url: paas_core::routes::WebUrl,
    /// Where clients reach this API (and its git endpoint), for `git_url`.
    pub public_url: String,
    /// Where processes on this host reach the API (git hooks call back here).
    pub local_url: String,
    /// The installation's container label (`PAAS_INSTANCE`), for one-off dynos.
    pub instance: String,
    /// Limits of one-off dynos, as of formation dynos.
    pub dyno_limits: paas_core::runtime::DynoLimits,
    /// `rendezvous://<host>:<port>` of the TLS port, when paasd has one: attached
    /// one-off dynos answer an `attach_url` under it (see `rendezvous`).
    pub rendezvous_url: Option<String>,
}

/// Cheap-to-clone handles shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Store,
    pub settings: std::sync::Arc<ApiSettings>,
    pub builder: std::sync::Arc<paas_builder::Builder>,
    /// Add-ons: creating, attaching, detaching, destroying (`paas-addons`).
    pub addons: paas_addons::Addons,
    /// The Docker Engine: one-off dynos and their output.
    pub docker: paas_docker::Docker,
    /// The machines dynos run on (`GET /nodes`): the supervisor's runtime.
    pub nodes: std::sync::Arc<dyn paas_core::runtime::NodeList>,
    /// Tells the supervisor which app's desired state changed.
    pub nudge: std::sync::Arc<dyn paas_core::runtime::Nudge>,
    /// Secrets of attached one-off dynos awaiting their client on the TLS port.
    pub rendezvous: RendezvousTable,
    /// The apps' log streams and log sessions.
    pub logs: std::sync::Arc<paas_logs::LogHub>,
    /// Wakes the drain forwarders after a drain is added or removed.
    pub drains_changed: std::sync::Arc<tokio::sync::Notify>,
    /// Cancelled when paasd stops: endless responses (`logs --tail`) end then.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// What `GET /metrics` shows (the router's counters), if anything.
    pub metrics: Option<std::sync::Arc<dyn MetricsText>>,
    /// Uploaded certificates' sealing key and the certificate manager's wake-up, when
    /// the router serves HTTPS.
    pub certs: Option<paas_tls::CertsHandle>,
}

/// Prometheus text for `GET /metrics`; paasd hands in the router's metrics.
pub trait MetricsText: Send + Sync + std::fmt::Debug {
    fn render(&self) -> String;
}

/// Every route of the control API with its description: each module's routes come from
/// its handlers' `#[utoipa::path]`, so the served router and `/openapi.json` agree.
fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(healthz))
        .routes(routes!(metrics))
        .routes(routes!(openapi::document))
        .merge(account::router())
        .merge(authorizations::router())
        .merge(apps::router())
        .merge(config_vars::router())
        .merge(releases::router())
        .merge(formation::router())
        .merge(buildpacks::router())
        .merge(builds::router())
        .merge(dynos::router())
        .merge(domains::router())
        .merge(acm::router())
        .merge(sni_endpoints::router())
        .merge(addons::router())
        .merge(addon_attachments::router())
        .merge(addon_actions::router())
        .merge(addon_backups::router())
        .merge(addon_info::router())
        .merge(data_host::router())
        .merge(absent::router())
        .merge(git::router())
        .merge(logs::router())
        .merge(nodes::router())
}

/// The OpenAPI description of [`router`].
/// (utoipa's generated document, before `openapi_json` adds the core's rules).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// `/openapi.json` as served: [`openapi`] with the rules of `paas_core`'s parsers
/// (patterns, enums, bounds) the derived schemas cannot state.
pub fn openapi_json() -> serde_json::Value {
    openapi::with_core_rules(&openapi())
}

/// Every route of the control API, with request ids and tracing.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("request-id");
    let (routes, _) = api_router().split_for_parts();
    routes
        .fallback(|| async { ApiError::NoSuchRoute })
        .method_not_allowed_fallback(|| async { ApiError::NoSuchRoute })
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req
                .headers()
                .get("request-id")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("http_request", method = %req.method(), path = %req.uri().path(), request_id = %id, token = tracing::field::Empty)
        }))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// Prometheus text format; behind a token like every endpoint but `/healthz`.
#[utoipa::path(get, path = "/metrics", tag = "meta",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), openapi::Errors))]
async fn metrics(
    State(state): State<AppState>,
    _: Authenticated,
) -> impl axum::response::IntoResponse {
    let body = state
        .metrics
        .as_ref()
        .map(|m| m.render())
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
}

/// Liveness and readiness in one: 200 when the database answers, 503 when it does not.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    security(()),
    responses(
        (status = 200, description = "The database answers", body = Object),
        (status = 503, description = "The database does not answer", body = Object),
    )
)]
async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<serde_json::Value>) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(serde_json::json!({"status": "ok"}))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"status": "unavailable", "database": "unreachable"})),
            )
        }
    }
}
