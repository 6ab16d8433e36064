//! `/apps/{app}/dynos`: the formation's dynos as the supervisor last observed them in
//! Docker, and one-off dynos (`paas run`).

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures::StreamExt;
use paas_core::{
    AppName, ConfigKey, ContainerStatus, DynoName, ProcessType, ReleaseVersion, dyno_env,
};
use paas_wire as wire;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::extract::{ApiJson, ApiPath};
use crate::{ApiError, AppState, Authenticated, apps};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create, restart_all))
        .routes(routes!(restart_one))
        .routes(routes!(stop))
        .routes(routes!(stop_type))
        .routes(routes!(attach, attach_with_input))
        .routes(routes!(start_failures))
}

/// Why the engine refuses to start the app's dynos: empty while it does not.
#[utoipa::path(get, path = "/apps/{app}/start-failures", tag = "dynos", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::StartFailure>), crate::openapi::Errors))]
async fn start_failures(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::StartFailure>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let failure = state.store.start_failure(app.app_id).await?;
    Ok(Json(
        failure
            .into_iter()
            .map(|f| wire::StartFailure {
                release: wire::ReleaseRefBody {
                    id: f.release_id,
                    version: f.version,
                },
                reason: f.reason,
                failures: f.failures,
                failed_at: f.failed_at,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/apps/{app}/dynos", tag = "dynos", params(("app" = String, Path, description = "App name or id")),
    responses((status = 200, body = Vec<wire::Dyno>), crate::openapi::Errors))]
async fn list(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<Json<Vec<wire::Dyno>>, ApiError> {
    let app = apps::find(&state, &app).await?;
    let dynos = state.store.dynos(app.app_id).await?;
    // One-off dynos (`run.N`) are not the supervisor's: Docker is their record.
    let one_offs = state
        .docker
        .one_offs(&state.settings.instance, &app.name)
        .await?;
    let one_offs = one_offs.into_iter().map(|o| {
        let at = chrono::DateTime::from_timestamp(o.created_secs, 0).unwrap_or_default();
        wire::Dyno {
            // Container ids are hex: their first 128 bits make a stable id.
            id: o
                .id
                .get(..32)
                .and_then(|hex| uuid::Uuid::parse_str(hex).ok())
                .unwrap_or_default(),
            name: o.dyno.name.to_string(),
            process_type: "run".into(),
            state: match o.status {
                ContainerStatus::Running => "up",
                ContainerStatus::Created => "starting",
                _ => "down",
            }
            .into(),
            command: o.dyno.command,
            size: "basic".into(),
            release: o.dyno.release_id.zip(o.dyno.version).map(|(id, version)| {
                wire::ReleaseRefBody {
                    id,
                    version: version.get(),
                }
            }),
            app: wire::IdName {
                id: app.app_id,
                name: app.name.clone(),
            },
            attach_url: None,
            created_at: at,
            updated_at: at,
            node: None,
        }
    });
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
                node: d.node,
            })
            .chain(one_offs)
            .collect(),
    ))
}

/// A one-off dyno from the current release, with its config (plus `env`). Attached, it
/// waits for its client at the answer's `attach_url` (a terminal, unless `force_no_tty`)
/// and starts when the client comes; detached, it runs now and is removed when done.
#[utoipa::path(post, path = "/apps/{app}/dynos", tag = "dynos", params(("app" = String, Path, description = "App name or id")), request_body = wire::DynoCreate,
    responses((status = 201, body = wire::Dyno), crate::openapi::Errors))]
async fn create(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
    ApiJson(body): ApiJson<wire::DynoCreate>,
) -> Result<(StatusCode, Json<wire::Dyno>), ApiError> {
    let app = apps::find(&state, &app).await?;
    let command = body.command.trim();
    if command.is_empty() {
        return Err(ApiError::Invalid("command must not be empty.".into()));
    }
    // The app's config, with the request's own variables over it.
    let mut extra = Vec::new();
    for (key, value) in body.env.iter().flatten() {
        extra.push((ConfigKey::parse(key)?, value.clone()));
    }
    let dyno = start_one_off(
        &state,
        &app,
        OneOff {
            command,
            image: None,
            env: extra
                .into_iter()
                .map(|(k, v)| (k.as_str().to_owned(), v))
                .collect(),
            attach: body.attach.unwrap_or(false),
            tty: !body.force_no_tty.unwrap_or(false),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(dyno)))
}

