//! Buildpack builds: detect → compile → release in a capped container of the stack
//! image, driven by a small script whose marker lines the builder interprets.

use std::collections::BTreeMap;
use std::time::Instant;

use paas_core::Procfile;
use paas_core::buildpacks::Buildpack;
use paas_docker::build as docker;
use tokio::sync::mpsc;

use crate::custom_buildpack::CUSTOM_BUILDPACKS;
use crate::deploy::Job;
use crate::failure::BuildFailure;
use crate::output::{Output, header};
use crate::script::{self, ScriptLine, ScriptState};
use crate::{Builder, release_yaml, source};

/// Where the build container sees what the builder mounts (`buildpacks/README.md`, "How
/// paasd runs them").
const CACHE_DIR: &str = "/cache";
const ENV_DIR: &str = "/env";
const BUILDPACKS_DIR: &str = "/buildpacks";
/// The host's CA bundle, when there is one, and the variables that point tools at it.
const CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";
const CA_VARS: [&str; 5] = [
    "SSL_CERT_FILE",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "CURL_CA_BUNDLE",
];
/// Set in every build, beside `SOURCE_VERSION` and the buildpacks to try.
const BUILD_ENV: [&str; 2] = ["HOME=/app", "STACK=paas-stack"];

impl Builder {
    /// Builds the image with the app's buildpacks (`list`, run in order), or, when the
    /// list is empty, the first bundled one that detects it, and returns it with the last
    /// buildpack's `bin/release` default process types.
    pub(crate) async fn buildpack_build(
        &self,
        job: &Job<'_>,
        archive: Vec<u8>,
        config: &BTreeMap<String, String>,
        list: &[Buildpack],
        out: &mut Output,
    ) -> Result<(String, Procfile), BuildFailure> {
        let source_tar = source::retarget(&archive, "app")?;
        let scratch = self
            .settings
            .data_dir
            .join("tmp")
            .join(job.build_id.to_string());
        let env_dir = scratch.join("env");
        tokio::fs::create_dir_all(&env_dir).await?;
        for (key, value) in config {
            tokio::fs::write(env_dir.join(key), value).await?;
        }
        let cache = self.cache_dir(job.ticket.app_id);
        tokio::fs::create_dir_all(&cache).await?;
        for dir in [&cache, &env_dir, &scratch] {
            std::os::unix::fs::chown(dir, Some(docker::BUILD_USER), Some(docker::BUILD_USER))?;
        }
        let mut binds = vec![
            docker::bind(&docker::host_path(cache), CACHE_DIR, false),
            docker::bind(&docker::host_path(env_dir), ENV_DIR, true),
            docker::bind(
                &docker::host_path(self.settings.buildpacks_dir.clone()),
                BUILDPACKS_DIR,
                true,
            ),
        ];
        let chosen = match self.mount_buildpacks(list, &scratch, &mut binds, out).await {
            Ok(chosen) => chosen,
            Err(failure) => {
                let _ = tokio::fs::remove_dir_all(&scratch).await;
                return Err(failure);
            }
        };
        let mut env = vec![
            format!("PAAS_BUILDPACKS={}", chosen.join(" ")),
            format!(
                "PAAS_BUILDPACK_FORCED={}",
                if list.is_empty() { "" } else { "1" }
            ),
        ];
        let (build_image, runtime_env) = match self.build_image_for(job, &archive, list, out).await
        {
            Ok(image) => image,
            Err(failure) => {
                let _ = tokio::fs::remove_dir_all(&scratch).await;
                return Err(failure);
            }
        };
        env.extend(runtime_env);
        env.extend(BUILD_ENV.map(String::from));
        env.push(format!("SOURCE_VERSION={}", job.commit));
        if let Some(ca) = &self.settings.ca_bundle {
            binds.push(docker::bind(ca, CA_FILE, true));
            for var in CA_VARS {
                env.push(format!("{var}={CA_FILE}"));
            }
        }
        env.extend(
            self.settings
                .proxy_env
                .iter()
                .map(|(k, v)| format!("{k}={v}")),
        );

        let started = Instant::now();
        let mut script = ScriptState::new();
        let spec = docker::BuildContainer {
            instance: &self.settings.instance,
            app: job.ticket.app.as_str(),
            build_id: &job.build_id.to_string(),
            stack_image: &build_image,
            script: script::BUILD_SCRIPT,
            env,
            binds,
            limits: &self.settings.limits,
            source_tar,
        };
        // The container's log stream never waits on a slow pusher: lines queue here and
        // are handled (masked, sent, recorded) as they come.
        let (relay_tx, mut relay_rx) = mpsc::unbounded_channel::<String>();
        let run = self.docker.run_build_container(spec, move |line| {
            let _ = relay_tx.send(line);
        });
        tokio::pin!(run);
        let exit = loop {
            tokio::select! {
                biased;
                Some(line) = relay_rx.recv() => show(script.read(line), out).await,
                exit = &mut run => break exit,
            }
        };
        while let Ok(line) = relay_rx.try_recv() {
            show(script.read(line), out).await;
        }
        let _ = tokio::fs::remove_dir_all(&scratch).await;
        let exit = exit?;
        if exit.code != 0 {
            self.docker.remove_container(&exit.container_id).await;
            if exit.oom_killed {
                return Err(BuildFailure::OutOfMemory {
                    limit_mib: self.settings.limits.memory_bytes / (1024 * 1024),
                });
            }
            return Err(BuildFailure::Exit(exit.code));
        }
        out.line(header(&format!(
            "Compiled in {:.1}s",
            started.elapsed().as_secs_f64()
        )))
        .await;
        let image_started = Instant::now();
        let image = self
            .docker
            .commit(
                &exit.container_id,
                job.ticket.app.as_str(),
                &job.tag(),
                job.image_labels(),
            )
            .await?;
        out.line(header(&format!(
            "Image {} ({:.1}s)",
            &image[..image.len().min(19)],
            image_started.elapsed().as_secs_f64()
        )))
        .await;
        let defaults = match script
            .release_yaml()
            .map(release_yaml::default_process_types)
        {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Err(BuildFailure::ProcessTypes(e.message.into_owned())),
            None => Procfile::default(),
        };
        Ok((image, defaults))
    }
}

