//! The runtime port (`paas_core::runtime::ContainerRuntime`) on a Docker Swarm cluster
//! (`PAAS_RUNTIME=swarm`), through the manager's Engine API.
//!
//! Each dyno is one Swarm service with one replica and restart condition `none`
//! (`services`): Swarm only places the task on a node; paasd still starts dynos one at
//! a time, checks readiness itself and decides every restart (crash back-off), exactly
//! as on one engine. Services carry the same typed dyno record in their labels
//! (`paas_docker::labels`), so a restarted paasd adopts them. Images are pushed once
//! to the registry (`PAAS_REGISTRY`) and services name them by digest (`images`), so
//! any node pulls exactly the release's image, rollbacks included; a deleted app's
//! images leave the registry (`registry`) and every node (`collect`). Each app has an
//! attachable overlay network (`network`). Swarm's virtual IPs and routing mesh are
//! not used (they need IPVS): a web dyno publishes `$PORT` on its node in host mode,
//! and the router reaches it at the node's address and that port (`ObservedContainer`
//! `ip` + `port`). One-off dynos and builds run on the manager's engine
//! (`paas_docker::Docker`), attached to the app's overlay. The log collector reads each
//! formation dyno's service logs, which the manager gathers from the node that runs
//! it (`logs`).

mod collect;
mod images;
mod logs;
mod network;
pub mod nodes;
mod registry;
mod runtime;
mod services;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{Mutex, OnceCell};

pub use nodes::Node;

#[derive(Debug, thiserror::Error)]
pub enum SwarmError {
    #[error("Docker Swarm: {0}")]
    Api(#[from] bollard::errors::Error),
    #[error(transparent)]
    Docker(#[from] paas_docker::DockerError),
    #[error("Docker Swarm: {0}")]
    Unexpected(String),
    #[error("registry {registry}: {reason}")]
    Registry { registry: String, reason: String },
}

/// A Swarm manager's engine, as the supervisor's runtime.
#[derive(Debug, Clone)]
pub struct Swarm {
    client: bollard::Docker,
    negotiated: Arc<OnceCell<bollard::Docker>>,
    /// The same engine as paas sees it on one host: one-offs, app network listing.
    docker: paas_docker::Docker,
    /// `host:port` of the registry every node pulls from.
    registry: String,
    /// (`registry/repo`, local image) → `registry/repo@sha256:…`, once pushed.
    pushed: Arc<Mutex<HashMap<(String, String), String>>>,
    /// What the image collector job runs on each node; `None`: it is not started.
    collector: Option<collect::Collector>,
}

impl Swarm {
    /// The manager at `docker_host` (default: `DOCKER_HOST`; lazily connected) that
    /// `docker` also reaches, pushing release images to `registry` (`host:port`).
    /// `docker` should already make overlay app networks
    /// (`paas_docker::Docker::with_overlay_networks`) where other parts of paasd (the
    /// builder's release phase, `paas run`) use it too; the Swarm's own copy does.
    pub fn connect(
        docker: paas_docker::Docker,
        docker_host: Option<&str>,
        registry: &str,
    ) -> Result<Self, SwarmError> {
        let client = match docker_host {
            Some(host) => bollard::Docker::connect_with_host(host)?,
            None => bollard::Docker::connect_with_defaults()?,
        };
        Ok(Self {
            client,
            negotiated: Arc::default(),
            docker: docker.with_overlay_networks(),
            registry: registry.trim_end_matches('/').to_owned(),
            pushed: Arc::default(),
            collector: None,
        })
    }

    /// Removes a deleted app's images from every node too, with a Swarm job of
    /// `stack_image` (a local image of the manager, pushed to the registry) that mounts
    /// each node's Docker socket from `node_socket` (a path; Swarm's templates such as
    /// `{{.Node.Hostname}}` allowed). Without it only the registry's manifests go.
    pub fn with_image_collector(mut self, stack_image: &str, node_socket: &str) -> Self {
        self.collector = Some(collect::Collector {
            stack_image: stack_image.to_owned(),
            node_socket: node_socket.to_owned(),
        });
        self
    }

    async fn api(&self) -> Result<&bollard::Docker, SwarmError> {
        self.negotiated
            .get_or_try_init(|| async { self.client.clone().negotiate_version().await })
            .await
            .map_err(SwarmError::from)
    }
}

fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}