/// What a one-off dyno runs: by default the app's release image; `pg:psql` and
/// `redis:cli` run an add-on's service image (on the app's network all the same).
pub(crate) struct OneOff<'a> {
    pub command: &'a str,
    pub image: Option<String>,
    /// Over the app's config.
    pub env: Vec<(String, String)>,
    pub attach: bool,
    pub tty: bool,
}

/// Creates a one-off dyno (`run.N`) of `app`'s current release with its config: started
/// now when detached, else waiting for its client at `attach_url`.
pub(crate) async fn start_one_off(
    state: &AppState,
    app: &paas_store::App,
    one_off: OneOff<'_>,
) -> Result<wire::Dyno, ApiError> {
    let command = one_off.command;
    // An add-on's client needs no deployed code: its image is the add-on's, its
    // environment the credentials.
    let (mut config, release, image, n) = match one_off.image {
        None => {
            let (target, n) = state.store.one_off_target(app.app_id).await?;
            let release = Some((target.release_id, target.version));
            (target.config, release, target.image, n)
        }
        Some(image) => {
            let n = state.store.next_one_off_index(app.app_id).await?;
            (Default::default(), None, image, n)
        }
    };
    let name = DynoName {
        process_type: ProcessType::run(),
        index: u32::try_from(n).unwrap_or(1),
    };
    config.extend(one_off.env);
    let detached = !one_off.attach;
    let spec = paas_docker::OneOffSpec {
        instance: state.settings.instance.clone(),
        dyno: paas_docker::OneOffLabels {
            app_name: AppName::parse(&app.name)?,
            name: name.clone(),
            release_id: release.map(|(id, _)| id),
            version: release.and_then(|(_, v)| ReleaseVersion::new(v).ok()),
            command: command.to_owned(),
            detached,
        },
        image,
        env: dyno_env(&config, &name, None),
        limits: state.settings.dyno_limits,
        tty: one_off.tty,
    };
    let name = name.to_string();
    state.docker.run_one_off(&spec).await?;
    tracing::info!(app = %app.name, dyno = %name, release = ?release.map(|(_, v)| v), detached, "one-off dyno created");
    let now = chrono::Utc::now();
    // Heroku's shape: a rendezvous URL on the TLS port. Without one, paas's own
    // streaming endpoint (what `paas run` reads) is the best there is.
    let attach_url = (!detached).then(|| match &state.settings.rendezvous_url {
        Some(base) => format!("{base}/{}", state.rendezvous.register(&app.name, &name)),
        None => format!(
            "{}/apps/{}/dynos/{name}/attach",
            state.settings.public_url.trim_end_matches('/'),
            app.name
        ),
    });
    Ok(wire::Dyno {
        id: uuid::Uuid::now_v7(),
        name,
        process_type: "run".into(),
        state: "starting".into(),
        command: command.to_owned(),
        size: "basic".into(),
        release: release.map(|(id, version)| wire::ReleaseRefBody { id, version }),
        app: wire::IdName {
            id: app.app_id,
            name: app.name.clone(),
        },
        attach_url,
        created_at: now,
        updated_at: now,
        node: None,
    })
}

/// Streams a one-off dyno's output from its start, ends with its exit status line, and
/// removes the container. Its stdin is closed at once.
#[utoipa::path(get, path = "/apps/{app}/dynos/{name}/attach", tag = "dynos", params(("app" = String, Path, description = "App name or id"), ("name" = String, Path, description = "One-off dyno name (`run.3`)", pattern = r"^[A-Za-z][A-Za-z0-9_-]{0,29}\.[1-9][0-9]{0,8}$")),
    responses((status = 200, description = "The output, then a last line with the exit status", content_type = "text/plain", body = String), crate::openapi::Errors))]
async fn attach(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, name)): ApiPath<(String, String)>,
) -> Result<Response, ApiError> {
    stream_one_off(&state, &app, &name, None).await
}

