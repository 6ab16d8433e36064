//! Formation dynos: the supervisor's containers.
//!
//! Docker is the record: every dyno carries its identity in labels (`labels::dyno`) and
//! a deterministic name `<app>.<type>.<n>.v<version>`, so a supervisor that restarts
//! reads back exactly what runs and adopts it; a create that hits an existing name
//! adopts that container.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, EventsOptionsBuilder, InspectContainerOptions,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use futures::{Stream, StreamExt};
use paas_core::ContainerStatus;
use paas_core::runtime::{DynoEvent, DynoSpec, ObservedContainer};
use uuid::Uuid;

use crate::labels::{self, Kind};
use crate::security::unprivileged;
use crate::{Docker, DockerError, is_not_found};

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

/// A dyno's container name: `<app>.<type>.<n>.v<version>`, `.r<generation>` after a
/// restart; deterministic, so a second create of the same dyno finds the first.
fn container_name(spec: &DynoSpec) -> String {
    let d = &spec.dyno;
    let mut name = format!("{}.{}.v{}", d.app_name, d.name, d.version.get());
    if d.generation > 0 {
        name.push_str(&format!(".r{}", d.generation));
    }
    name
}

impl Docker {
    /// Creates and starts a dyno; an existing container of the same name (same app,
    /// slot and release) is adopted instead, and started if it is not running.
    pub async fn run_dyno(&self, spec: &DynoSpec) -> Result<String, DockerError> {
        let id = self.create_dyno(spec).await?;
        self.api()
            .await?
            .start_container(&id, None)
            .await
            .or_else(|e| match e {
                // Already running (adopted).
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 304, ..
                } => Ok(()),
                e => Err(e),
            })?;
        Ok(id)
    }

    /// Creates a dyno's container without starting it (or finds the one that already
    /// holds its name); [`Docker::run_dyno`] starts it.
    pub async fn create_dyno(&self, spec: &DynoSpec) -> Result<String, DockerError> {
        let api = self.api().await?;
        let name = container_name(spec);
        let labels = labels::dyno(
            &spec.instance,
            &spec.dyno,
            &spec.command,
            spec.health_path.as_deref(),
        );
        let user = self.dyno_user(&spec.image).await?;
        let disk = self.disk_bound(&spec.image).await?;
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(user),
            cmd: Some(dyno_command(&spec.command)),
            entrypoint: Some(vec![]),
            env: Some(spec.env.clone()),
            labels: Some(labels.clone()),
            hostname: Some(spec.dyno.name.to_string()),
            host_config: Some(unprivileged(spec.limits, spec.network.clone(), disk)),
            ..Default::default()
        };
        // The name is taken: adopt the container if it is this very dyno (a create that
        // raced, or an earlier attempt); if another installation (or a deleted app of the
        // same name) holds it, use a name of this installation's own instead.
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
                Ok(created) => return Ok(created.id),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => {
                    let existing = api
                        .inspect_container(&candidate, None::<InspectContainerOptions>)
                        .await?;
                    let theirs = existing.config.as_ref().and_then(|c| c.labels.as_ref());
                    if let Some(id) = existing
                        .id
                        .filter(|_| theirs.is_some_and(|l| labels::is_same_dyno(l, &labels)))
                    {
                        return Ok(id);
                    }
                    tracing::warn!(container = %candidate, "a container this dyno's name belongs to is not this installation's; leaving it alone");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DockerError::Unexpected(format!(
            "{name}: the container names are taken by containers this installation does not own"
        )))
    }

    /// Every dyno container of this installation (`instance`; of one app when `app_id`
    /// is given), in any state, with its identity decoded from its labels.
    pub async fn list_dynos(
        &self,
        instance: &str,
        app_id: Option<Uuid>,
    ) -> Result<Vec<ObservedContainer>, DockerError> {
        let api = self.api().await?;
        let app = app_id.map(|a| a.to_string());
        let extra: Vec<(&str, &str)> = app.iter().map(|a| (labels::APP, a.as_str())).collect();
        let filters = labels::filters(instance, Some(Kind::Formation), &extra);
        let summaries = self.containers(&filters).await?;
        let mut out = Vec::new();
        for summary in summaries {
            let Some(id) = summary.id else { continue };
            let Some(dyno) = summary.labels.as_ref().and_then(labels::decode_dyno) else {
                tracing::warn!(container = %id, "a formation container's labels make no dyno record; leaving it alone");
                continue;
            };
            // Addresses and exit details are only in the container's own record.
            let inspect = match api
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(i) => i,
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            let container_labels = inspect
                .config
                .as_ref()
                .and_then(|c| c.labels.clone())
                .unwrap_or_default();
            let state = inspect.state.clone().unwrap_or_default();
            let Some(status) = state
                .status
                .and_then(|s| ContainerStatus::parse(s.as_ref()))
            else {
                continue;
            };
            let ip = inspect
                .network_settings
                .as_ref()
                .and_then(|n| n.networks.as_ref())
                .and_then(|nets| {
                    nets.values()
                        .find_map(|n| n.ip_address.as_deref().filter(|ip| !ip.is_empty()))
                })
                .and_then(|ip| ip.parse().ok());
            out.push(ObservedContainer {
                id,
                dyno,
                status,
                ip,
                port: None,
                node: None,
                started_at: labels::docker_time(state.started_at.as_deref()),
                finished_at: labels::docker_time(state.finished_at.as_deref()),
                exit_code: state.exit_code,
                command: container_labels
                    .get(labels::COMMAND)
                    .cloned()
                    .unwrap_or_default(),
                health_path: container_labels.get(labels::HEALTH_PATH).cloned(),
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
    pub async fn tail(&self, id: &str, lines: usize) -> Result<Vec<String>, DockerError> {
        let api = self.api().await?;
        let options = crate::logs::tail_options(lines);
        let mut stream = api.logs(id, Some(options));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend(
                String::from_utf8_lossy(&chunk?.into_bytes())
                    .lines()
                    .map(str::to_owned),
            );
        }
        Ok(out)
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
        let mut filters = labels::filters(instance, Some(Kind::Formation), &[]);
        filters.insert("type".to_owned(), vec!["container".to_owned()]);
        filters.insert(
            "event".to_owned(),
            ["start", "die", "oom", "destroy"]
                .map(str::to_owned)
                .to_vec(),
        );
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        Ok(api.events(Some(options)).map(|event| {
            let event = event?;
            let actor = event.actor.unwrap_or_default();
            Ok(DynoEvent {
                app_id: actor
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(labels::APP))
                    .and_then(|a| a.parse().ok()),
                container: actor.id.unwrap_or_default(),
                action: event.action.unwrap_or_default(),
            })
        }))
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
