//! The dyno settings group (`PAAS_DYNO_*`, `PAAS_HEALTH_TIMEOUT`, `PAAS_INSTANCE`,
//! `PAAS_NETWORK_POOL`, `PAAS_RUNTIME` and the Swarm's `PAAS_REGISTRY`,
//! `PAAS_SWARM_NODE_SOCKET`): how dynos run and on which engine.

use anyhow::bail;

use super::parse::{Env, parse_bytes, parse_size};

/// How dynos run (SPEC §4).
#[derive(Debug, Clone)]
pub struct DynoConfig {
    pub memory_bytes: i64,
    /// `PAAS_DYNO_DISK` (1g): each dyno's writable filesystem.
    pub disk_bytes: i64,
    /// `PAAS_DYNO_LOG_SIZE` (10m) × `PAAS_DYNO_LOG_FILES` (3): a dyno's output kept on disk.
    pub log_file_bytes: i64,
    pub log_files: u32,
    pub grace_secs: i32,
    pub health_timeout_secs: u64,
    /// Labels this installation's containers (two paasd on one Docker engine).
    pub instance: String,
    /// `PAAS_NETWORK_POOL` (10.250.0.0/15): where app networks get their subnets.
    pub network_pool: paas_docker::NetworkPool,
    /// `PAAS_RUNTIME`: where formation dynos run.
    pub runtime: Runtime,
}

/// `PAAS_RUNTIME`: the engine that runs formation dynos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `docker` (the default): containers on the engine at `DOCKER_HOST`.
    Docker,
    /// `swarm`: services on the Swarm whose manager is at `DOCKER_HOST`, pulling release
    /// images from `PAAS_REGISTRY` (`host:port`); a deleted app's images are removed
    /// from each node through its socket at `PAAS_SWARM_NODE_SOCKET` (a path, Swarm
    /// templates allowed).
    Swarm {
        registry: String,
        node_socket: String,
    },
}

impl DynoConfig {
    /// The limits every dyno container gets (formation, one-off, release phase).
    pub fn limits(&self) -> paas_core::runtime::DynoLimits {
        paas_core::runtime::DynoLimits {
            memory_bytes: self.memory_bytes,
            disk_bytes: self.disk_bytes,
            log_file_bytes: self.log_file_bytes,
            log_files: self.log_files,
            ..Default::default()
        }
    }

    pub(super) fn read(env: &Env<'_>) -> anyhow::Result<Self> {
        let instance = env.get("PAAS_INSTANCE").unwrap_or_else(|| "paas".into());
        if !instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || instance.len() > 64
        {
            bail!("PAAS_INSTANCE={instance:?} must be up to 64 letters, digits, '-' or '_'");
        }
        let network_pool = {
            let raw = env
                .get("PAAS_NETWORK_POOL")
                .unwrap_or_else(|| "10.250.0.0/15".into());
            let pool = paas_docker::NetworkPool::parse(&raw)
                .map_err(|e| anyhow::anyhow!("PAAS_NETWORK_POOL: {e}"))?;
            if let Some((addr, prefix)) = host_routes()
                .into_iter()
                .find(|(addr, prefix)| *prefix > 0 && pool.overlaps(*addr, *prefix))
            {
                bail!(
                    "PAAS_NETWORK_POOL={pool} overlaps this host's route to {addr}/{prefix}: choose another private range"
                );
            }
            pool
        };
        let runtime = match env.get("PAAS_RUNTIME").as_deref().map(str::trim) {
            None | Some("" | "docker") => Runtime::Docker,
            Some("swarm") => match env.get("PAAS_REGISTRY").map(|r| r.trim().to_owned()) {
                Some(registry) if !registry.is_empty() && !registry.contains('/') => {
                    let node_socket = env
                        .get("PAAS_SWARM_NODE_SOCKET")
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "/var/run/docker.sock".into());
                    if !node_socket.starts_with('/') {
                        bail!(
                            "PAAS_SWARM_NODE_SOCKET={node_socket:?} must be an absolute path (Swarm templates such as {{{{.Node.Hostname}}}} allowed)"
                        );
                    }
                    Runtime::Swarm {
                        registry,
                        node_socket,
                    }
                }
                _ => bail!(
                    "PAAS_RUNTIME=swarm needs PAAS_REGISTRY=host:port, the registry every node pulls release images from"
                ),
            },
            Some(other) => bail!("PAAS_RUNTIME={other:?} must be docker or swarm"),
        };
        Ok(DynoConfig {
            runtime,
            network_pool,
            memory_bytes: parse_bytes(
                "PAAS_DYNO_MEMORY",
                &env.get("PAAS_DYNO_MEMORY").unwrap_or_else(|| "512m".into()),
            )?,
            disk_bytes: parse_bytes(
                "PAAS_DYNO_DISK",
                &env.get("PAAS_DYNO_DISK").unwrap_or_else(|| "1g".into()),
            )?,
            log_file_bytes: parse_size(
                "PAAS_DYNO_LOG_SIZE",
                &env.get("PAAS_DYNO_LOG_SIZE")
                    .unwrap_or_else(|| "10m".into()),
                1 << 20,
            )?,
            log_files: match env.get("PAAS_DYNO_LOG_FILES") {
                None => 3,
                Some(raw) => match raw.trim().parse::<u32>() {
                    Ok(n) if (1..=100).contains(&n) => n,
                    _ => bail!("PAAS_DYNO_LOG_FILES={raw:?} must be a whole number from 1 to 100"),
                },
            },
            grace_secs: env.seconds("PAAS_DYNO_GRACE", 30, 3600)? as i32,
            health_timeout_secs: env.seconds("PAAS_HEALTH_TIMEOUT", 60, 3600)?,
            instance,
        })
    }
}

/// This host's IPv4 routes (`/proc/net/route`), but for Docker's own bridges: app
/// networks must not shadow a route the host uses.
fn host_routes() -> Vec<(std::net::Ipv4Addr, u8)> {
    let Ok(table) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, mask) = (f.first()?, f.get(1)?, f.get(7)?);
            if iface.starts_with("docker") || iface.starts_with("br-") || iface.starts_with("veth")
            {
                return None;
            }
            // Little-endian hex, as the kernel prints them.
            let dest = u32::from_str_radix(dest, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(mask, 16).ok()?.swap_bytes();
            Some((std::net::Ipv4Addr::from(dest), mask.count_ones() as u8))
        })
        .collect()
}
