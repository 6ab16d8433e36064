//! Dyno containers: the formation as Docker runs it.
//!
//! Docker is the record: every dyno carries labels (`paas.app`, `paas.release`,
//! `paas.version`, `paas.type`, `paas.index`, `paas.kind=formation`) and a deterministic
//! name `<app>.<type>.<n>.v<version>`, so a supervisor that restarts reads back exactly
//! what runs and adopts it; a create that hits an existing name adopts that container.
//! Dynos run unprivileged: all capabilities dropped, `no-new-privileges`, memory and pids
//! limits, no host mounts, on their app's own bridge network.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, NetworkCreateRequest};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, InspectContainerOptions,
    ListContainersOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    StopContainerOptionsBuilder,
};
use futures::{Stream, StreamExt};

use paas_core::runtime::{
    AppNetwork, ContainerRuntime, DynoEvent, DynoSpec, ExitedOneOff, ObservedContainer,
    app_network_name,
};

use crate::{BUILD_USER, Docker, DockerError, is_not_found};

/// Whether a container's labels say it is the dyno `ours` describes: same installation,
/// app, release, slot and restart generation.
fn is_this_dyno(theirs: &HashMap<String, String>, ours: &HashMap<String, String>) -> bool {
    [
        "paas.kind",
        "paas.instance",
        "paas.app",
        "paas.release",
        "paas.type",
        "paas.index",
        "paas.generation",
    ]
    .iter()
    .all(|k| theirs.get(*k).is_some() && theirs.get(*k) == ours.get(*k))
}

/// Sources `.profile.d` (buildpack runtime settings) and runs the process type's command
/// through a shell in `/app`, as on Heroku. A simple command is `exec`ed, so the
/// container's init (tini) hands SIGTERM straight to it; a compound one (`a; b`, pipes)
/// runs in the shell, so its exit status is the last command's.
pub fn dyno_command(command: &str) -> Vec<String> {
    let compound = command.contains([';', '&', '|', '\n', '(', '`']) || command.contains("$(");
    let run = if compound {
        command.to_owned()
    } else {
        format!("exec {command}")
    };
    let script = format!(
        "cd /app 2>/dev/null || true; for f in /app/.profile.d/*.sh; do [ -r \"$f\" ] && . \"$f\"; done; {run}"
    );
    vec!["/bin/sh".into(), "-c".into(), script]
}

const LABEL_KIND: &str = "paas.kind=formation";

/// What every dyno (formation or one-off) runs under: no capabilities, no privilege
/// escalation, memory and pids limits, tini as PID 1 (forwards SIGTERM, reaps zombies),
/// on its app's network; never a host mount.
fn unprivileged(memory_bytes: i64, pids: i64, network: String) -> HostConfig {
    HostConfig {
        memory: Some(memory_bytes),
        memory_swap: Some(memory_bytes),
        pids_limit: Some(pids),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        privileged: Some(false),
        init: Some(true),
        network_mode: Some(network),
        ..Default::default()
    }
}

