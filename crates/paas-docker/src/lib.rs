//! The Docker Engine, through bollard; no other crate names bollard types.
//!
//! [`Docker`] is a lazily negotiated client (Debian's engine speaks an older API than
//! bollard's default, so the version is negotiated on first use). `build` holds build
//! containers and image commits for the builder; `dynos` runs the formation's
//! containers for the supervisor, with Docker labels as the record of what runs.

pub mod addons;
pub mod archive;
pub mod build;
pub mod dynos;
pub mod images;
pub mod labels;
pub mod logs;
pub mod network;
pub mod one_off;
mod runtime;
mod security;

use tokio::sync::OnceCell;

pub use addons::{AddonContainer, AddonSpec};
pub use build::{BUILD_USER, BuildContainer, ContainerExit, Limits};
pub use images::ImageInfo;
pub use labels::OneOffLabels;
pub use network::NetworkPool;
pub use one_off::{AttachedOneOff, OneOff, OneOffSpec};
/// The dyno data of the supervisor's port, which [`Docker`] implements.
pub use paas_core::runtime::{
    AppNetwork, ContainerRuntime, DynoEvent, DynoLimits, DynoSpec, ExitedOneOff, LogSource,
    ObservedContainer, OutputLine,
};
pub use security::DiskBound;

#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("Docker: {0}")]
    Api(#[from] bollard::errors::Error),
    #[error("Docker: {0}")]
    Unexpected(String),
}

#[derive(Debug, Clone)]
pub struct Docker {
    client: bollard::Docker,
    negotiated: std::sync::Arc<OnceCell<bollard::Docker>>,
    /// Serializes network creation in this process: Docker lets two networks share a
    /// name, and a dyno then cannot name its network.
    network_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Where app networks get their subnets.
    network_pool: network::NetworkPool,
    /// App networks are attachable overlays (a Swarm manager's engine).
    overlay_networks: bool,
    /// How dyno disks are bounded here, found on first need.
    disk: std::sync::Arc<OnceCell<security::DiskBound>>,
}

impl Docker {
    /// Connects lazily, honouring `DOCKER_HOST`.
    pub fn connect() -> Result<Self, DockerError> {
        Self::with_client(bollard::Docker::connect_with_defaults()?)
    }

    /// Connects lazily to the engine at `docker_host` (`unix:///…`, `tcp://…`), whatever
    /// `DOCKER_HOST` says (a test's own cluster manager).
    pub fn connect_to(docker_host: &str) -> Result<Self, DockerError> {
        Self::with_client(bollard::Docker::connect_with_host(docker_host)?)
    }

    fn with_client(client: bollard::Docker) -> Result<Self, DockerError> {
        Ok(Self {
            client,
            negotiated: Default::default(),
            network_lock: Default::default(),
            network_pool: Default::default(),
            overlay_networks: false,
            disk: Default::default(),
        })
    }

    /// App networks get their subnets from `pool` (`PAAS_NETWORK_POOL`).
    pub fn with_network_pool(mut self, pool: NetworkPool) -> Self {
        self.network_pool = pool;
        self
    }

    /// App networks are attachable overlay networks of the swarm this engine manages
    /// (`PAAS_RUNTIME=swarm`), not bridges: one-offs and the release phase on the manager
    /// then join the same network as the app's services, whichever is made first.
    pub fn with_overlay_networks(mut self) -> Self {
        self.overlay_networks = true;
        self
    }

    async fn api(&self) -> Result<&bollard::Docker, DockerError> {
        self.negotiated
            .get_or_try_init(|| async { self.client.clone().negotiate_version().await })
            .await
            .map_err(DockerError::from)
    }

    /// Every container (in any state) the label `filters` select.
    pub(crate) async fn containers(
        &self,
        filters: &std::collections::HashMap<String, Vec<String>>,
    ) -> Result<Vec<bollard::models::ContainerSummary>, DockerError> {
        let options = bollard::query_parameters::ListContainersOptionsBuilder::default()
            .all(true)
            .filters(filters)
            .build();
        Ok(self.api().await?.list_containers(Some(options)).await?)
    }

    /// The engine's host name (`docker info` `Name`).
    pub async fn host_name(&self) -> Result<String, DockerError> {
        Ok(self.api().await?.info().await?.name.unwrap_or_default())
    }

    pub async fn ping(&self) -> Result<(), DockerError> {
        self.api().await?.ping().await?;
        Ok(())
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
