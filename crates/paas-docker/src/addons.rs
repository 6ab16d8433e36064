//! Add-on containers: one per add-on, its data on a named volume, on the networks of
//! the apps attached to it (with its name as the alias there, the host of its URL) and
//! on no other. paasd reaches it only by `docker exec` (readiness, backups), never over
//! the network.

use std::collections::{BTreeSet, HashMap};

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, NetworkConnectRequest,
    NetworkDisconnectRequest, NetworkingConfig, VolumeCreateRequest,
};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};
use futures::StreamExt;
use paas_core::runtime::{DynoLimits, app_network_name};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use uuid::Uuid;

use crate::labels::{self, Kind};
use crate::security::bounded_log;
use crate::{Docker, DockerError, is_not_found};

/// How to run one add-on.
#[derive(Debug, Clone)]
pub struct AddonSpec {
    pub instance: String,
    pub addon_id: Uuid,
    /// Its name: the container's host name and its alias on app networks.
    pub name: String,
    pub service: String,
    pub image: String,
    /// The user the service runs as (the image's `postgres`, `redis`).
    pub user: String,
    /// Where the volume is mounted.
    pub data_dir: String,
    pub command: Vec<String>,
    /// `KEY=value`: credentials and limits for the image's entry script.
    pub env: Vec<String>,
    pub memory_bytes: i64,
    /// The app whose network it starts on (it joins the others' afterwards).
    pub first_app: String,
    /// Its output's bound on disk (as for dynos).
    pub log: DynoLimits,
}

/// An add-on's container as the engine shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddonContainer {
    pub id: String,
    pub addon_id: Uuid,
    pub running: bool,
    /// The app networks of this installation it is on, by app name.
    pub apps: BTreeSet<String>,
}

/// The container's and the volume's name.
pub fn addon_container_name(instance: &str, name: &str) -> String {
    format!("paas-{instance}-addon-{name}")
}

impl Docker {
    /// Creates the add-on's volume (kept if it exists: it may hold the data) and its
    /// container (adopted if it exists), and starts it. Returns the container's id.
    pub async fn create_addon(&self, spec: &AddonSpec) -> Result<String, DockerError> {
        let api = self.api().await?;
        let name = addon_container_name(&spec.instance, &spec.name);
        let labels = labels::addon(&spec.instance, spec.addon_id, &spec.name, &spec.service);
        api.create_volume(VolumeCreateRequest {
            name: Some(name.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        })
        .await?;
        let network = self.ensure_network(&spec.instance, &spec.first_app).await?;
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(spec.user.clone()),
            cmd: Some(spec.command.clone()),
            env: Some(spec.env.clone()),
            labels: Some(labels),
            hostname: Some(spec.name.clone()),
            // Postgres shuts down fast (and safely) on SIGINT; SIGTERM waits for clients.
            stop_signal: Some("SIGINT".into()),
            host_config: Some(HostConfig {
                memory: Some(spec.memory_bytes),
                memory_swap: Some(spec.memory_bytes),
                pids_limit: Some(512),
                cap_drop: Some(vec!["ALL".into()]),
                security_opt: Some(vec!["no-new-privileges".into()]),
                privileged: Some(false),
                init: Some(true),
                network_mode: Some(network.clone()),
                binds: Some(vec![format!("{name}:{}", spec.data_dir)]),
                log_config: Some(bounded_log(spec.log)),
                ..Default::default()
            }),
            networking_config: Some(NetworkingConfig {
                endpoints_config: Some(HashMap::from([(
                    network,
                    EndpointSettings {
                        aliases: Some(vec![spec.name.clone()]),
                        ..Default::default()
                    },
                )])),
            }),
            ..Default::default()
        };
        let id = match api
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await
        {
            Ok(created) => created.id,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => name.clone(),
            Err(e) => return Err(e.into()),
        };
        self.start_addon(&id).await?;
        Ok(id)
    }

