//! App networks: each app's dynos share a bridge network of their own, so dynos of other
//! apps cannot reach them; labelled with the installation and app, so networks of
//! deleted apps can be found again and removed.

use bollard::models::NetworkCreateRequest;

use paas_core::runtime::{AppNetwork, app_network_name};

use crate::{Docker, DockerError, is_not_found, labels};

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
            labels: Some(labels::network(instance, app_name, created)),
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
        let filters = labels::filters(instance, None, &[]);
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
                let (app_name, created_secs) = labels::decode_network(&n.labels?)?;
                Some(AppNetwork {
                    id: n.id?,
                    app_name,
                    created_secs,
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
}
