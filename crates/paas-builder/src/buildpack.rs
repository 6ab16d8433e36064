//! Buildpack builds: detect → compile → release in a capped container of the stack
//! image, driven by a small script whose marker lines the builder interprets.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use paas_core::Procfile;
use paas_docker::build as docker;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::custom_buildpack::CUSTOM_BUILDPACK;
use crate::output::{Output, header};
use crate::{BuildError, Builder, PushTicket, release_yaml, source};

const BUILD_SCRIPT: &str = r#"set -e
detected=""
if [ -n "$PAAS_BUILDPACK_FORCED" ]; then
  # An app's own buildpack is used whatever its detect says; detect only names it.
  detected="$PAAS_BUILDPACKS"
  name=$("$detected/bin/detect" /app 2>/dev/null) || name="Custom buildpack"
else
  for bp in $PAAS_BUILDPACKS; do
    if name=$("$bp/bin/detect" /app 2>/dev/null); then detected="$bp"; break; fi
  done
fi
if [ -z "$detected" ]; then
  echo "::paas-no-buildpack::"
  exit 1
fi
echo "::paas-detected:: ${name:-$(basename "$detected")}"
"$detected/bin/compile" /app /cache /env
echo "::paas-compiled::"
echo "::paas-release-begin::"
if [ -x "$detected/bin/release" ]; then "$detected/bin/release" /app; fi
echo "::paas-release-end::"
"#;