impl Docker {
    /// Creates the app's bridge network (`paas-<app>`) unless it exists, and returns its
    /// name; dynos of other apps are on other networks and cannot reach these. Labelled
    /// with the installation and app, so networks of deleted apps can be found again.
    pub async fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> Result<String, DockerError> {
        let name = app_network_name(app_name);
        let api = self.api().await?;
        let _creating = self.network_lock.lock().await;
        match api
            .inspect_network(
                &name,
                None::<bollard::query_parameters::InspectNetworkOptions>,
            )
            .await
        {
            Ok(_) => return Ok(name),
            Err(e) if is_not_found(&e) => {}
            Err(e) => return Err(e.into()),
        }
        let created = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([
                ("paas.managed".to_owned(), "1".to_owned()),
                ("paas.instance".to_owned(), instance.to_owned()),
                ("paas.app_name".to_owned(), app_name.to_owned()),
                ("paas.created".to_owned(), created.to_string()),
            ])),
            ..Default::default()
        };
        match api.create_network(request).await {
            Ok(_) => Ok(name),
            // Created meanwhile by another process.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(name),
            Err(e) => Err(e.into()),
        }
    }

    /// The app networks of `instance`.
    pub async fn app_networks(&self, instance: &str) -> Result<Vec<AppNetwork>, DockerError> {
        let api = self.api().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![
                "paas.managed=1".to_owned(),
                format!("paas.instance={instance}"),
            ],
        )]);
        let networks = api
            .list_networks(Some(
                bollard::query_parameters::ListNetworksOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        Ok(networks
            .into_iter()
            .filter_map(|n| {
                let labels = n.labels.unwrap_or_default();
                Some(AppNetwork {
                    id: n.id?,
                    app_name: labels.get("paas.app_name")?.clone(),
                    created_secs: labels.get("paas.created").and_then(|c| c.parse().ok()),
                })
            })
            .collect())
    }

    /// Removes a network; `false` when containers still use it.
    pub async fn remove_network(&self, id: &str) -> Result<bool, DockerError> {
        match self.api().await?.remove_network(id).await {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 403 | 409,
                ..
            }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Dynos never run as root: an image that names no other user runs as the stack's
    /// unprivileged `app` user.
    async fn dyno_user(&self, image: &str) -> Result<String, DockerError> {
        let config = self.api().await?.inspect_image(image).await?.config;
        let user = config.and_then(|c| c.user).unwrap_or_default();
        Ok(match user.as_str() {
            "" | "root" | "0" | "0:0" | "root:root" => format!("{BUILD_USER}:{BUILD_USER}"),
            other => other.to_owned(),
        })
    }

    /// Creates and starts a dyno; an existing container of the same name (same app,
    /// slot and release) is adopted instead.
    pub async fn run_dyno(&self, spec: &DynoSpec) -> Result<String, DockerError> {
        let api = self.api().await?;
        let mut name = format!(
            "{}.{}.{}.v{}",
            spec.app_name, spec.process_type, spec.index, spec.version
        );
        if spec.generation > 0 {
            name.push_str(&format!(".r{}", spec.generation));
        }
        let mut labels = HashMap::from([
            ("paas.managed".to_owned(), "1".to_owned()),
            ("paas.kind".to_owned(), "formation".to_owned()),
            ("paas.instance".to_owned(), spec.instance.clone()),
            ("paas.app".to_owned(), spec.app_id.clone()),
            ("paas.app_name".to_owned(), spec.app_name.clone()),
            ("paas.release".to_owned(), spec.release_id.clone()),
            ("paas.version".to_owned(), spec.version.to_string()),
            ("paas.type".to_owned(), spec.process_type.clone()),
            ("paas.index".to_owned(), spec.index.to_string()),
            ("paas.generation".to_owned(), spec.generation.to_string()),
            ("paas.command".to_owned(), spec.command.clone()),
        ]);
        if let Some(path) = &spec.health_path {
            labels.insert("paas.health_path".to_owned(), path.clone());
        }
        let user = self.dyno_user(&spec.image).await?;
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(user),
            cmd: Some(dyno_command(&spec.command)),
            entrypoint: Some(vec![]),
            env: Some(spec.env.clone()),
            labels: Some(labels.clone()),
            hostname: Some(format!("{}.{}", spec.process_type, spec.index)),
            host_config: Some(unprivileged(
                spec.memory_bytes,
                spec.pids,
                spec.network.clone(),
            )),
            ..Default::default()
        };
        // The name is taken: adopt the container if it is this very dyno (a create that
        // raced, or an earlier attempt); if another installation (or a deleted app of the
        // same name) holds it, use a name of this installation's own instead.
        let mut id = None;
        for candidate in [name.clone(), format!("{name}.{}", spec.instance)] {
            match api
                .create_container(
                    Some(
                        CreateContainerOptionsBuilder::default()
                            .name(&candidate)
                            .build(),
                    ),
                    body.clone(),
                )
                .await
            {
                Ok(created) => {
                    id = Some(created.id);
                    break;
                }
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {
                    let existing = api
                        .inspect_container(&candidate, None::<InspectContainerOptions>)
                        .await?;
                    let theirs = existing.config.as_ref().and_then(|c| c.labels.as_ref());
                    if theirs.is_some_and(|l| is_this_dyno(l, &labels)) {
                        id = existing.id;
                        break;
                    }
                    tracing::warn!(container = %candidate, "a container this dyno's name belongs to is not this installation's; leaving it alone");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let id = id.ok_or_else(|| {
            DockerError::Unexpected(format!(
                "{name}: the container names are taken by containers this installation does not own"
            ))
        })?;
        api.start_container(&id, None).await.or_else(|e| match e {
            // Already running (adopted).
            bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            } => Ok(()),
            e => Err(e),
        })?;
        Ok(id)
    }

    /// Every dyno container of this installation (`instance`), in any state.
    pub async fn list_dynos(&self, instance: &str) -> Result<Vec<ObservedContainer>, DockerError> {
        let api = self.api().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![
                "paas.managed=1".to_owned(),
                LABEL_KIND.to_owned(),
                format!("paas.instance={instance}"),
            ],
        )]);
        let summaries = api
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let mut out = Vec::new();
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            let inspect = match api
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(i) => i,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            let labels = inspect
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default();
            let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
            let state = inspect.state.clone().unwrap_or_default();
            let ip = inspect
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .and_then(|nets| {
                    nets.values()
                        .find_map(|n| n.ip_address.as_deref().filter(|ip| !ip.is_empty()))
                })
                .and_then(|ip| ip.parse().ok());
            let (Ok(version), Ok(index)) =
                (label("paas.version").parse(), label("paas.index").parse())
            else {
                continue;
            };
            out.push(ObservedContainer {
                id,
                app_id: label("paas.app"),
                app_name: label("paas.app_name"),
                release_id: label("paas.release"),
                version,
                process_type: label("paas.type"),
                index,
                generation: label("paas.generation").parse().unwrap_or(0),
                running: state.running.unwrap_or(false),
                status: state.status.map(|s| s.to_string()).unwrap_or_default(),
                ip,
                started_at: state.started_at.filter(|t| !t.starts_with("0001")),
                finished_at: state.finished_at.filter(|t| !t.starts_with("0001")),
                exit_code: state.exit_code,
                command: label("paas.command"),
                health_path: labels.get("paas.health_path").cloned(),
            });
        }
        Ok(out)
    }

    /// SIGTERM, SIGKILL after `grace_secs`, then removal.
    pub async fn stop_and_remove(
        &self,
        id: &str,
        grace_secs: i32,
    ) -> Result<Option<i64>, DockerError> {
        let api = self.api().await?;
        match api
            .stop_container(
                id,
                Some(StopContainerOptionsBuilder::default().t(grace_secs).build()),
            )
            .await
        {
            Ok(()) => {}
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        let exit_code = api
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .ok()
            .and_then(|c| c.state)
            .and_then(|s| s.exit_code);
        self.remove_container_now(id).await?;
        Ok(exit_code)
    }

    pub async fn remove_container_now(&self, id: &str) -> Result<(), DockerError> {
        let api = self.api().await?;
        match api
            .remove_container(
                id,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            // Already being removed.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The last `lines` lines a container printed (for crash and health-check reports).
    pub async fn tail(&self, id: &str, lines: usize) -> Vec<String> {
        let Ok(api) = self.api().await else {
            return vec![];
        };
        let options = LogsOptionsBuilder::default()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = api.logs(id, Some(options));
        let mut out = Vec::new();
        while let Some(Ok(chunk)) = stream.next().await {
            out.extend(
                String::from_utf8_lossy(&chunk.into_bytes())
                    .lines()
                    .map(str::to_owned),
            );
        }
        out
    }
}

impl Docker {
    /// Docker's event stream for the formation containers of `instance`: what starts,
    /// dies (crashes included) or is removed behind the supervisor's back. The stream
    /// ends when the connection to the engine does; the caller reconnects.
    pub async fn dyno_events(
        &self,
        instance: &str,
    ) -> Result<impl Stream<Item = Result<DynoEvent, DockerError>> + Send + 'static, DockerError>
    {
        let api = self.api().await?;
        let filters = HashMap::from([
            ("type".to_owned(), vec!["container".to_owned()]),
            (
                "label".to_owned(),
                vec![
                    "paas.managed=1".to_owned(),
                    LABEL_KIND.to_owned(),
                    format!("paas.instance={instance}"),
                ],
            ),
            (
                "event".to_owned(),
                ["start", "die", "oom", "destroy"]
                    .map(str::to_owned)
                    .to_vec(),
            ),
        ]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        Ok(api.events(Some(options)).map(|event| {
            let event = event?;
            Ok(DynoEvent {
                container: event.actor.and_then(|a| a.id).unwrap_or_default(),
                action: event.action.unwrap_or_default(),
            })
        }))
    }
}

/// A one-off dyno (`paas run`): not part of the formation, so the supervisor leaves it
/// alone (`paas.kind=one_off`); it is removed once its output has been read, or at
/// once when detached.
#[derive(Debug, Clone)]
pub struct OneOffSpec {
    pub instance: String,
    pub app_name: String,
    pub release_id: String,
    pub version: i32,
    /// `run.N`
    pub name: String,
    pub image: String,
    pub command: String,
    pub env: Vec<String>,
    pub memory_bytes: i64,
    pub pids: i64,
    /// Started now, output to the log stream only. Otherwise the dyno waits, created,
    /// for its client: [`Docker::attach_one_off`] starts it once attached, so no output
    /// is missed and the client's input reaches it.
    pub detached: bool,
    /// A terminal for an attached client (`heroku run bash`), as on Heroku unless the
    /// client asked for none: stdout and stderr become one stream.
    pub tty: bool,
}

/// An attached one-off dyno: its output (stdout and stderr, or the terminal) from its
/// start, and its input. Shutting `input` down closes the dyno's stdin.
pub struct AttachedOneOff {
    pub output: std::pin::Pin<Box<dyn Stream<Item = Result<bytes::Bytes, DockerError>> + Send>>,
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// A one-off dyno's container, as `paas ps` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    pub id: String,
    /// `run.7`
    pub name: String,
    pub command: String,
    pub release_id: String,
    pub version: Option<i32>,
    /// `created`, `running`, `exited`, …
    pub status: String,
    /// Unix seconds.
    pub created_secs: i64,
}

impl Docker {
    pub async fn run_one_off(&self, spec: &OneOffSpec) -> Result<String, DockerError> {
        let api = self.api().await?;
        let network = self.ensure_network(&spec.instance, &spec.app_name).await?;
        let user = self.dyno_user(&spec.image).await?;
        let labels = HashMap::from([
            ("paas.managed".to_owned(), "1".to_owned()),
            ("paas.kind".to_owned(), "one_off".to_owned()),
            ("paas.instance".to_owned(), spec.instance.clone()),
            ("paas.app_name".to_owned(), spec.app_name.clone()),
            ("paas.release".to_owned(), spec.release_id.clone()),
            ("paas.version".to_owned(), spec.version.to_string()),
            ("paas.dyno".to_owned(), spec.name.clone()),
            ("paas.command".to_owned(), spec.command.clone()),
            ("paas.detached".to_owned(), spec.detached.to_string()),
        ]);
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(user),
            cmd: Some(dyno_command(&spec.command)),
            entrypoint: Some(vec![]),
            env: Some(spec.env.clone()),
            labels: Some(labels),
            hostname: Some(spec.name.clone()),
            // An attached dyno's stdin is its client's, closed when the client closes it.
            open_stdin: Some(!spec.detached),
            stdin_once: Some(!spec.detached),
            attach_stdin: Some(!spec.detached),
            tty: Some(spec.tty && !spec.detached),
            // Not auto-removed even when detached: its output must stay readable until
            // the log collector has it; the supervisor removes it soon after it exits.
            host_config: Some(unprivileged(spec.memory_bytes, spec.pids, network)),
            ..Default::default()
        };
        let name = format!("{}.{}.{}", spec.instance, spec.app_name, spec.name);
        let id = api
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await?
            .id;
        if spec.detached {
            api.start_container(&id, None).await?;
        }
        Ok(id)
    }

    /// Attaches to one-off `id` (created by [`Docker::run_one_off`]) and then starts it,
    /// so the output is complete from the first byte. Attaching to a dyno that already
    /// runs replays its output so far.
    pub async fn attach_one_off(&self, id: &str) -> Result<AttachedOneOff, DockerError> {
        use bollard::container::LogOutput;
        let api = self.api().await?;
        let options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .logs(true)
            .build();
        let attached = api.attach_container(id, Some(options)).await?;
        match api.start_container(id, None).await {
            Ok(()) => {}
            // Already running: a second client.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        let output = attached.output.filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message })
                | Ok(LogOutput::StdErr { message })
                | Ok(LogOutput::Console { message }) => Some(Ok(message)),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(DockerError::from(e))),
            }
        });
        Ok(AttachedOneOff {
            output: Box::pin(output),
            input: attached.input,
        })
    }

    /// Waits for one-off `id` to exit, removes it and returns its exit status.
    pub async fn wait_and_remove(&self, id: &str) -> Result<i64, DockerError> {
        let api = self.api().await?;
        let mut wait =
            api.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(exit)) => exit.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) if is_not_found(&e) => -1,
            Some(Err(e)) => return Err(e.into()),
            None => -1,
        };
        self.remove_container_now(id).await?;
        Ok(code)
    }

    /// Removes every container (formation and one-off) of `app` in this installation, at
    /// once: the app is being destroyed.
    pub async fn remove_app_containers(
        &self,
        instance: &str,
        app: &str,
    ) -> Result<(), DockerError> {
        let api = self.api().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![
                "paas.managed=1".to_owned(),
                format!("paas.instance={instance}"),
                format!("paas.app_name={app}"),
            ],
        )]);
        let found = api
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        for id in found.into_iter().filter_map(|c| c.id) {
            self.remove_container_now(&id).await?;
        }
        Ok(())
    }

    /// One-off containers of `instance` that have exited, with when (RFC 3339), and
    /// attached ones that never started, with when they were created. A one-off is
    /// normally removed by whoever follows its output; one that stays exited lost its
    /// follower (the client went away, or paasd restarted), and one still waiting
    /// for its client long after `heroku run` asked for it will not get one.
    pub async fn exited_one_offs(&self, instance: &str) -> Result<Vec<ExitedOneOff>, DockerError> {
        let api = self.api().await?;
        let filters = HashMap::from([
            (
                "label".to_owned(),
                vec![
                    "paas.managed=1".to_owned(),
                    "paas.kind=one_off".to_owned(),
                    format!("paas.instance={instance}"),
                ],
            ),
            (
                "status".to_owned(),
                vec!["exited".to_owned(), "dead".to_owned(), "created".to_owned()],
            ),
        ]);
        let found = api
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let mut out = Vec::new();
        for summary in found {
            let Some(id) = summary.id else { continue };
            let labels = summary.labels.unwrap_or_default();
            let finished_at = match api
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspect) => {
                    let never_started = inspect.state.as_ref().is_some_and(|s| {
                        s.status == Some(bollard::models::ContainerStateStatusEnum::CREATED)
                    });
                    if never_started {
                        inspect.created
                    } else {
                        inspect
                            .state
                            .and_then(|s| s.finished_at)
                            .filter(|t| !t.starts_with("0001"))
                    }
                }
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            out.push(ExitedOneOff {
                id,
                app_name: labels.get("paas.app_name").cloned().unwrap_or_default(),
                dyno: labels.get("paas.dyno").cloned().unwrap_or_default(),
                finished_at,
                detached: labels.get("paas.detached").is_some_and(|d| d == "true"),
            });
        }
        Ok(out)
    }

    /// The one-off dynos of `app` that still have a container, for `paas ps`.
    pub async fn one_offs(&self, instance: &str, app: &str) -> Result<Vec<OneOff>, DockerError> {
        let api = self.api().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![
                "paas.kind=one_off".to_owned(),
                format!("paas.instance={instance}"),
                format!("paas.app_name={app}"),
            ],
        )]);
        let found = api
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        let mut out: Vec<OneOff> = found
            .into_iter()
            .filter_map(|c| {
                let labels = c.labels.unwrap_or_default();
                Some(OneOff {
                    id: c.id?,
                    name: labels.get("paas.dyno")?.clone(),
                    command: labels.get("paas.command").cloned().unwrap_or_default(),
                    release_id: labels.get("paas.release").cloned().unwrap_or_default(),
                    version: labels.get("paas.version").and_then(|v| v.parse().ok()),
                    status: c.state.map(|s| s.to_string()).unwrap_or_default(),
                    created_secs: c.created.unwrap_or_default(),
                })
            })
            .collect();
        out.sort_by_key(|o| o.created_secs);
        Ok(out)
    }

    /// The container of one-off dyno `name` (`run.7`) of `app`, if it still exists.
    pub async fn find_one_off(
        &self,
        instance: &str,
        app: &str,
        name: &str,
    ) -> Result<Option<String>, DockerError> {
        let api = self.api().await?;
        let filters = HashMap::from([(
            "label".to_owned(),
            vec![
                "paas.kind=one_off".to_owned(),
                format!("paas.instance={instance}"),
                format!("paas.app_name={app}"),
                format!("paas.dyno={name}"),
            ],
        )]);
        let found = api
            .list_containers(Some(
                ListContainersOptionsBuilder::default()
                    .all(true)
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        Ok(found.into_iter().find_map(|c| c.id))
    }

    /// Follows a container's output from its start, line by line, until it exits; then
    /// returns its exit status and removes it.
    pub async fn follow_and_reap(
        &self,
        id: &str,
        mut on_line: impl FnMut(String),
    ) -> Result<i64, DockerError> {
        let api = self.api().await?;
        let options = LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = api.logs(id, Some(options));
        let mut pending = String::new();
        while let Some(chunk) = logs.next().await {
            let chunk = String::from_utf8_lossy(&chunk?.into_bytes()).into_owned();
            for line in paas_core::logline::split_lines(&mut pending, &chunk) {
                on_line(line);
            }
        }
        if !pending.is_empty() {
            on_line(pending);
        }
        self.wait_and_remove(id).await
    }
}

/// The supervisor's port (`paas_core::runtime`), by the methods above.
impl ContainerRuntime for Docker {
    type Error = DockerError;

    fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> impl Future<Output = Result<String, DockerError>> + Send {
        Docker::ensure_network(self, instance, app_name)
    }

    fn app_networks(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<AppNetwork>, DockerError>> + Send {
        Docker::app_networks(self, instance)
    }

    fn remove_network(&self, id: &str) -> impl Future<Output = Result<bool, DockerError>> + Send {
        Docker::remove_network(self, id)
    }

    fn run_dyno(
        &self,
        spec: &DynoSpec,
    ) -> impl Future<Output = Result<String, DockerError>> + Send {
        Docker::run_dyno(self, spec)
    }

    fn list_dynos(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<ObservedContainer>, DockerError>> + Send {
        Docker::list_dynos(self, instance)
    }

    fn stop_and_remove(
        &self,
        id: &str,
        grace_secs: i32,
    ) -> impl Future<Output = Result<Option<i64>, DockerError>> + Send {
        Docker::stop_and_remove(self, id, grace_secs)
    }

    fn remove_now(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        self.remove_container_now(id)
    }

    fn tail(&self, id: &str, lines: usize) -> impl Future<Output = Vec<String>> + Send {
        Docker::tail(self, id, lines)
    }

    async fn watch_dynos<F: FnMut(DynoEvent) + Send>(
        &self,
        instance: &str,
        mut on_event: F,
    ) -> Result<(), DockerError> {
        let mut events = std::pin::pin!(self.dyno_events(instance).await?);
        while let Some(event) = events.next().await {
            on_event(event?);
        }
        Ok(())
    }

    fn exited_one_offs(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<ExitedOneOff>, DockerError>> + Send {
        Docker::exited_one_offs(self, instance)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_commands_are_execed_and_compound_ones_run_in_the_shell() {
        assert!(
            dyno_command("gunicorn app:app")
                .last()
                .unwrap()
                .ends_with("; exec gunicorn app:app")
        );
        let compound = dyno_command("echo boom; exit 3");
        assert!(compound.last().unwrap().ends_with("; echo boom; exit 3"));
        assert!(!dyno_command("a && b").last().unwrap().contains("exec a"));
    }
}