    /// Starts an add-on's container; one already running is fine.
    pub async fn start_addon(&self, id: &str) -> Result<(), DockerError> {
        match self.api().await?.start_container(id, None).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// This installation's add-on containers.
    pub async fn list_addons(&self, instance: &str) -> Result<Vec<AddonContainer>, DockerError> {
        let filters = labels::filters(instance, Some(Kind::Addon), &[]);
        let prefix = app_network_name(instance, "");
        Ok(self
            .containers(&filters)
            .await?
            .into_iter()
            .filter_map(|c| {
                let addon_id = labels::decode_addon(c.labels.as_ref()?)?;
                let apps = c
                    .network_settings
                    .and_then(|n| n.networks)
                    .unwrap_or_default()
                    .into_keys()
                    .filter_map(|n| n.strip_prefix(&prefix).map(str::to_owned))
                    .collect();
                Some(AddonContainer {
                    id: c.id?,
                    addon_id,
                    running: c.state.is_some_and(|s| {
                        matches!(
                            s,
                            bollard::models::ContainerSummaryStateEnum::RUNNING
                                | bollard::models::ContainerSummaryStateEnum::RESTARTING
                        )
                    }),
                    apps,
                })
            })
            .collect())
    }

    /// Puts an add-on on an app's network under its name.
    pub async fn connect_addon(
        &self,
        id: &str,
        instance: &str,
        app: &str,
        alias: &str,
    ) -> Result<(), DockerError> {
        let network = self.ensure_network(instance, app).await?;
        let request = NetworkConnectRequest {
            container: id.to_owned(),
            endpoint_config: Some(EndpointSettings {
                aliases: Some(vec![alias.to_owned()]),
                ..Default::default()
            }),
        };
        match self.api().await?.connect_network(&network, request).await {
            Ok(()) => Ok(()),
            // Already connected.
            Err(bollard::errors::Error::DockerResponseServerError { message, .. })
                if message.contains("already exists") =>
            {
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Takes an add-on off an app's network.
    pub async fn disconnect_addon(
        &self,
        id: &str,
        instance: &str,
        app: &str,
    ) -> Result<(), DockerError> {
        let request = NetworkDisconnectRequest {
            container: id.to_owned(),
            force: Some(true),
        };
        match self
            .api()
            .await?
            .disconnect_network(&app_network_name(instance, app), request)
            .await
        {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes an add-on's container and its volume: its data is gone.
    pub async fn remove_addon(&self, instance: &str, name: &str) -> Result<(), DockerError> {
        let api = self.api().await?;
        let container = addon_container_name(instance, name);
        // Two removers can meet (the API's destroy and the add-on supervisor's pass):
        // the engine answers the second 409 (removal in progress, volume still in use)
        // until the first is done, so a conflict is waited out a few times.
        waiting_out_conflicts(|| {
            api.remove_container(
                &container,
                Some(RemoveContainerOptionsBuilder::default().force(true).build()),
            )
        })
        .await?;
        waiting_out_conflicts(|| {
            api.remove_volume(
                &container,
                Some(RemoveVolumeOptionsBuilder::default().force(true).build()),
            )
        })
        .await
    }

    /// Runs `cmd` in an add-on's container as its service user, with `stdin` as its
    /// input (if any) and its stdout written to `stdout`. Returns the exit code and the
    /// end of its stderr.
    pub async fn exec_addon(
        &self,
        id: &str,
        cmd: Vec<String>,
        stdin: Option<Box<dyn AsyncRead + Send + Unpin>>,
        stdout: &mut (dyn AsyncWrite + Send + Unpin),
    ) -> Result<(i64, String), DockerError> {
        let api = self.api().await?;
        let exec = api
            .create_exec(
                id,
                CreateExecOptions {
                    cmd: Some(cmd),
                    attach_stdin: Some(stdin.is_some()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let StartExecResults::Attached { mut output, input } =
            api.start_exec(&exec.id, None).await?
        else {
            return Err(DockerError::Unexpected("exec did not attach".into()));
        };
        let feeding = async move {
            if let Some(mut stdin) = stdin {
                let mut input = input;
                tokio::io::copy(&mut stdin, &mut input).await?;
                input.shutdown().await?;
            }
            Ok::<(), std::io::Error>(())
        };
        let reading = async {
            let mut stderr = Vec::new();
            while let Some(item) = output.next().await {
                match item? {
                    bollard::container::LogOutput::StdOut { message }
                    | bollard::container::LogOutput::Console { message } => {
                        stdout
                            .write_all(&message)
                            .await
                            .map_err(|e| DockerError::Unexpected(format!("writing: {e}")))?;
                    }
                    bollard::container::LogOutput::StdErr { message } => {
                        stderr.extend_from_slice(&message);
                        if stderr.len() > 64 * 1024 {
                            stderr.drain(..stderr.len() - 32 * 1024);
                        }
                    }
                    bollard::container::LogOutput::StdIn { .. } => {}
                }
            }
            stdout
                .flush()
                .await
                .map_err(|e| DockerError::Unexpected(format!("writing: {e}")))?;
            Ok::<String, DockerError>(String::from_utf8_lossy(&stderr).into_owned())
        };
        let (fed, stderr) = tokio::join!(feeding, reading);
        let stderr = stderr?;
        if let Err(e) = fed {
            return Err(DockerError::Unexpected(format!("feeding the exec: {e}")));
        }
        let code = api.inspect_exec(&exec.id).await?.exit_code.unwrap_or(-1);
        Ok((code, stderr))
    }
}

/// Runs a removal until it is done or finds nothing to remove, waiting out up to 20
/// conflicts (409: another remover is at it) 250 ms apart.
async fn waiting_out_conflicts<F, Fut>(mut remove: F) -> Result<(), DockerError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<(), bollard::errors::Error>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match remove().await {
            Ok(()) => return Ok(()),
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) if tries < 20 => {}
            Err(e) => return Err(e.into()),
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
