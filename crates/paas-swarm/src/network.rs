//! App networks on the cluster: an attachable overlay network per app
//! (`paas-<instance>-<app>`), labelled like a single engine's bridge networks so the
//! same listing and sweep find them. The manager's engine client makes them
//! (`paas_docker::Docker::with_overlay_networks`), so one-off containers on the manager
//! (`paas run`, the release phase, which may come before any service) and the app's
//! services always join the same overlay. Subnets come from the swarm's own address
//! pool (`docker swarm init --default-addr-pool`), not `PAAS_NETWORK_POOL`.

use crate::{Swarm, SwarmError};

impl Swarm {
    pub async fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> Result<String, SwarmError> {
        Ok(self.docker.ensure_network(instance, app_name).await?)
    }
}
