//! Deleted apps' images on every node. The manager's API lists and removes only the
//! manager's own images, so when an app is forgotten paasd starts a Swarm job in
//! `global-job` mode (one task on each node, run to completion), labelled
//! `paas.kind=image_collector`: the platform's stack image (pushed to the registry as
//! `paas-platform/stack` and named by digest, so every node can pull it) runs
//! `collect_images.py` with the node's own Docker socket mounted. The script removes,
//! reference by reference and never forced, only `<registry>/paas/<app>` of that one
//! app, and no image a container uses (see its header).
//!
//! Mounting the socket hands that task root on its node: it runs only paasd's own
//! script, embedded here, in the platform's image pinned by digest, never app code or
//! input beyond the repository name that paasd built from a parsed [`AppName`].
//!
//! The supervisor's reap timer removes a collector once each ready node has a task of it
//! that ended ([`Swarm::reap_collectors`]; Swarm starts a failed job task again and
//! again, restart policy or not), or once it is older than [`MOST_RUNNING`] (a node
//! that is down never runs its task).

use std::collections::HashMap;
use std::time::Duration;

use bollard::models::{
    Limit, Mount, MountType, ServiceSpec, ServiceSpecMode, TaskSpec, TaskSpecContainerSpec,
    TaskSpecLogDriver, TaskSpecResources, TaskSpecRestartPolicy,
    TaskSpecRestartPolicyConditionEnum, TaskState,
};
use paas_core::AppName;
use paas_docker::labels::{self, Kind};

use crate::services::has_ended;
use crate::{Swarm, SwarmError};

/// What each node's task runs: `python3 -c SCRIPT <registry>/paas/<app>`.
const SCRIPT: &str = include_str!("collect_images.py");

/// The registry repository the stack image is pushed to for the platform's own jobs.
pub(crate) const STACK_REPOSITORY: &str = "paas-platform/stack";

/// A collector still there after this long is removed whatever its tasks' states.
pub(crate) const MOST_RUNNING: Duration = Duration::from_secs(600);

/// Where the socket of the node's engine is mounted in the task.
const SOCKET_IN_TASK: &str = "/var/run/docker.sock";

/// Swarm's limit on service names.
const MAX_NAME: usize = 63;

/// How the collector runs (`Swarm::with_image_collector`).
#[derive(Debug, Clone)]
pub(crate) struct Collector {
    /// A local image of the manager with python3 (paasd's `PAAS_STACK_IMAGE`).
    pub(crate) stack_image: String,
    /// The mount source of each node's Docker socket (`PAAS_SWARM_NODE_SOCKET`).
    pub(crate) node_socket: String,
}

/// `gc-<nonce>-<app>-<instance>`: the nonce first, so a long name loses the end, and a
/// second collector of the same app (a name reused) never meets the first.
fn collector_name(instance: &str, app: &AppName, nonce: &str) -> String {
    let mut name = format!("gc-{nonce}-{app}-{instance}");
    name.truncate(MAX_NAME);
    name.trim_end_matches(['-', '_']).to_owned()
}

