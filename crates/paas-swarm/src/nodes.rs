//! The cluster's nodes, as `paasd nodes` and `GET /nodes` show them and as the dyno
//! list needs them (a task's node address is where its published port is reached).

use std::net::IpAddr;

use bollard::models::{NodeSpecAvailabilityEnum, NodeState};

use crate::{Swarm, SwarmError};

/// One node of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub id: String,
    pub hostname: String,
    /// The address the node is reached at (`docker node inspect` `Status.Addr`).
    pub addr: Option<IpAddr>,
    /// `ready`, `down`, `disconnected` or `unknown`.
    pub state: String,
    /// Whether the node is `ready`: its tasks can be reached.
    pub ready: bool,
    /// `active`, `pause` or `drain`.
    pub availability: String,
    pub manager: bool,
}

impl Swarm {
    pub async fn cluster_nodes(&self) -> Result<Vec<Node>, SwarmError> {
        let nodes = self.api().await?.list_nodes(None).await?;
        Ok(nodes
            .into_iter()
            .filter_map(|n| {
                let status = n.status.unwrap_or_default();
                let spec = n.spec.unwrap_or_default();
                Some(Node {
                    id: n.id?,
                    hostname: n.description.and_then(|d| d.hostname).unwrap_or_default(),
                    addr: status.addr.and_then(|a| a.parse().ok()),
                    ready: status.state == Some(NodeState::READY),
                    state: status.state.map(|s| s.to_string()).unwrap_or_default(),
                    availability: spec
                        .availability
                        .unwrap_or(NodeSpecAvailabilityEnum::ACTIVE)
                        .to_string(),
                    manager: n.manager_status.is_some(),
                })
            })
            .collect())
    }
}
