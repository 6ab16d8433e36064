//! The git endpoint: `git push http://<paasd>/<app>.git main`.
//!
//! Requests go to `git http-backend` (see `paas_builder::git`). A receive-pack request
//! registers a push with a one-time secret; git's pre-receive hook then calls
//! `POST /internal/pushes/{id}` with that secret, and this module answers with the
//! build's output as it happens, ending with the line that tells the hook to accept or
//! reject the push.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::{StreamExt, TryStreamExt};
use paas_builder::git::{self, CgiRequest, PUSH_STATUS_FAILED, PUSH_STATUS_OK};
use paas_builder::{ObjectDirs, PushOutcome};
use paas_core::AppName;
use paas_wire as wire;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiBytes, ApiPath, ApiQuery};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info_refs))
        .routes(routes!(receive_pack))
        .routes(routes!(upload_pack))
        .routes(routes!(push_hook))
}

/// git asks for credentials only after a 401 that offers basic auth.
fn git_unauthorized() -> Response {
    let mut response = ApiError::Unauthorized.into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"paas\""),
    );
    response
}

/// The app a git request names (`<app>.git`) and its repository, made if missing, once
/// the request's token is good; `None` for a bad token, which gets [`git_unauthorized`].
async fn repository(
    state: &AppState,
    auth: Result<Authenticated, ApiError>,
    repo: &str,
) -> Result<Option<(paas_store::App, AppName)>, ApiError> {
    if auth.is_err() {
        return Ok(None);
    }
    let name = repo
        .strip_suffix(".git")
        .ok_or_else(|| ApiError::NotFound("Git repositories are at /<app>.git.".into()))?;
    let name = AppName::parse(name)?;
    let app = apps::find(state, name.as_str()).await?;
    state
        .builder
        .repos()
        .ensure(&name)
        .await
        .map_err(internal)?;
    Ok(Some((app, name)))
}

/// git's smart HTTP discovery (`git push`, `git clone`).
#[utoipa::path(get, path = "/{repo}/info/refs", tag = "git",
    params(("repo" = String, Path, description = "`<app>.git`"), ("service" = Option<String>, Query, description = "`git-receive-pack` or `git-upload-pack`")),
    responses((status = 200, description = "git's advertisement", content_type = "application/octet-stream", body = Vec<u8>), crate::openapi::Errors))]
async fn info_refs(
    State(state): State<AppState>,
    auth: Result<Authenticated, ApiError>,
    ApiPath(repo): ApiPath<String>,
    ApiQuery(query): ApiQuery<wire::GitServiceQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Some((_, app)) = repository(&state, auth, &repo).await? else {
        return Ok(git_unauthorized());
    };
    let service = query.service.unwrap_or_default();
    if service != "git-receive-pack" && service != "git-upload-pack" {
        return Err(ApiError::BadRequest(
            "Only git's smart HTTP protocol is served.".into(),
        ));
    }
    cgi(
        &state,
        Method::GET,
        &app,
        "info/refs",
        &format!("service={service}"),
        &headers,
        Body::empty(),
        vec![],
        None,
    )
    .await
}

/// Fetch (`git clone`, `git pull`).
#[utoipa::path(post, path = "/{repo}/git-upload-pack", tag = "git", params(("repo" = String, Path, description = "`<app>.git`")),
    request_body(content = Vec<u8>, content_type = "application/x-git-upload-pack-request"),
    responses((status = 200, description = "git's pack", content_type = "application/x-git-upload-pack-result", body = Vec<u8>), crate::openapi::Errors))]
async fn upload_pack(
    State(state): State<AppState>,
    auth: Result<Authenticated, ApiError>,
    ApiPath(repo): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some((_, app)) = repository(&state, auth, &repo).await? else {
        return Ok(git_unauthorized());
    };
    cgi(
        &state,
        Method::POST,
        &app,
        "git-upload-pack",
        "",
        &headers,
        body,
        vec![],
        None,
    )
    .await
}

/// Push (`git push`): builds and releases `main` or `master`.
#[utoipa::path(post, path = "/{repo}/git-receive-pack", tag = "git", params(("repo" = String, Path, description = "`<app>.git`")),
    request_body(content = Vec<u8>, content_type = "application/x-git-receive-pack-request"),
    responses((status = 200, description = "git's report, with the build output as remote messages", content_type = "application/x-git-receive-pack-result", body = Vec<u8>), crate::openapi::Errors))]
