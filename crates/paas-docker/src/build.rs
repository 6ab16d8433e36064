//! Build containers and images.
//!
//! Buildpack builds follow herokuish's flow: a container of the stack image gets the
//! source at `/app` (owned by the unprivileged build user), the persistent per-app cache
//! at `/cache`, the config at `/env` (one file per var) and the buildpacks at
//! `/buildpacks`; it runs detect → compile → release, and the container is committed as
//! the app's image. Dockerfile builds go through the engine's build API. Every build is
//! capped in memory, CPU and pids, and runs with all capabilities dropped.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::{Docker, DockerError, is_not_found};
use bollard::models::{ContainerConfig, ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, CommitContainerOptionsBuilder, CreateContainerOptionsBuilder,
    LogsOptionsBuilder, RemoveContainerOptionsBuilder, RemoveImageOptionsBuilder,
    UploadToContainerOptionsBuilder, WaitContainerOptionsBuilder,
};
use futures::StreamExt;

/// The user builds and dynos run as (the stack image's `app` user).
pub const BUILD_USER: u32 = 1000;
/// Build containers drop every capability and cannot gain privileges.
pub const BUILD_CAP_DROP: &str = "ALL";
pub const BUILD_SECURITY_OPT: &str = "no-new-privileges";
/// Where the source is built: the path the app has at run time too.
pub const BUILD_WORKDIR: &str = "/app";

#[derive(Debug, Clone)]
pub struct Limits {
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub pids: i64,
}

impl Limits {
    /// A build's limits unless the operator sets `PAAS_BUILD_MEMORY` or `PAAS_BUILD_CPUS`.
    pub const BUILD_DEFAULT: Limits = Limits {
        memory_bytes: 2 << 30,
        nano_cpus: 1_500_000_000,
        pids: 4096,
    };
}

pub use crate::labels::{build as build_container_labels, image as image_labels};

fn build_containers_filter(instance: &str) -> HashMap<String, Vec<String>> {
    crate::labels::filters(instance, Some(crate::labels::Kind::Build), &[])
}

/// A buildpack build to run in a container.
#[derive(Debug)]
pub struct BuildContainer<'a> {
    /// The installation (`PAAS_INSTANCE`) the build belongs to.
    pub instance: &'a str,
    pub app: &'a str,
    pub build_id: &'a str,
    pub stack_image: &'a str,
    pub script: &'a str,
    pub env: Vec<String>,
    /// `host path:container path:mode` binds.
    pub binds: Vec<String>,
    pub limits: &'a Limits,
    /// The source, as a tar whose entries are under `app/`.
    pub source_tar: Vec<u8>,
}

#[derive(Debug)]
pub struct ContainerExit {
    pub code: i64,
    pub oom_killed: bool,
    pub container_id: String,
}