/// As the GET, and the request's body is the dyno's stdin, streamed as it comes and
/// closed when it ends (`echo 'select 1' | paas pg:psql`).
#[utoipa::path(post, path = "/apps/{app}/dynos/{name}/attach", tag = "dynos", params(("app" = String, Path, description = "App name or id"), ("name" = String, Path, description = "One-off dyno name (`run.3`)", pattern = r"^[A-Za-z][A-Za-z0-9_-]{0,29}\.[1-9][0-9]{0,8}$")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The dyno's stdin"),
    responses((status = 200, description = "The output, then a last line with the exit status", content_type = "text/plain", body = String), crate::openapi::Errors))]
async fn attach_with_input(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, name)): ApiPath<(String, String)>,
    input: Body,
) -> Result<Response, ApiError> {
    stream_one_off(&state, &app, &name, Some(input)).await
}

async fn stream_one_off(
    state: &AppState,
    app: &str,
    name: &str,
    input: Option<Body>,
) -> Result<Response, ApiError> {
    let app = apps::find(state, app).await?;
    let name = DynoName::parse(name)?;
    let docker = state.docker.clone();
    let id = docker
        .find_one_off(&state.settings.instance, &app.name, &name)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("Couldn't find that dyno ({name}).")))?;
    let rx = follow(docker, id, input);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        let line = match rx.recv().await? {
            Output::Line(line) => line,
            Output::Exit(code) => format!("{}{code}", wire::EXIT_STATUS_PREFIX),
        };
        Some((Ok::<_, std::io::Error>(Bytes::from(line + "\n")), rx))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from_stream(body))
        .map_err(|e| ApiError::Internal(Box::new(e)))
}

/// What a followed one-off dyno says: its output lines, then its exit status.
pub(crate) enum Output {
    Line(String),
    Exit(i64),
}

/// Attaches to one-off container `id`, which starts it, in a task of its own: its stdin
/// is `input` (copied in a task of its own, then closed) or closed at once (`paas run`
/// sends no input), its output comes line by line, and the container is removed once it
/// has exited; the channel ends after [`Output::Exit`].
pub(crate) fn follow(
    docker: paas_docker::Docker,
    id: String,
    input: Option<Body>,
) -> mpsc::UnboundedReceiver<Output> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let code = match docker.attach_one_off(&id).await {
            Ok(mut attached) => {
                match input {
                    None => {
                        let _ = attached.input.shutdown().await;
                    }
                    Some(body) => {
                        let mut stdin = attached.input;
                        attached.input = Box::pin(tokio::io::sink());
                        tokio::spawn(async move {
                            let mut chunks = body.into_data_stream();
                            while let Some(Ok(chunk)) = chunks.next().await {
                                if stdin.write_all(&chunk).await.is_err() {
                                    break;
                                }
                                let _ = stdin.flush().await;
                            }
                            let _ = stdin.shutdown().await;
                        });
                    }
                }
                let mut pending = String::new();
                while let Some(chunk) = attached.output.next().await {
                    let bytes = match chunk {
                        Ok(bytes) => bytes,
                        Err(e) => {
                            tracing::warn!(error = %e, "reading a one-off dyno's output failed");
                            break;
                        }
                    };
                    let chunk = String::from_utf8_lossy(&bytes);
                    for line in paas_core::logline::split_lines(&mut pending, &chunk) {
                        let _ = tx.send(Output::Line(line));
                    }
                }
                if !pending.is_empty() {
                    let _ = tx.send(Output::Line(pending));
                }
                docker.wait_and_remove(&id).await.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "waiting for a one-off dyno failed");
                    -1
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "attaching to a one-off dyno failed");
                -1
            }
        };
        let _ = tx.send(Output::Exit(code));
    });
    rx
}

/// `ps:restart`: every dyno of the app, replaced one by one as in a rollout.
#[utoipa::path(delete, path = "/apps/{app}/dynos", tag = "dynos", params(("app" = String, Path, description = "App name or id")),
    responses((status = 202, description = "Every dyno will be replaced"), crate::openapi::Errors))]
async fn restart_all(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath(app): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let app = apps::find(&state, &app).await?;
    state.store.restart(app.app_id, None).await?;
    tracing::info!(app = %app.name, "restart of all dynos requested");
    state.nudge.app_changed(app.app_id);
    Ok(StatusCode::ACCEPTED)
}

