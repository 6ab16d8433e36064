//! Formation dynos as Swarm services: one service with one replica per dyno, restart
//! condition `none` (paasd, not Swarm, decides restarts), labelled with the dyno record.
//!
//! A service's latest task is the dyno's state: `running` is running (reached at its
//! node's address and the task's host-mode published port), the states before it are
//! "being started by the engine", and every end state is an exit. A task on a node
//! that is not `ready` counts as exited at once: its dyno leaves the route table and the
//! plan starts it again, and Swarm places the new service on a live node.

use std::collections::HashMap;
use std::net::IpAddr;

use bollard::models::{
    EndpointPortConfig, EndpointPortConfigProtocolEnum, EndpointPortConfigPublishModeEnum,
    EndpointSpec, EndpointSpecModeEnum, Limit, Mount, MountTmpfsOptions, MountType,
    NetworkAttachmentConfig, Service, ServiceSpec, ServiceSpecMode, ServiceSpecModeReplicated,
    Task, TaskSpec, TaskSpecContainerSpec, TaskSpecLogDriver, TaskSpecResources,
    TaskSpecRestartPolicy, TaskSpecRestartPolicyConditionEnum, TaskState,
};
use bollard::query_parameters::{ListServicesOptionsBuilder, ListTasksOptionsBuilder};
use futures::StreamExt;
use paas_core::ContainerStatus;
use paas_core::runtime::{DynoSpec, ObservedContainer};
use paas_docker::labels::{self, Kind};
use uuid::Uuid;

use crate::nodes::Node;
use crate::{Swarm, SwarmError, is_not_found};

/// Swarm's limit on service names.
const MAX_NAME: usize = 63;

/// A dyno's service name: `<app>-<type>-<n>-v<version>[-r<generation>]-<instance>`,
/// deterministic so a second create of the same dyno finds the first.
fn service_name(spec: &DynoSpec) -> String {
    let d = &spec.dyno;
    let mut name = format!(
        "{}-{}-{}-v{}",
        d.app_name,
        d.name.process_type.as_str().replace('_', "-"),
        d.name.index,
        d.version.get()
    );
    if d.generation > 0 {
        name.push_str(&format!("-r{}", d.generation));
    }
    name.push('-');
    name.push_str(&spec.instance);
    name.truncate(MAX_NAME);
    name.trim_end_matches(['-', '_']).to_owned()
}

/// The `$PORT` a web dyno listens on, from its environment.
fn web_port(spec: &DynoSpec) -> Option<i64> {
    spec.dyno.is_web().then_some(())?;
    spec.env
        .iter()
        .find_map(|kv| kv.strip_prefix("PORT="))
        .and_then(|p| p.parse().ok())
}

