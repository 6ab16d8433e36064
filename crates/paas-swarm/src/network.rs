//! App networks on the cluster: an attachable overlay network per app
//! (`paas-<instance>-<app>`), labelled like a single engine's bridge networks so the
//! same listing and sweep find them; one-off containers on the manager attach to it.
//! Subnets come from the swarm's own address pool (`docker swarm init
//! --default-addr-pool`), not `PAAS_NETWORK_POOL`.

use bollard::models::NetworkCreateRequest;
use paas_core::runtime::app_network_name;
use paas_docker::labels;
use paas_docker::network::network_exists;

use crate::{Swarm, SwarmError};

impl Swarm {
    pub async fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> Result<String, SwarmError> {
        let name = app_network_name(instance, app_name);
        let api = self.api().await?;
        let _creating = self.network_lock.lock().await;
        if network_exists(api, &name).await? {
            return Ok(name);
        }
        let request = NetworkCreateRequest {
            name: name.clone(),
            driver: Some("overlay".into()),
            attachable: Some(true),
            labels: Some(labels::network(instance, app_name)),
            ..Default::default()
        };
        match api.create_network(request).await {
            Ok(_) => Ok(name),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(name),
            Err(e) => Err(e.into()),
        }
    }
}
