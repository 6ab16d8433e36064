//! App networks: each app's dynos share a bridge network of their own, so dynos of other
//! apps cannot reach them; labelled with the installation and app, so networks of
//! deleted apps can be found again and removed.

use std::net::Ipv4Addr;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};

use paas_core::runtime::{AppNetwork, app_network_name};

use crate::{Docker, DockerError, is_not_found, labels};

/// Where app networks get their subnets: a pool paas manages (`PAAS_NETWORK_POOL`), cut
/// into small subnets (`/25`: 125 dynos an app), rather than Docker's default pools,
/// which hold about 30 bridge networks in all. The default `10.250.0.0/15` holds 1,024
/// apps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkPool {
    base: u32,
    prefix: u8,
}

/// Each app's subnet.
const APP_PREFIX: u8 = 25;

impl Default for NetworkPool {
    fn default() -> Self {
        Self {
            base: u32::from(Ipv4Addr::new(10, 250, 0, 0)),
            prefix: 15,
        }
    }
}

impl NetworkPool {
    /// `10.250.0.0/15`: an IPv4 network of /8 to /24 (room for at least two apps).
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || format!("{raw:?} is not an IPv4 network like 10.250.0.0/15 (/8 to /24)");
        let (addr, prefix) = raw.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if !(8..=24).contains(&prefix) {
            return Err(bad());
        }
        let mask = u32::MAX << (32 - prefix);
        Ok(Self {
            base: u32::from(addr) & mask,
            prefix,
        })
    }

    /// How many app subnets it holds.
    pub fn capacity(self) -> u32 {
        1 << (APP_PREFIX - self.prefix)
    }

    /// Whether it overlaps `addr/prefix` (a host route, say).
    pub fn overlaps(self, addr: Ipv4Addr, prefix: u8) -> bool {
        let shortest = self.prefix.min(prefix);
        let mask = if shortest == 0 {
            0
        } else {
            u32::MAX << (32 - shortest)
        };
        (self.base & mask) == (u32::from(addr) & mask)
    }

    /// The first app subnet not in `taken` (CIDR strings Docker reports).
    #[cfg(test)]
    fn free_subnet(self, taken: &[String]) -> Option<String> {
        self.free_subnet_from(0, taken)
    }

    /// The first app subnet not in `taken`, looking from the `start`th one on (and
    /// round).
    fn free_subnet_from(self, start: u32, taken: &[String]) -> Option<String> {
        let taken: Vec<(Ipv4Addr, u8)> = taken
            .iter()
            .filter_map(|t| {
                let (a, p) = t.split_once('/')?;
                Some((a.parse().ok()?, p.parse().ok()?))
            })
            .collect();
        let capacity = self.capacity();
        (0..capacity).find_map(|i| {
            let i = (start + i) % capacity;
            let net = self.base + (i << (32 - APP_PREFIX));
            let candidate = NetworkPool {
                base: net,
                prefix: APP_PREFIX,
            };
            (!taken.iter().any(|(a, p)| candidate.overlaps(*a, *p)))
                .then(|| format!("{}/{APP_PREFIX}", Ipv4Addr::from(net)))
        })
    }
}

/// Whether the network `name` exists on the engine behind `api`: the first step of every
/// `ensure_network` (this engine's bridge networks, paas-swarm's overlay networks), taken
/// under the caller's network lock.
pub async fn network_exists(
    api: &bollard::Docker,
    name: &str,
) -> Result<bool, bollard::errors::Error> {
    match api
        .inspect_network(
            name,
            None::<bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

impl std::fmt::Display for NetworkPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

impl Docker {
    /// Creates the app's bridge network (`paas-<instance>-<app>`) unless it exists, on a
    /// free subnet of the pool, and returns its name; dynos of other apps are on other
    /// networks and cannot reach these. Labelled with the installation and app, so
    /// networks of deleted apps can be found again.
    pub async fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> Result<String, DockerError> {
        let name = app_network_name(instance, app_name);
        let api = self.api().await?;
        let _creating = self.network_lock.lock().await;
        if network_exists(api, &name).await? {
            return Ok(name);
        }
        let labels = labels::network(instance, app_name);
        // Other processes (another installation, another paasd) pick subnets too, and
        // Docker refuses a subnet that overlaps one taken meanwhile: start the search at
        // a random place and try again on such a refusal.
        let mut refused: Vec<String> = Vec::new();
        for _attempt in 0..8 {
            // Every network of the engine (any installation's) holds its subnet.
            let mut taken: Vec<String> = api
                .list_networks(None::<bollard::query_parameters::ListNetworksOptions>)
                .await?
                .into_iter()
                .flat_map(|n| n.ipam.and_then(|i| i.config).unwrap_or_default())
                .filter_map(|c| c.subnet)
                .collect();
            taken.extend(refused.iter().cloned());
            let start = (uuid::Uuid::new_v4().as_u128() as u32) % self.network_pool.capacity();
            let subnet = self.network_pool.free_subnet_from(start, &taken).ok_or_else(|| {
                DockerError::Unexpected(format!(
                    "no free subnet left in PAAS_NETWORK_POOL={} ({} app networks): remove apps or give a larger pool",
                    self.network_pool,
                    self.network_pool.capacity()
                ))
            })?;
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels.clone()),
                ipam: Some(Ipam {
                    config: Some(vec![IpamConfig {
                        subnet: Some(subnet.clone()),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            match api.create_network(request).await {
                Ok(_) => return Ok(name),
                // Created meanwhile by another process.
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 409, ..
                }) => return Ok(name),
                Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                    if message.contains("overlap") =>
                {
                    tracing::debug!(%subnet, "subnet taken meanwhile; trying another");
                    refused.push(subnet);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(DockerError::Unexpected(format!(
            "{name}: every subnet tried in PAAS_NETWORK_POOL={} was taken meanwhile",
            self.network_pool
        )))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pool_hands_out_small_subnets_that_are_free() {
        let pool = NetworkPool::default();
        assert_eq!(pool.capacity(), 1024);
        assert_eq!(pool.free_subnet(&[]).as_deref(), Some("10.250.0.0/25"));
        let taken = ["10.250.0.0/25".to_owned(), "172.17.0.0/16".to_owned()];
        assert_eq!(pool.free_subnet(&taken).as_deref(), Some("10.250.0.128/25"));
        // A wider network over the pool's start takes every subnet under it.
        let wide = ["10.250.0.0/24".to_owned()];
        assert_eq!(pool.free_subnet(&wide).as_deref(), Some("10.250.1.0/25"));
        let full = ["10.250.0.0/15".to_owned()];
        assert_eq!(pool.free_subnet(&full), None);
        // Searches from elsewhere go round the pool.
        assert_eq!(
            pool.free_subnet_from(1023, &taken).as_deref(),
            Some("10.251.255.128/25")
        );
        let last = ["10.251.255.128/25".to_owned()];
        assert_eq!(
            pool.free_subnet_from(1023, &last).as_deref(),
            Some("10.250.0.0/25")
        );
    }

    #[test]
    fn pools_parse_and_overlaps_are_found() {
        let pool = NetworkPool::parse("10.251.7.9/15").unwrap();
        assert_eq!(pool.to_string(), "10.250.0.0/15");
        assert!(pool.overlaps(Ipv4Addr::new(10, 0, 0, 0), 8));
        assert!(!pool.overlaps(Ipv4Addr::new(192, 0, 2, 0), 24));
        for bad in ["10.0.0.0", "10.0.0.0/30", "10.0.0.0/4", "x/16"] {
            assert!(NetworkPool::parse(bad).is_err(), "{bad}");
        }
    }
}
