//! What every dyno container runs under: no capabilities, no privilege escalation,
//! memory and pids limits, tini as PID 1, never as root, never a host mount.

use std::collections::HashMap;

use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder};
use paas_core::runtime::DynoLimits;

use crate::{BUILD_USER, Docker, DockerError};

/// How a dyno's disk is bounded on this engine (see [`Docker::disk_bound`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiskBound {
    /// The storage driver limits the whole writable layer (overlay2 on xfs with project
    /// quotas, btrfs, zfs): `--storage-opt size=`.
    WritableLayer,
    /// It cannot: `/tmp` is a tmpfs of the dyno's disk size (it counts against the dyno's
    /// memory too); the rest of the writable layer is not bounded.
    TmpOnly,
}

/// What every dyno (formation or one-off) runs under: no capabilities, no privilege
/// escalation, memory, pids, disk and log limits, tini as PID 1 (forwards SIGTERM, reaps
/// zombies), on its app's network; never a host mount.
pub(crate) fn unprivileged(limits: DynoLimits, network: String, disk: DiskBound) -> HostConfig {
    let size = limits.disk_bytes.to_string();
    let (storage_opt, tmpfs) = match disk {
        DiskBound::WritableLayer => (Some(HashMap::from([("size".to_owned(), size)])), None),
        DiskBound::TmpOnly => (
            None,
            Some(HashMap::from([(
                "/tmp".to_owned(),
                format!("rw,nosuid,nodev,size={size},mode=1777"),
            )])),
        ),
    };
    HostConfig {
        memory: Some(limits.memory_bytes),
        memory_swap: Some(limits.memory_bytes),
        pids_limit: Some(limits.pids),
        cap_drop: Some(vec!["ALL".into()]),
        security_opt: Some(vec!["no-new-privileges".into()]),
        privileged: Some(false),
        init: Some(true),
        network_mode: Some(network),
        storage_opt,
        tmpfs,
        log_config: Some(bounded_log(limits)),
        ..Default::default()
    }
}

/// A dyno's output as the engine keeps it: the `local` driver (compressed, rotated), at
/// most `log_files` files of `log_file_bytes`, so a chatty dyno cannot fill the disk.
/// The collector follows the live output and resumes from the newest kept line.
pub(crate) fn bounded_log(limits: DynoLimits) -> HostConfigLogConfig {
    HostConfigLogConfig {
        typ: Some("local".into()),
        config: Some(HashMap::from([
            ("max-size".to_owned(), limits.log_file_bytes.to_string()),
            ("max-file".to_owned(), limits.log_files.to_string()),
        ])),
    }
}

/// The user a dyno of an image that names `user` runs as: that user unless it is root
/// by name or by uid (`root`, `0`, `0:1000`, `root:staff`), else the stack's `app`. A
/// group of 0 is dropped too.
fn non_root_user(user: &str) -> String {
    let (who, group) = user.split_once(':').unwrap_or((user, ""));
    let is_root = |part: &str| matches!(part.trim(), "" | "0" | "root");
    if is_root(who) {
        format!("{BUILD_USER}:{BUILD_USER}")
    } else if !group.is_empty() && is_root(group) {
        format!("{who}:{BUILD_USER}")
    } else {
        user.to_owned()
    }
}

impl Docker {
    /// How this engine bounds a dyno's disk, found once by trying: a container made with
    /// `--storage-opt size` is refused by drivers that cannot enforce it.
    pub async fn disk_bound(&self, image: &str) -> Result<DiskBound, DockerError> {
        let api = self.api().await?;
        let bound = self
            .disk
            .get_or_try_init(|| async {
                let name = format!("paas-disk-probe-{}", uuid::Uuid::new_v4().simple());
                let body = ContainerCreateBody {
                    image: Some(image.to_owned()),
                    cmd: Some(vec!["true".into()]),
                    host_config: Some(HostConfig {
                        storage_opt: Some(HashMap::from([("size".into(), "1G".into())])),
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                let created = api
                    .create_container(
                        Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                        body,
                    )
                    .await;
                match created {
                    Ok(c) => {
                        let _ = api
                            .remove_container(
                                &c.id,
                                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
                            )
                            .await;
                        Ok(DiskBound::WritableLayer)
                    }
                    Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                        if message.contains("storage-opt") || message.contains("storage opt") =>
                    {
                        Ok(DiskBound::TmpOnly)
                    }
                    Err(e) => Err(DockerError::from(e)),
                }
            })
            .await?;
        Ok(*bound)
    }

    /// Dynos never run as root: an image that names no other user runs as the stack's
    /// unprivileged `app` user.
    pub async fn dyno_user(&self, image: &str) -> Result<String, DockerError> {
        let config = self.api().await?.inspect_image(image).await?.config;
        Ok(non_root_user(
            &config.and_then(|c| c.user).unwrap_or_default(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynos_never_run_as_root_by_name_or_by_uid() {
        let app = format!("{BUILD_USER}:{BUILD_USER}");
        for root in ["", "root", "0", "0:0", "root:root", "0:1000", "root:staff"] {
            assert_eq!(non_root_user(root), app, "{root:?}");
        }
        assert_eq!(non_root_user("1000:0"), format!("1000:{BUILD_USER}"));
        assert_eq!(non_root_user("web"), "web");
        assert_eq!(non_root_user("1001:1001"), "1001:1001");
    }
}
