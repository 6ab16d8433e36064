//! The Docker Engine, through bollard; no other crate names bollard types.
//!
//! [`Docker`] is a lazily negotiated client (Debian's engine speaks an older API than
//! bollard's default, so the version is negotiated on first use). `build` holds build
//! containers and image commits for the builder; `dynos` runs the formation's
//! containers for the supervisor, with Docker labels as the record of what runs.

pub mod build;
pub mod dynos;
pub mod images;
pub mod logs;

use tokio::sync::OnceCell;

pub use build::{BUILD_USER, BuildContainer, ContainerExit, Limits};
pub use dynos::{AttachedOneOff, OneOff, OneOffSpec};
pub use images::ImageInfo;
pub use logs::{LogSource, OutputLine};
/// The dyno data of the supervisor's port, which [`Docker`] implements.
pub use paas_core::runtime::{
    AppNetwork, ContainerRuntime, DynoEvent, DynoSpec, ExitedOneOff, ObservedContainer,
};

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
}

impl Docker {
    /// Connects lazily, honouring `DOCKER_HOST`.
    pub fn connect() -> Result<Self, DockerError> {
        let client = bollard::Docker::connect_with_defaults()?;
        Ok(Self {
            client,
            negotiated: Default::default(),
            network_lock: Default::default(),
        })
    }

    async fn api(&self) -> Result<&bollard::Docker, DockerError> {
        self.negotiated
            .get_or_try_init(|| async { self.client.clone().negotiate_version().await })
            .await
            .map_err(DockerError::from)
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
