//! Logs: log sessions (`POST /apps/{app}/log-sessions` answers a `logplex_url`; a GET of
//! that URL streams the lines), log drains (`/apps/{app}/log-drains`), and the platform
//! events (`app[api]`) the API's own changes write into an app's stream.
//!
//! The session URL needs no credentials, as on Heroku: its random id is the secret, it
//! works for a few minutes, and it only reads. Lines stream as plain text, or as
//! server-sent events when the client asks for `text/event-stream` (the heroku CLI reads
//! logs with an EventSource).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use paas_logs::{Delivery, LogFilter, LogLine, Source, Subscription};
use paas_store::{App, LogDrain, Release};
use paas_wire as wire;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiBytes, ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

/// `heroku logs` shows this many lines unless told otherwise.
const DEFAULT_LINES: usize = 100;

/// An idle event stream sends a comment this often, so dead clients are noticed.
const KEEP_ALIVE: Duration = Duration::from_secs(30);

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_session))
        .routes(routes!(stream))
        .routes(routes!(list_drains, add_drain))
        .routes(routes!(remove_drain))
}

/// `app[api]` lines for a release made through the API: what changed, then the release,
/// as Heroku writes them.
pub(crate) fn release_events(state: &AppState, app: &str, release: &Release, who: &str) {
    state.logs.publish(
        app,
        LogLine::api(format!("{} by user {who}", release.description)),
    );
    state.logs.publish(
        app,
        LogLine::api(format!(
            "Release v{} created by user {who}",
            release.version
        )),
    );
}

#[utoipa::path(post, path = "/apps/{app}/log-sessions", tag = "logs", params(("app" = String, Path, description = "App name or id")),
    request_body(content = Option<wire::LogSessionCreate>, description = "May be empty: the defaults"),
    responses((status = 201, body = wire::LogSession), crate::openapi::Errors))]
async fn create_session(
    State(state): State<AppState>,
    Authenticated(token): Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiBytes(body): ApiBytes,
) -> Result<(StatusCode, Json<wire::LogSession>), ApiError> {
    let app = apps::find(&state, &app).await?;
    // The heroku CLI may send an empty body for the defaults.
    let request: wire::LogSessionCreate = crate::extract::optional_body(&body)?;
    let lines = match request.lines {
        None => DEFAULT_LINES,
        Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
        Some(n) => {
            return Err(ApiError::Invalid(format!(
                "lines must be 0 or more, not {n}."
            )));
        }
    };
    let source = match request.source.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(Source::parse(raw).ok_or_else(|| {
            ApiError::Invalid(format!("source must be app or heroku, not {raw:?}."))
        })?),
    };
    let dyno = match request.dyno.as_deref() {
        None | Some("") => None,
        Some(raw)
            if raw.len() <= 64
                && raw
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')) =>
        {
            Some(raw.to_owned())
        }
        Some(raw) => return Err(ApiError::Invalid(format!("{raw:?} is not a dyno name."))),
    };
    let filter = LogFilter { source, dyno };
    let id = state.logs.create_session_by(
        &app.name,
        lines,
        request.tail.unwrap_or(false),
        filter,
        Some(token.token_id),
    );
    let now = chrono::Utc::now();
    Ok((
        StatusCode::CREATED,
        Json(wire::LogSession {
            id,
            logplex_url: format!(
                "{}/log-sessions/{id}",
                state.settings.public_url.trim_end_matches('/')
            ),
            created_at: now,
            updated_at: now,
        }),
    ))
}

/// The lines of a log session: history, then (with `tail`) new lines as they come.
#[utoipa::path(get, path = "/log-sessions/{id}", tag = "logs", security(()),
    params(("id" = String, Path, description = "The session id: the `logplex_url` is its own credential")),
    responses(
        (status = 200, description = "Log lines as text, or server-sent events to `Accept: text/event-stream`", content_type = "text/plain", body = String),
        crate::openapi::Errors))]