impl Swarm {
    /// Creates the dyno's service; an existing service of the same name that is this
    /// very dyno is adopted instead. Returns the service id.
    pub async fn run_dyno(&self, spec: &DynoSpec) -> Result<String, SwarmError> {
        let image = self
            .by_digest(spec.dyno.app_name.as_str(), &spec.image)
            .await?;
        let user = self.docker.dyno_user(&spec.image).await?;
        let labels = labels::dyno(
            &spec.instance,
            &spec.dyno,
            &spec.command,
            spec.health_path.as_deref(),
        );
        let name = service_name(spec);
        let ports = web_port(spec).map(|port| {
            vec![EndpointPortConfig {
                protocol: Some(EndpointPortConfigProtocolEnum::TCP),
                target_port: Some(port),
                // No published port: the node picks a free one, reported in the task.
                published_port: None,
                publish_mode: Some(EndpointPortConfigPublishModeEnum::HOST),
                name: None,
            }]
        });
        let limits = spec.limits;
        let service = ServiceSpec {
            name: Some(name.clone()),
            labels: Some(labels.clone()),
            task_template: Some(TaskSpec {
                container_spec: Some(TaskSpecContainerSpec {
                    image: Some(image),
                    command: Some(paas_docker::dynos::dyno_command(&spec.command)),
                    hostname: Some(spec.dyno.name.to_string()),
                    env: Some(spec.env.clone()),
                    user: Some(user),
                    init: Some(true),
                    capability_drop: Some(vec!["ALL".into()]),
                    stop_grace_period: Some(i64::from(spec.grace_secs.max(0)) * 1_000_000_000),
                    // Swarm cannot bound a task's writable layer: `/tmp` is a bounded
                    // tmpfs (as on a single engine whose storage driver cannot).
                    mounts: Some(vec![Mount {
                        target: Some("/tmp".into()),
                        typ: Some(MountType::TMPFS),
                        tmpfs_options: Some(MountTmpfsOptions {
                            size_bytes: Some(limits.disk_bytes),
                            mode: Some(0o1777),
                            options: None,
                        }),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                resources: Some(TaskSpecResources {
                    limits: Some(Limit {
                        memory_bytes: Some(limits.memory_bytes),
                        pids: Some(limits.pids),
                        nano_cpus: None,
                    }),
                    ..Default::default()
                }),
                restart_policy: Some(TaskSpecRestartPolicy {
                    condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                    ..Default::default()
                }),
                networks: Some(vec![NetworkAttachmentConfig {
                    target: Some(spec.network.clone()),
                    aliases: None,
                    driver_opts: None,
                }]),
                log_driver: Some(TaskSpecLogDriver {
                    name: Some("local".into()),
                    options: Some(HashMap::from([
                        ("max-size".to_owned(), limits.log_file_bytes.to_string()),
                        ("max-file".to_owned(), limits.log_files.to_string()),
                    ])),
                }),
                ..Default::default()
            }),
            mode: Some(ServiceSpecMode {
                replicated: Some(ServiceSpecModeReplicated { replicas: Some(1) }),
                ..Default::default()
            }),
            // No virtual IP (Swarm's VIPs need IPVS); ports published on the node.
            endpoint_spec: Some(EndpointSpec {
                mode: Some(EndpointSpecModeEnum::DNSRR),
                ports,
            }),
            ..Default::default()
        };
        let api = self.api().await?;
        match api.create_service(service, None).await {
            Ok(created) => created
                .id
                .ok_or_else(|| SwarmError::Unexpected(format!("{name}: created without an id"))),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => {
                let existing = api
                    .inspect_service(
                        &name,
                        None::<bollard::query_parameters::InspectServiceOptions>,
                    )
                    .await?;
                let theirs = existing.spec.as_ref().and_then(|s| s.labels.as_ref());
                match existing
                    .id
                    .filter(|_| theirs.is_some_and(|l| labels::is_same_dyno(l, &labels)))
                {
                    Some(id) => Ok(id),
                    None => Err(SwarmError::Unexpected(format!(
                        "{name}: the service name belongs to a service this installation does not own"
                    ))),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every dyno service of `instance` (of one app when `app_id` is given) with its
    /// latest task's state.
    pub async fn list_dynos(
        &self,
        instance: &str,
        app_id: Option<Uuid>,
    ) -> Result<Vec<ObservedContainer>, SwarmError> {
        let app = app_id.map(|a| a.to_string());
        let extra: Vec<(&str, &str)> = app.iter().map(|a| (labels::APP, a.as_str())).collect();
        let services = self.services_of(instance, Kind::Formation, &extra).await?;
        if services.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = services.iter().filter_map(|s| s.id.clone()).collect();
        let tasks = self.tasks_of(&ids).await?;
        let nodes: HashMap<String, Node> = self
            .cluster_nodes()
            .await?
            .into_iter()
            .map(|n| (n.id.clone(), n))
            .collect();
        let mut out = Vec::new();
        for service in services {
            let Some(id) = service.id else { continue };
            let service_labels = service.spec.and_then(|s| s.labels).unwrap_or_default();
            let Some(dyno) = labels::decode_dyno(&service_labels) else {
                tracing::warn!(service = %id, "a formation service's labels make no dyno record; leaving it alone");
                continue;
            };
            let latest = tasks
                .iter()
                .filter(|t| t.service_id.as_deref() == Some(id.as_str()))
                .max_by_key(|t| t.version.as_ref().and_then(|v| v.index).unwrap_or(0));
            let observed = observe_task(latest, &nodes);
            out.push(ObservedContainer {
                id,
                dyno,
                status: observed.status,
                ip: observed.ip,
                port: observed.port,
                node: observed.node,
                started_at: observed.started_at,
                finished_at: observed.finished_at,
                exit_code: observed.exit_code,
                command: service_labels
                    .get(labels::COMMAND)
                    .cloned()
                    .unwrap_or_default(),
                health_path: service_labels.get(labels::HEALTH_PATH).cloned(),
            });
        }
        Ok(out)
    }

    /// `instance`'s services of `kind` that carry every `extra` label value.
    pub(crate) async fn services_of(
        &self,
        instance: &str,
        kind: Kind,
        extra: &[(&str, &str)],
    ) -> Result<Vec<Service>, SwarmError> {
        let filters = labels::filters(instance, Some(kind), extra);
        Ok(self
            .api()
            .await?
            .list_services(Some(
                ListServicesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?)
    }

    /// The tasks of these services (every state). A service removed meanwhile makes
    /// Swarm refuse the filter (404): then every task is listed and the caller keeps
    /// those it asked for.
    pub(crate) async fn tasks_of(&self, service_ids: &[String]) -> Result<Vec<Task>, SwarmError> {
        let api = self.api().await?;
        let filters = HashMap::from([("service".to_owned(), service_ids.to_vec())]);
        match api
            .list_tasks(Some(
                ListTasksOptionsBuilder::default().filters(&filters).build(),
            ))
            .await
        {
            Ok(tasks) => Ok(tasks),
            Err(e) if is_not_found(&e) => Ok(api
                .list_tasks(None)
                .await?
                .into_iter()
                .filter(|t| {
                    t.service_id
                        .as_ref()
                        .is_some_and(|id| service_ids.contains(id))
                })
                .collect()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes the dyno's service (Swarm sends SIGTERM, SIGKILL after the service's stop
    /// grace period) and waits, up to the grace period and a little more, until its
    /// task is gone. Swarm forgets a removed service's exit status: `None`.
    pub async fn stop_and_remove(
        &self,
        id: &str,
        grace_secs: i32,
    ) -> Result<Option<i64>, SwarmError> {
        self.remove_now(id).await?;
        let deadline = std::time::Instant::now()
            + std::time::Duration::from_secs(u64::try_from(grace_secs.max(0)).unwrap_or(0) + 10);
        while std::time::Instant::now() < deadline {
            let tasks = self.tasks_of(&[id.to_owned()]).await?;
            if tasks.iter().all(|t| {
                t.status
                    .as_ref()
                    .and_then(|s| s.state)
                    .is_none_or(has_ended)
            }) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        Ok(None)
    }

    /// Removes a dyno's service; a missing one is fine.
    pub async fn remove_now(&self, id: &str) -> Result<(), SwarmError> {
        match self.api().await?.delete_service(id).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The last `lines` lines a dyno's service printed (from whichever node ran it).
    pub async fn tail(&self, id: &str, lines: usize) -> Result<Vec<String>, SwarmError> {
        let options = paas_docker::logs::tail_options(lines);
        let api = self.api().await?;
        let mut stream = std::pin::pin!(api.service_logs(id, Some(options)));
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => out.extend(
                    String::from_utf8_lossy(&chunk.into_bytes())
                        .lines()
                        .map(str::to_owned),
                ),
                Err(e)
                    if matches!(
                        &e,
                        bollard::errors::Error::DockerResponseServerError {
                            status_code: 404,
                            ..
                        }
                    ) =>
                {
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

pub(crate) fn has_ended(state: TaskState) -> bool {
    matches!(
        state,
        TaskState::COMPLETE
            | TaskState::SHUTDOWN
            | TaskState::FAILED
            | TaskState::REJECTED
            | TaskState::REMOVE
            | TaskState::ORPHANED
    )
}

struct TaskView {
    status: ContainerStatus,
    ip: Option<IpAddr>,
    port: Option<u16>,
    node: Option<String>,
    started_at: Option<chrono::DateTime<chrono::Utc>>,
    finished_at: Option<chrono::DateTime<chrono::Utc>>,
    exit_code: Option<i64>,
}

/// A service's latest task as a dyno state (no task yet: being started).
fn observe_task(task: Option<&Task>, nodes: &HashMap<String, Node>) -> TaskView {
    let mut view = TaskView {
        status: ContainerStatus::Restarting,
        ip: None,
        port: None,
        node: None,
        started_at: None,
        finished_at: None,
        exit_code: None,
    };
    let Some(task) = task else { return view };
    let node = task.node_id.as_ref().and_then(|id| nodes.get(id));
    view.node = node.map(|n| n.hostname.clone());
    let status = task.status.clone().unwrap_or_default();
    let at = labels::docker_time(status.timestamp.as_deref());
    view.exit_code = status.container_status.as_ref().and_then(|c| c.exit_code);
    match status.state {
        Some(TaskState::RUNNING) if node.is_some_and(|n| !n.ready) => {
            // Its node is down: the dyno is gone as far as anyone can reach it.
            view.status = ContainerStatus::Exited;
            view.started_at = at;
            view.exit_code = None;
        }
        Some(TaskState::RUNNING) => {
            view.status = ContainerStatus::Running;
            view.started_at = at;
            view.ip = node.and_then(|n| n.addr);
            view.port = status
                .port_status
                .and_then(|p| p.ports)
                .unwrap_or_default()
                .into_iter()
                .find_map(|p| p.published_port)
                .and_then(|p| u16::try_from(p).ok());
        }
        Some(state) if has_ended(state) => {
            view.status = ContainerStatus::Exited;
            view.finished_at = at;
        }
        _ => {}
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_core::{AppName, DynoIdentity, DynoName, ReleaseVersion};

    #[test]
    fn service_names_are_deterministic_and_short_enough() {
        let spec = |app: &str, generation| DynoSpec {
            instance: "paas".into(),
            dyno: DynoIdentity {
                app_id: Uuid::nil(),
                app_name: AppName::parse(app).unwrap(),
                release_id: Uuid::nil(),
                version: ReleaseVersion::new(7).unwrap(),
                name: DynoName::parse("web.2").unwrap(),
                generation,
            },
            image: String::new(),
            command: String::new(),
            env: vec!["PORT=5000".into()],
            limits: Default::default(),
            network: String::new(),
            health_path: None,
            grace_secs: 30,
        };
        assert_eq!(service_name(&spec("shop", 0)), "shop-web-2-v7-paas");
        assert_eq!(service_name(&spec("shop", 3)), "shop-web-2-v7-r3-paas");
        let long = service_name(&spec(&"a".repeat(30), 1));
        assert!(long.len() <= MAX_NAME, "{long}");
        assert_eq!(web_port(&spec("shop", 0)), Some(5000));
    }
}