async fn receive_pack(
    State(state): State<AppState>,
    auth: Result<Authenticated, ApiError>,
    ApiPath(repo): ApiPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let Some((app, name)) = repository(&state, auth, &repo).await? else {
        return Ok(git_unauthorized());
    };
    let push = state.builder.pushes().open(app.app_id, name.clone());
    let env = vec![
        (
            "PAAS_PUSH_URL".to_owned(),
            format!("{}/internal/pushes/{}", state.settings.local_url, push.id),
        ),
        ("PAAS_PUSH_SECRET".to_owned(), push.secret.clone()),
    ];
    cgi(
        &state,
        Method::POST,
        &name,
        "git-receive-pack",
        "",
        &headers,
        body,
        env,
        Some(push),
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn cgi(
    state: &AppState,
    method: Method,
    app: &AppName,
    service_path: &str,
    query: &str,
    headers: &HeaderMap,
    body: Body,
    env: Vec<(String, String)>,
    push: Option<paas_builder::PushGuard>,
) -> Result<Response, ApiError> {
    let header_str = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = CgiRequest {
        method: method.to_string(),
        path_info: format!("/{app}.git/{service_path}"),
        query: query.to_owned(),
        content_type: header_str(header::CONTENT_TYPE),
        content_encoding: header_str(header::CONTENT_ENCODING),
        git_protocol: headers
            .get("git-protocol")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        env,
    };
    let body = body
        .into_data_stream()
        .map_err(std::io::Error::other)
        .boxed();
    let response = git::http_backend(state.builder.repos(), request, body)
        .await
        .map_err(internal)?;
    // The push stays registered until git is done with the response.
    let stream = response.body.0.map(move |chunk| {
        let _keep = &push;
        chunk
    });
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in &response.headers {
        builder = builder.header(name, value);
    }
    builder
        .body(Body::from_stream(stream))
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// The pre-receive hook's call: build what was pushed, stream the output, end with the
/// verdict line.
#[utoipa::path(post, path = "/internal/pushes/{id}", tag = "git",
    params(("id" = Uuid, Path, description = "The push, as registered by receive-pack")),
    security(("push_secret" = [])),
    request_body(content = String, content_type = "text/plain", description = "The pushed refs, as git's pre-receive hook reads them"),
    responses((status = 200, description = "The build output, ending with the verdict line", content_type = "text/plain", body = String), crate::openapi::Errors))]
async fn push_hook(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiBytes(refs): ApiBytes,
) -> Result<Response, ApiError> {
    let refs = String::from_utf8(refs.to_vec())
        .map_err(|_| ApiError::BadRequest("The pushed refs are not UTF-8.".into()))?;
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::Unauthorized)?;
    let ticket = state
        .builder
        .pushes()
        .check(id, secret)
        .ok_or(ApiError::Unauthorized)?;
    let header_value = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let dirs = ObjectDirs {
        object_directory: header_value("x-git-object-directory"),
        alternates: header_value("x-git-alternate-object-directories"),
    };
    let (tx, rx) = mpsc::channel::<String>(256);
    let builder = state.builder.clone();
    let nudge = state.nudge.clone();
    tokio::spawn(async move {
        let verdict = match builder.build_push(&ticket, &refs, &dirs, tx.clone()).await {
            Ok(PushOutcome::Released { version }) => {
                nudge.app_changed(ticket.app_id);
                // The push ends when the release runs (or failed to start), so a
                // deploy that cannot boot is reported where the deployer is looking.
                match builder.await_rollout(&ticket, version, &tx).await {
                    Ok(true) => PUSH_STATUS_OK,
                    Ok(false) => PUSH_STATUS_FAILED,
                    Err(e) => {
                        tracing::warn!(app = %ticket.app, error = %e, "following a rollout failed");
                        PUSH_STATUS_OK
                    }
                }
            }
            Ok(PushOutcome::Rejected) => PUSH_STATUS_FAILED,
            Err(e) => {
                tracing::error!(app = %ticket.app, error = %e, "push failed");
                // The pusher is told why, not only paasd's log.
                let _ = tx.send(format!(" !     Push failed: {e}")).await;
                PUSH_STATUS_FAILED
            }
        };
        let _ = tx.send(verdict.to_owned()).await;
    });
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|line| (Ok::<_, std::io::Error>(Bytes::from(line + "\n")), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from_stream(lines))
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

fn internal(e: paas_builder::BuildError) -> ApiError {
    ApiError::Internal(Box::new(e))
}