impl Docker {
    pub async fn image_exists(&self, image: &str) -> Result<bool, DockerError> {
        match self.api().await?.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The image's command as one shell string (Entrypoint + Cmd), for Dockerfile apps
    /// without a Procfile.
    pub async fn image_command(&self, image: &str) -> Result<Option<String>, DockerError> {
        let inspect = self.api().await?.inspect_image(image).await?;
        let config = inspect.config.unwrap_or_default();
        let parts: Vec<String> = config
            .entrypoint
            .unwrap_or_default()
            .into_iter()
            .chain(config.cmd.unwrap_or_default())
            .collect();
        Ok((!parts.is_empty()).then(|| {
            parts
                .iter()
                .map(|p| shell_quote(p))
                .collect::<Vec<_>>()
                .join(" ")
        }))
    }

    /// Creates the build container, copies the source in, starts it and forwards every
    /// output line to `on_line` until it exits.
    pub async fn run_build_container(
        &self,
        spec: BuildContainer<'_>,
        mut on_line: impl FnMut(String),
    ) -> Result<ContainerExit, DockerError> {
        let api = self.api().await?;
        let labels = build_container_labels(spec.instance, spec.app, spec.build_id);
        let body = ContainerCreateBody {
            image: Some(spec.stack_image.to_owned()),
            cmd: Some(vec!["/bin/sh".into(), "-c".into(), spec.script.to_owned()]),
            env: Some(spec.env.clone()),
            user: Some(format!("{BUILD_USER}:{BUILD_USER}")),
            working_dir: Some(BUILD_WORKDIR.into()),
            labels: Some(labels),
            host_config: Some(HostConfig {
                // A build's output is streamed to the pusher as it comes; the engine
                // keeps no more of it on disk than of a dyno's.
                log_config: Some(crate::security::bounded_log(
                    paas_core::runtime::DynoLimits::default(),
                )),
                binds: Some(spec.binds.clone()),
                memory: Some(spec.limits.memory_bytes),
                memory_swap: Some(spec.limits.memory_bytes),
                nano_cpus: Some(spec.limits.nano_cpus),
                pids_limit: Some(spec.limits.pids),
                cap_drop: Some(vec![BUILD_CAP_DROP.into()]),
                security_opt: Some(vec![BUILD_SECURITY_OPT.into()]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let name = format!(
            "paas-build-{}-{}",
            spec.app,
            &spec.build_id[..spec.build_id.len().min(12)]
        );
        let created = api
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await?;
        let id = created.id;
        let result = self
            .run_created(api, &id, spec.source_tar, &mut on_line)
            .await;
        if result.is_err() {
            self.remove_container(&id).await;
        }
        result
    }

    async fn run_created(
        &self,
        api: &bollard::Docker,
        id: &str,
        source_tar: Vec<u8>,
        on_line: &mut impl FnMut(String),
    ) -> Result<ContainerExit, DockerError> {
        api.upload_to_container(
            id,
            Some(UploadToContainerOptionsBuilder::default().path("/").build()),
            bollard::body_full(source_tar.into()),
        )
        .await?;
        api.start_container(id, None).await?;
        let mut logs = api.logs(
            id,
            Some(
                LogsOptionsBuilder::default()
                    .follow(true)
                    .stdout(true)
                    .stderr(true)
                    .build(),
            ),
        );
        let mut pending = String::new();
        while let Some(chunk) = logs.next().await {
            let chunk = chunk?;
            pending.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
            while let Some(newline) = pending.find('\n') {
                let line: String = pending.drain(..=newline).collect();
                on_line(line.trim_end_matches(['\n', '\r']).to_owned());
            }
        }
        if !pending.is_empty() {
            on_line(pending);
        }
        let mut wait = api.wait_container(id, Some(WaitContainerOptionsBuilder::default().build()));
        let code = match wait.next().await {
            Some(Ok(exit)) => exit.status_code,
            // bollard reports a non-zero exit as an error carrying the code.
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(e.into()),
            None => -1,
        };
        let inspect = api.inspect_container(id, None).await?;
        let oom_killed = inspect.state.and_then(|s| s.oom_killed).unwrap_or(false);
        Ok(ContainerExit {
            code,
            oom_killed,
            container_id: id.to_owned(),
        })
    }

    /// Commits a finished build container as the app's image; returns the image id
    /// (immutable), and tags it `paas/<app>:<tag>` so it is kept for rollbacks.
    pub async fn commit(
        &self,
        container_id: &str,
        app: &str,
        tag: &str,
        labels: HashMap<String, String>,
    ) -> Result<String, DockerError> {
        let api = self.api().await?;
        let options = CommitContainerOptionsBuilder::default()
            .container(container_id)
            .repo(&format!("paas/{app}"))
            .tag(tag)
            .pause(false)
            .build();
        let config = ContainerConfig {
            user: Some(format!("{BUILD_USER}:{BUILD_USER}")),
            working_dir: Some(BUILD_WORKDIR.into()),
            labels: Some(labels),
            cmd: Some(vec!["/bin/sh".into()]),
            ..Default::default()
        };
        let id = api.commit_container(options, config).await?.id;
        self.remove_container(container_id).await;
        Ok(id)
    }

    /// Builds a Dockerfile codebase (`context_tar` is the source as a tar), forwarding
    /// the engine's output; returns the image id.
    pub async fn build_dockerfile(
        &self,
        app: &str,
        tag: &str,
        context_tar: Vec<u8>,
        limits: &Limits,
        labels: HashMap<String, String>,
        mut on_line: impl FnMut(String),
    ) -> Result<Result<String, String>, DockerError> {
        let api = self.api().await?;
        let image = format!("paas/{app}:{tag}");
        let memory = i32::try_from(limits.memory_bytes).unwrap_or(i32::MAX);
        let options = BuildImageOptionsBuilder::default()
            .t(&image)
            .rm(true)
            .forcerm(true)
            .memory(memory)
            .labels(&labels)
            .build();
        let mut stream =
            api.build_image(options, None, Some(bollard::body_full(context_tar.into())));
        let mut image_id = None;
        while let Some(item) = stream.next().await {
            let info = match item {
                Ok(info) => info,
                Err(bollard::errors::Error::DockerStreamError { error }) => return Ok(Err(error)),
                Err(e) => return Err(e.into()),
            };
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    on_line(line.to_owned());
                }
            }
            if let Some(detail) = info.error_detail {
                return Ok(Err(detail
                    .message
                    .unwrap_or_else(|| "the Docker build failed".into())));
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
        }
        match image_id {
            Some(id) => Ok(Ok(id)),
            None => {
                // Older engines report the id only through the tag.
                let inspect = api.inspect_image(&image).await?;
                Ok(inspect
                    .id
                    .ok_or_else(|| "the Docker build produced no image".to_owned()))
            }
        }
    }

    pub async fn remove_container(&self, id: &str) {
        if let Ok(api) = self.api().await {
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            if let Err(e) = api.remove_container(id, Some(options)).await {
                tracing::warn!(container = %id, error = %e, "could not remove a build container");
            }
        }
    }

    /// Removes every build container of `instance`, running or exited, and returns how
    /// many there were. Called when paasd starts, before it takes pushes: no build runs
    /// then, so every one is left over from a paasd that was killed during a build.
    pub async fn remove_build_containers(&self, instance: &str) -> Result<usize, DockerError> {
        let api = self.api().await?;
        let filters = build_containers_filter(instance);
        let found = self.containers(&filters).await?;
        let mut removed = 0;
        for id in found.into_iter().filter_map(|c| c.id) {
            let options = RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            match api.remove_container(&id, Some(options)).await {
                Ok(()) => removed += 1,
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(removed)
    }

    /// Removes every image built for `app` (`apps:destroy`).
    pub async fn remove_app_images(&self, app: &str) -> Result<(), DockerError> {
        use bollard::query_parameters::ListImagesOptionsBuilder;
        let api = self.api().await?;
        let filters = HashMap::from([("reference".to_owned(), vec![format!("paas/{app}")])]);
        let images = api
            .list_images(Some(
                ListImagesOptionsBuilder::default()
                    .filters(&filters)
                    .build(),
            ))
            .await?;
        for image in images {
            let options = RemoveImageOptionsBuilder::default().force(true).build();
            if let Err(e) = api.remove_image(&image.id, Some(options), None).await {
                tracing::warn!(image = %image.id, error = %e, "could not remove an app image");
            }
        }
        Ok(())
    }
}

/// A host file or directory bound into a build container.
pub fn bind(host: &std::path::Path, container: &str, read_only: bool) -> String {
    format!(
        "{}:{container}:{}",
        host.display(),
        if read_only { "ro" } else { "rw" }
    )
}

pub fn host_path(p: PathBuf) -> PathBuf {
    std::fs::canonicalize(&p).unwrap_or(p)
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=$@%+,".contains(&b))
    {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