/// `ps:stop DYNO`: a one-off is stopped and removed; a formation dyno is replaced, as
/// on Heroku, where the platform restarts a stopped formation dyno.
#[utoipa::path(post, path = "/apps/{app}/dynos/{name}/actions/stop", tag = "dynos", params(("app" = String, Path, description = "App name or id"), ("name" = String, Path, description = "Dyno name (`web.1`, `run.3`)", pattern = r"^[A-Za-z][A-Za-z0-9_-]{0,29}\.[1-9][0-9]{0,8}$")),
    responses((status = 202, description = "The dyno is stopped (a one-off) or replaced"), crate::openapi::Errors))]
async fn stop(
    state: State<AppState>,
    auth: Authenticated,
    ApiPath((app, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    DynoName::parse(&name)?;
    restart_one(state, auth, ApiPath((app, name))).await
}

/// `ps:stop --process-type TYPE`: `run` stops and removes every one-off dyno of the app;
/// a formation type is replaced, as on Heroku, where the platform restarts stopped
/// formation dynos.
#[utoipa::path(post, path = "/apps/{app}/formations/{type}/actions/stop", tag = "dynos", params(("app" = String, Path, description = "App name or id"), ("type" = String, Path, description = "Process type, or `run` for every one-off dyno", pattern = r"^[A-Za-z][A-Za-z0-9_-]{0,29}$")),
    responses((status = 202, description = "The one-offs are stopped, or the type's dynos replaced"), crate::openapi::Errors))]
async fn stop_type(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, kind)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let app = apps::find(&state, &app).await?;
    let kind = paas_core::ProcessType::parse(&kind)?;
    if kind.as_str() == "run" {
        let docker = &state.docker;
        let one_offs = docker.one_offs(&state.settings.instance, &app.name).await?;
        for one_off in &one_offs {
            docker.remove_container_now(&one_off.id).await?;
        }
        tracing::info!(app = %app.name, count = one_offs.len(), "one-off dynos stopped");
        return Ok(StatusCode::ACCEPTED);
    }
    state.store.restart(app.app_id, Some(kind.as_str())).await?;
    tracing::info!(app = %app.name, process_type = %kind, "stop (replace) of a process type requested");
    state.nudge.app_changed(app.app_id);
    Ok(StatusCode::ACCEPTED)
}

/// `ps:restart web` rolls every web dyno; `ps:restart web.2` replaces that one dyno now.
#[utoipa::path(delete, path = "/apps/{app}/dynos/{name}", tag = "dynos", params(("app" = String, Path, description = "App name or id"), ("name" = String, Path, description = "Dyno name (`web.1`, `run.3`) or process type", pattern = r"^[A-Za-z][A-Za-z0-9_-]{0,29}(\.[1-9][0-9]{0,8})?$")),
    responses((status = 202, description = "The dyno (or every dyno of the type) will be replaced; a one-off is stopped"), crate::openapi::Errors))]
async fn restart_one(
    State(state): State<AppState>,
    _: Authenticated,
    ApiPath((app, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let app = apps::find(&state, &app).await?;
    if name.contains('.') {
        let dyno = DynoName::parse(&name)?;
        let docker = &state.docker;
        let running = docker
            .list_dynos(&state.settings.instance, Some(app.app_id))
            .await?;
        let found: Vec<_> = running.iter().filter(|c| c.dyno.name == dyno).collect();
        if found.is_empty() {
            // `ps:stop run.3`: a one-off is stopped and removed (never restarted).
            let one_off = docker
                .find_one_off(&state.settings.instance, &app.name, &dyno)
                .await?;
            let Some(id) = one_off else {
                return Err(ApiError::NotFound(format!(
                    "Couldn't find that dyno ({dyno})."
                )));
            };
            docker.remove_container_now(&id).await?;
            tracing::info!(app = %app.name, dyno = %dyno, "one-off dyno stopped");
            return Ok(StatusCode::ACCEPTED);
        }
        for c in found {
            docker.remove_container_now(&c.id).await?;
        }
        tracing::info!(app = %app.name, dyno = %dyno, "dyno restarted");
    } else {
        let kind = paas_core::ProcessType::parse(&name)?;
        state.store.restart(app.app_id, Some(kind.as_str())).await?;
        tracing::info!(app = %app.name, process_type = %kind, "restart of a process type requested");
    }
    state.nudge.app_changed(app.app_id);
    Ok(StatusCode::ACCEPTED)
}