impl Builder {
    /// The build container's paths of the buildpacks to run: the bundled detection order
    /// for an empty list, else the list's, an app's own buildpacks fetched (git) or
    /// checked (a server path) and mounted at `/buildpacks-custom/<n>`.
    async fn mount_buildpacks(
        &self,
        list: &[Buildpack],
        scratch: &std::path::Path,
        binds: &mut Vec<String>,
        out: &mut Output,
    ) -> Result<Vec<String>, BuildFailure> {
        if list.is_empty() {
            return Ok(self
                .settings
                .buildpack_order
                .iter()
                .map(|b| format!("{BUILDPACKS_DIR}/{b}"))
                .collect());
        }
        let mut paths = Vec::with_capacity(list.len());
        for (n, buildpack) in list.iter().enumerate() {
            match buildpack {
                Buildpack::Bundled(lang) => {
                    paths.push(format!("{BUILDPACKS_DIR}/{}", lang.buildpack()));
                }
                Buildpack::Url(url) => {
                    let dir = self
                        .fetch_buildpack(url, &scratch.join(format!("buildpack-{n}")), out)
                        .await?;
                    let at = format!("{CUSTOM_BUILDPACKS}/{n}");
                    binds.push(docker::bind(&dir, &at, true));
                    paths.push(at);
                }
            }
        }
        Ok(paths)
    }
}

/// Tells the pusher what a line of the build script means.
async fn show(line: ScriptLine, out: &mut Output) {
    match line {
        ScriptLine::Output(line) => out.line(line).await,
        ScriptLine::Detected { name, took } => {
            out.line(header(&format!("{name} app detected ({took:.1}s)")))
                .await;
        }
        ScriptLine::NoBuildpack => {
            out.fail(
                "No buildpack detected this app: add a requirements.txt, package.json, index.html, Procfile or Dockerfile.",
            )
            .await;
        }
        ScriptLine::Quiet => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build container's settings for `scripts/buildpack-smoke.sh`, which sources
    /// `build-container.env` so that its containers are the builder's.
    fn smoke_settings() -> String {
        let limits = &paas_docker::Limits::BUILD_DEFAULT;
        let user = docker::BUILD_USER;
        [
            "# Generated by paas-builder's test the_smoke_test_sources_the_builders_settings from".to_owned(),
            "# crates/paas-builder/src/{buildpack,script}.rs and crates/paas-docker/src/build.rs;".to_owned(),
            "# do not edit: regenerate with PAAS_UPDATE_GENERATED=1 cargo nextest run -p paas-builder.".to_owned(),
            "# Sourced by scripts/buildpack-smoke.sh.".to_owned(),
            format!("BUILD_USER={user}:{user}"),
            format!("BUILD_CAP_DROP={}", docker::BUILD_CAP_DROP),
            format!("BUILD_SECURITY_OPT={}", docker::BUILD_SECURITY_OPT),
            format!("BUILD_WORKDIR={}", docker::BUILD_WORKDIR),
            format!("BUILD_MEMORY_BYTES={}", limits.memory_bytes),
            format!("BUILD_CPUS={}", limits.nano_cpus as f64 / 1e9),
            format!("BUILD_PIDS={}", limits.pids),
            format!("BUILD_CACHE_DIR={CACHE_DIR}"),
            format!("BUILD_ENV_DIR={ENV_DIR}"),
            format!("BUILD_BUILDPACKS_DIR={BUILDPACKS_DIR}"),
            format!("BUILD_CA_FILE={CA_FILE}"),
            format!("BUILD_CA_VARS=\"{}\"", CA_VARS.join(" ")),
            format!("BUILD_ENV=\"{}\"", BUILD_ENV.join(" ")),
            format!("BUILD_MARKER_NO_BUILDPACK=\"{}\"", script::NO_BUILDPACK),
            format!("BUILD_MARKER_DETECTED=\"{}\"", script::DETECTED),
            format!("BUILD_MARKER_COMPILED=\"{}\"", script::COMPILED),
            format!("BUILD_MARKER_RELEASE_BEGIN=\"{}\"", script::RELEASE_BEGIN),
            format!("BUILD_MARKER_RELEASE_END=\"{}\"", script::RELEASE_END),
        ]
        .map(|line| line + "\n")
        .concat()
    }

    #[test]
    fn the_smoke_test_sources_the_builders_settings() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/build-container.env");
        let want = smoke_settings();
        if std::env::var_os("PAAS_UPDATE_GENERATED").is_some() {
            std::fs::write(path, &want).expect("write build-container.env");
        }
        let have = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            have == want,
            "{path} is stale: regenerate it with PAAS_UPDATE_GENERATED=1 cargo nextest run -p paas-builder"
        );
        let smoke = include_str!("../../../scripts/buildpack-smoke.sh");
        assert!(smoke.contains("crates/paas-builder/src/build-container.env"));
    }
}