impl Builder {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn buildpack_build(
        &self,
        ticket: &PushTicket,
        build_id: Uuid,
        tag: &str,
        archive: Vec<u8>,
        config: &BTreeMap<String, String>,
        custom: Option<&str>,
        labels: HashMap<String, String>,
        out: &mut Output,
    ) -> Result<Result<(String, Procfile), String>, BuildError> {
        let source_tar = source::retarget(&archive, "app")?;
        let scratch = self
            .settings
            .data_dir
            .join("tmp")
            .join(build_id.to_string());
        let env_dir = scratch.join("env");
        tokio::fs::create_dir_all(&env_dir).await?;
        for (key, value) in config {
            tokio::fs::write(env_dir.join(key), value).await?;
        }
        let cache = self.cache_dir(ticket.app_id);
        tokio::fs::create_dir_all(&cache).await?;
        for dir in [&cache, &env_dir, &scratch] {
            std::os::unix::fs::chown(dir, Some(docker::BUILD_USER), Some(docker::BUILD_USER))?;
        }
        let mut binds = vec![
            docker::bind(&docker::host_path(cache), "/cache", false),
            docker::bind(&docker::host_path(env_dir), "/env", true),
            docker::bind(
                &docker::host_path(self.settings.buildpacks_dir.clone()),
                "/buildpacks",
                true,
            ),
        ];
        let mut env = match custom {
            Some(url) => match self.fetch_buildpack(url, &scratch, out).await? {
                Ok(dir) => {
                    binds.push(docker::bind(&dir, CUSTOM_BUILDPACK, true));
                    vec![
                        format!("PAAS_BUILDPACKS={CUSTOM_BUILDPACK}"),
                        "PAAS_BUILDPACK_FORCED=1".to_owned(),
                    ]
                }
                Err(reason) => {
                    let _ = tokio::fs::remove_dir_all(&scratch).await;
                    return Ok(Err(reason));
                }
            },
            None => {
                let order: Vec<String> = self
                    .settings
                    .buildpack_order
                    .iter()
                    .map(|b| format!("/buildpacks/{b}"))
                    .collect();
                vec![
                    format!("PAAS_BUILDPACKS={}", order.join(" ")),
                    "PAAS_BUILDPACK_FORCED=".to_owned(),
                ]
            }
        };
        env.extend([
            "HOME=/app".to_owned(),
            "STACK=paas-stack".to_owned(),
            "SOURCE_VERSION=".to_owned()
                + labels
                    .get("paas.commit")
                    .map(String::as_str)
                    .unwrap_or_default(),
        ]);
        if let Some(ca) = &self.settings.ca_bundle {
            const CA: &str = "/etc/ssl/certs/ca-certificates.crt";
            binds.push(docker::bind(ca, CA, true));
            for var in [
                "SSL_CERT_FILE",
                "PIP_CERT",
                "REQUESTS_CA_BUNDLE",
                "NODE_EXTRA_CA_CERTS",
                "CURL_CA_BUNDLE",
            ] {
                env.push(format!("{var}={CA}"));
            }
        }
        env.extend(
            self.settings
                .proxy_env
                .iter()
                .map(|(k, v)| format!("{k}={v}")),
        );

        let started = Instant::now();
        let mut script = ScriptState {
            in_release: false,
            release_yaml: None,
            phase_started: Instant::now(),
        };
        let spec = docker::BuildContainer {
            app: ticket.app.as_str(),
            build_id: &build_id.to_string(),
            stack_image: &self.settings.stack_image,
            script: BUILD_SCRIPT,
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
                Some(line) = relay_rx.recv() => self.handle_build_line(line, &mut script, out).await,
                exit = &mut run => break exit,
            }
        };
        while let Ok(line) = relay_rx.try_recv() {
            self.handle_build_line(line, &mut script, out).await;
        }
        let _ = tokio::fs::remove_dir_all(&scratch).await;
        let exit = exit?;
        if exit.code != 0 {
            self.docker.remove_container(&exit.container_id).await;
            if exit.oom_killed {
                return Ok(Err(format!(
                    "The build ran out of memory (limit {} MiB): raise PAAS_BUILD_MEMORY or slim the build.",
                    self.settings.limits.memory_bytes / (1024 * 1024)
                )));
            }
            return Ok(Err(format!("The build exited with status {}.", exit.code)));
        }
        out.line(header(&format!(
            "Compiled in {:.1}s",
            started.elapsed().as_secs_f64()
        )))
        .await;
        let image_started = Instant::now();
        let image = self
            .docker
            .commit(&exit.container_id, ticket.app.as_str(), tag, labels)
            .await?;
        out.line(header(&format!(
            "Image {} ({:.1}s)",
            &image[..image.len().min(19)],
            image_started.elapsed().as_secs_f64()
        )))
        .await;
        let defaults = match script
            .release_yaml
            .as_deref()
            .map(release_yaml::default_process_types)
        {
            Some(Ok(p)) => p,
            Some(Err(e)) => return Ok(Err(e.message.into_owned())),
            None => Procfile::default(),
        };
        Ok(Ok((image, defaults)))
    }

    /// Interprets the build script's marker lines; everything else is buildpack output.
    async fn handle_build_line(&self, line: String, script: &mut ScriptState, out: &mut Output) {
        if script.in_release {
            if line == "::paas-release-end::" {
                script.in_release = false;
            } else {
                let yaml = script.release_yaml.get_or_insert_with(String::new);
                yaml.push_str(&line);
                yaml.push('\n');
            }
            return;
        }
        if let Some(name) = line.strip_prefix("::paas-detected:: ") {
            let took = script.phase_started.elapsed().as_secs_f64();
            out.line(header(&format!("{name} app detected ({took:.1}s)")))
                .await;
            script.phase_started = Instant::now();
        } else if line == "::paas-no-buildpack::" {
            out.fail(
                "No buildpack detected this app: add a requirements.txt, package.json, index.html, Procfile or Dockerfile.",
            )
            .await;
        } else if line == "::paas-compiled::" {
            script.phase_started = Instant::now();
        } else if line == "::paas-release-begin::" {
            script.in_release = true;
        } else {
            out.line(line).await;
        }
    }
}

/// Where the build script is: inside `bin/release`'s YAML or not, and since when the
/// current phase runs.
struct ScriptState {
    in_release: bool,
    release_yaml: Option<String>,
    phase_started: Instant,
}