async fn stream(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let session = Uuid::parse_str(&id)
        .ok()
        .and_then(|id| state.logs.session(id))
        .ok_or_else(|| {
            ApiError::NotFound("This log session has expired or does not exist.".into())
        })?;
    if let Some(token) = session.token_id
        && !state.store.token_is_live(token).await?
    {
        return Err(ApiError::NotFound(
            "This log session has expired or does not exist.".into(),
        ));
    }
    let sse = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    let (history, live) = state
        .logs
        .open(&session.app, &session.filter, session.lines);
    let mut lines = LineStream {
        pending: VecDeque::with_capacity(history.len()),
        live: session.tail.then_some(live),
        sse,
        seq: 0,
        shutdown: state.shutdown.clone(),
        token: session.token_id.map(|id| TokenCheck {
            id,
            store: state.store.clone(),
            revocations: state.store.token_revocations(),
        }),
    };
    for line in &history {
        let chunk = lines.encode(line);
        lines.pending.push_back(chunk);
    }
    let body = Body::from_stream(futures::stream::unfold(lines, LineStream::next));
    let content_type = if sse {
        "text/event-stream"
    } else {
        "text/plain; charset=utf-8"
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

struct LineStream {
    pending: VecDeque<Bytes>,
    live: Option<Subscription>,
    sse: bool,
    seq: u64,
    shutdown: CancellationToken,
    /// The token that opened the session: the stream ends once it is revoked or expired.
    token: Option<TokenCheck>,
}

struct TokenCheck {
    id: Uuid,
    store: paas_store::Store,
    revocations: tokio::sync::watch::Receiver<u64>,
}

/// An open stream re-checks its token this often (for expiry; revocations wake it at once).
const TOKEN_RECHECK: Duration = Duration::from_secs(5);

impl TokenCheck {
    /// Resolves once the token is no longer live.
    async fn gone(&mut self) {
        loop {
            tokio::select! {
                changed = self.revocations.changed() => {
                    if changed.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
                () = tokio::time::sleep(TOKEN_RECHECK) => {}
            }
            // A database error keeps the stream: the next check decides.
            if let Ok(false) = self.store.token_is_live(self.id).await {
                return;
            }
        }
    }
}

async fn token_gone(check: Option<&mut TokenCheck>) {
    match check {
        Some(check) => check.gone().await,
        None => std::future::pending().await,
    }
}

impl LineStream {
    fn encode(&mut self, line: &LogLine) -> Bytes {
        let text = line.heroku_format();
        if self.sse {
            self.seq += 1;
            // A line holds no newline (the collector splits on them), so one data field.
            Bytes::from(format!("id: {}\ndata: {text}\n\n", self.seq))
        } else {
            Bytes::from(text + "\n")
        }
    }

    async fn next(mut self) -> Option<(Result<Bytes, Infallible>, Self)> {
        if let Some(chunk) = self.pending.pop_front() {
            return Some((Ok(chunk), self));
        }
        let mut live = self.live.take()?;
        let chunk = tokio::select! {
            () = self.shutdown.cancelled() => return None,
            () = token_gone(self.token.as_mut()) => return None,
            delivery = live.next() => match delivery {
                Some(Delivery::Line(line)) => self.encode(&line),
                Some(Delivery::Missed(n)) => self.encode(&paas_logs::overflow(n)),
                None => return None,
            },
            () = tokio::time::sleep(KEEP_ALIVE), if self.sse => Bytes::from_static(b": keep-alive\n\n"),
        };
        self.live = Some(live);
        Some((Ok(chunk), self))
    }
}

fn present_drain(d: &LogDrain, app: &App) -> wire::LogDrain {
    wire::LogDrain {
        id: d.drain_id,
        url: d.url.clone(),
        token: d.token.clone(),
        addon: None,
        app: wire::IdName {
            id: app.app_id,
            name: app.name.clone(),
        },
        created_at: d.created_at,
        updated_at: d.updated_at,
    }
}

#[utoipa::path(get, path = "/apps/{app}/log-drains", tag = "logs", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::LogDrain>), crate::openapi::Errors))]
async fn list_drains(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::LogDrain>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let drains = state.store.log_drains(app.app_id).await?;
    Ok(Json(
        drains.iter().map(|d| present_drain(d, &app)).collect(),
    ))
}

#[utoipa::path(post, path = "/apps/{app}/log-drains", tag = "logs", params(("app" = String, Path, description = "App name or id")), request_body = wire::LogDrainCreate,
    responses((status = 201, body = wire::LogDrain), crate::openapi::Errors))]
async fn add_drain(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::LogDrainCreate>,
) -> Result<(StatusCode, Json<wire::LogDrain>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let url = body.url.trim();
    paas_logs::parse_drain_url(url).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let drain = state.store.add_log_drain(app.app_id, url).await?;
    // The URL may carry credentials: it is not logged.
    tracing::info!(app = %app.name, drain = %drain.drain_id, "log drain added");
    state.drains_changed.notify_one();
    Ok((StatusCode::CREATED, Json(present_drain(&drain, &app))))
}

#[utoipa::path(delete, path = "/apps/{app}/log-drains/{drain}", tag = "logs", params(("app" = String, Path, description = "App name or id"), ("drain" = String, Path, description = "Drain id or URL")),
    responses((status = 200, body = wire::LogDrain), crate::openapi::Errors))]
async fn remove_drain(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, drain)): ApiPath<(String, String)>,
) -> Result<Json<wire::LogDrain>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let drain = state.store.remove_log_drain(app.app_id, &drain).await?;
    tracing::info!(app = %app.name, drain = %drain.drain_id, "log drain removed");
    state.drains_changed.notify_one();
    Ok(Json(present_drain(&drain, &app)))
}