fn collector_spec(
    instance: &str,
    app: &AppName,
    image: String,
    repository: String,
    node_socket: &str,
) -> ServiceSpec {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    ServiceSpec {
        name: Some(collector_name(instance, app, &nonce[..8])),
        labels: Some(labels::image_collector(instance, app)),
        task_template: Some(TaskSpec {
            container_spec: Some(TaskSpecContainerSpec {
                image: Some(image),
                command: Some(vec![
                    "python3".into(),
                    "-c".into(),
                    SCRIPT.into(),
                    repository,
                ]),
                // The socket is root's.
                user: Some("0".into()),
                mounts: Some(vec![Mount {
                    target: Some(SOCKET_IN_TASK.into()),
                    source: Some(node_socket.to_owned()),
                    typ: Some(MountType::BIND),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            resources: Some(TaskSpecResources {
                limits: Some(Limit {
                    memory_bytes: Some(128 << 20),
                    pids: Some(32),
                    nano_cpus: None,
                }),
                ..Default::default()
            }),
            restart_policy: Some(TaskSpecRestartPolicy {
                condition: Some(TaskSpecRestartPolicyConditionEnum::NONE),
                ..Default::default()
            }),
            log_driver: Some(TaskSpecLogDriver {
                name: Some("local".into()),
                options: Some(HashMap::from([
                    ("max-size".to_owned(), "1m".to_owned()),
                    // `local` compresses rotated files: it refuses a count of 1.
                    ("max-file".to_owned(), "2".to_owned()),
                ])),
            }),
            ..Default::default()
        }),
        mode: Some(ServiceSpecMode {
            global_job: Some(HashMap::new()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl Swarm {
    /// A deleted app's images: its manifests leave the registry, and (with a collector
    /// configured) a job removes its images from every node. Returns how many manifests
    /// were deleted.
    pub(crate) async fn forget_app(
        &self,
        instance: &str,
        app: &AppName,
    ) -> Result<usize, SwarmError> {
        let deleted = self.forget_repository(app.as_str()).await;
        self.forget_pushes(&format!("paas/{app}")).await;
        let started = match &self.collector {
            Some(collector) => self.start_collector(collector, instance, app).await,
            None => Ok(()),
        };
        match (deleted, started) {
            (Ok(n), Ok(())) => Ok(n),
            (Err(e), Ok(())) | (Ok(_), Err(e)) => Err(e),
            (Err(registry), Err(collector)) => {
                tracing::warn!(app = %app, error = %collector, "could not start the image collector");
                Err(registry)
            }
        }
    }

    async fn start_collector(
        &self,
        collector: &Collector,
        instance: &str,
        app: &AppName,
    ) -> Result<(), SwarmError> {
        let image = self
            .pushed_to(STACK_REPOSITORY, &collector.stack_image)
            .await?;
        let repository = format!("{}/paas/{app}", self.registry);
        let spec = collector_spec(instance, app, image, repository, &collector.node_socket);
        let created = self.api().await?.create_service(spec, None).await?;
        tracing::info!(app = %app, service = ?created.id, "started the image collector on every node");
        Ok(())
    }

    /// Removes `instance`'s image collectors that have a task that ended on every ready,
    /// active node, or that are older than [`MOST_RUNNING`]; logs what their tasks
    /// printed and warns of tasks that did not complete. Returns how many it removed.
    pub(crate) async fn reap_collectors(&self, instance: &str) -> Result<usize, SwarmError> {
        let services = self
            .services_of(instance, Kind::ImageCollector, &[])
            .await?;
        if services.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = services.iter().filter_map(|s| s.id.clone()).collect();
        let tasks = self.tasks_of(&ids).await?;
        let nodes = self.cluster_nodes().await?;
        let now = chrono::Utc::now();
        let mut removed = 0;
        for service in services {
            let Some(id) = service.id else { continue };
            let app = service
                .spec
                .as_ref()
                .and_then(|s| s.labels.as_ref())
                .and_then(|l| l.get(labels::APP_NAME).cloned())
                .unwrap_or_default();
            let its: Vec<_> = tasks
                .iter()
                .filter(|t| t.service_id.as_deref() == Some(id.as_str()))
                .collect();
            let state = |t: &bollard::models::Task| t.status.as_ref().and_then(|s| s.state);
            // Swarm starts a failed job task again on its node whatever the restart
            // policy says: one ended task on each node is the job's run there.
            let done = !its.is_empty()
                && nodes
                    .iter()
                    .filter(|n| n.ready && n.availability == "active")
                    .all(|n| {
                        its.iter().any(|t| {
                            t.node_id.as_deref() == Some(n.id.as_str())
                                && state(t).is_some_and(has_ended)
                        })
                    });
            let age = labels::docker_time(service.created_at.as_deref())
                .and_then(|at| (now - at).to_std().ok())
                .unwrap_or_default();
            let overdue = age >= MOST_RUNNING;
            if !done && !overdue {
                continue;
            }
            let printed = tokio::time::timeout(Duration::from_secs(5), self.tail(&id, 200))
                .await
                .unwrap_or_else(|_| Ok(Vec::new()))
                .unwrap_or_default();
            for line in printed {
                tracing::info!(app = %app, service = %id, "image collector: {line}");
            }
            // Once per node that has no completed task: the latest task's word.
            for node in &nodes {
                let on_node = its
                    .iter()
                    .filter(|t| t.node_id.as_deref() == Some(node.id.as_str()));
                if on_node
                    .clone()
                    .any(|t| state(t) == Some(TaskState::COMPLETE))
                {
                    continue;
                }
                let Some(latest) =
                    on_node.max_by_key(|t| t.version.as_ref().and_then(|v| v.index).unwrap_or(0))
                else {
                    continue;
                };
                let status = latest.status.clone().unwrap_or_default();
                tracing::warn!(
                    app = %app,
                    service = %id,
                    node = %node.hostname,
                    state = ?status.state,
                    error = ?status.err,
                    overdue,
                    "an image collector did not complete on a node: it may keep the app's images"
                );
            }
            self.remove_now(&id).await?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collector_is_a_global_job_that_mounts_the_nodes_socket_and_names_one_repository() {
        let app = AppName::parse("shop").unwrap();
        let spec = collector_spec(
            "paas",
            &app,
            "r:5601/paas-platform/stack@sha256:ab".into(),
            "r:5601/paas/shop".into(),
            "/run/nodes/{{.Node.Hostname}}/docker.sock",
        );
        let mode = spec.mode.clone().unwrap();
        assert!(mode.global_job.is_some() && mode.replicated.is_none() && mode.global.is_none());
        let labels = spec.labels.clone().unwrap();
        assert!(labels::is_of(&labels, "paas", Kind::ImageCollector));
        assert_eq!(labels[labels::APP_NAME], "shop");
        let task = spec.task_template.unwrap();
        let container = task.container_spec.unwrap();
        let command = container.command.unwrap();
        assert_eq!(command[..2], ["python3", "-c"]);
        assert_eq!(command[3], "r:5601/paas/shop");
        assert_eq!(command.len(), 4);
        let mount = &container.mounts.unwrap()[0];
        assert_eq!(mount.typ, Some(MountType::BIND));
        assert_eq!(
            mount.source.as_deref(),
            Some("/run/nodes/{{.Node.Hostname}}/docker.sock")
        );
        assert_eq!(mount.target.as_deref(), Some(SOCKET_IN_TASK));
        assert_eq!(
            task.restart_policy.unwrap().condition,
            Some(TaskSpecRestartPolicyConditionEnum::NONE)
        );
    }

    #[test]
    fn collector_names_are_short_enough_and_keep_their_nonce() {
        let app = AppName::parse("a-rather-long-application-name").unwrap();
        let name = collector_name(&"i".repeat(60), &app, "0123abcd");
        assert!(name.len() <= MAX_NAME, "{name}");
        assert!(name.starts_with("gc-0123abcd-a-rather"), "{name}");
        assert!(!name.ends_with('-'));
    }
}
