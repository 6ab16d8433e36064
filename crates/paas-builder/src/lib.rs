//! The builder: a pushed commit becomes an image, a build record and a release.
//!
//! [`Builder::build_push`] is called by the git hook callback (see [`git`]) while git
//! holds the pushed objects in quarantine. It checks the refs (one branch, `main` or
//! `master`, a commit), takes the app's build lock (one build per app at a time), records a
//! `pending` build, runs a buildpack or Dockerfile build in a capped container, and on
//! success records the image id and process types and appends the "Deploy abc1234"
//! release. Output streams to the pusher line by line, secrets masked, each phase timed.
//! A failed build is recorded as failed, makes no release, and rejects the push.

pub mod git;
mod output;
pub mod push;
mod release_yaml;
pub mod runtime_image;
mod source;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_core::{AppName, Procfile};
use paas_store::{NewBuild, ReleaseStatus, Store, StoreError};
use tokio::sync::mpsc;
use uuid::Uuid;

pub use git::{GitRepos, ObjectDirs};
pub use output::Masker;
use paas_docker::build as docker;
pub use paas_docker::{Docker, Limits};
pub use push::{PushGuard, PushTicket, Pushes};

use output::{detail, header};

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("git: {0}")]
    Git(String),
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Docker(#[from] paas_docker::DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the builder needs to know about this installation.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    /// `$PAAS_DATA_DIR`: repositories, caches and per-build scratch live below it.
    pub data_dir: PathBuf,
    /// The bundled buildpacks (`buildpacks/` of this repository).
    pub buildpacks_dir: PathBuf,
    /// Detection order of the bundled buildpacks.
    pub buildpack_order: Vec<String>,
    pub stack_image: String,
    /// A CA bundle to mount into build containers (proxies that intercept TLS).
    pub ca_bundle: Option<PathBuf>,
    /// `HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` … passed to builds.
    pub proxy_env: Vec<(String, String)>,
    pub limits: Limits,
    /// `http://<app>.<domain>:<port>/` is printed at the end of a push.
    pub domain: String,
    pub router_port: u16,
    /// The installation's container label and dyno memory, for the release phase.
    pub instance: String,
    pub dyno_memory_bytes: i64,
}

/// The outcome of a push, as the hook needs it.
/// What a push asks to update, as the pre-receive hook hears it.
#[derive(Debug)]
struct PushedRef {
    /// Where the pusher thinks the ref is (all zeros: absent).
    old: String,
    commit: String,
    name: String,
}

/// How long a push waits for its web dynos (the supervisor's own limit is 60 s).
const ROLLOUT_WAIT: Duration = Duration::from_secs(100);

#[derive(Debug)]
pub enum PushOutcome {
    Released { version: i32 },
    Rejected,
}

#[derive(Debug)]
pub struct Builder {
    store: Store,
    docker: Docker,
    repos: GitRepos,
    settings: BuildSettings,
    pushes: Pushes,
    locks: Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>,
    /// Builds and deploys are platform events in the app's log stream.
    logs: Arc<dyn paas_core::logline::LogSink>,
}

/// Output lines go to the pusher (if still connected) and into the build record.
struct Output {
    tx: mpsc::Sender<String>,
    masker: Masker,
    log: String,
}

impl Output {
    async fn line(&mut self, line: impl AsRef<str>) {
        let line = self.masker.mask(line.as_ref());
        self.log.push_str(&line);
        self.log.push('\n');
        // A pusher that went away does not stop the build's bookkeeping.
        let _ = self.tx.send(line).await;
    }

    async fn fail(&mut self, reason: &str) {
        self.line(format!(" !     {reason}")).await;
    }
}

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
    pub fn new(store: Store, docker: Docker, settings: BuildSettings) -> Self {
        let repos = GitRepos::new(settings.data_dir.join("repos"));
        Self {
            store,
            docker,
            repos,
            settings,
            pushes: Pushes::default(),
            locks: Mutex::default(),
            logs: Arc::new(paas_core::logline::Discard),
        }
    }

    /// Platform events (`app[api]: Build started`) go to these streams.
    pub fn with_logs(mut self, logs: Arc<dyn paas_core::logline::LogSink>) -> Self {
        self.logs = logs;
        self
    }

    pub fn repos(&self) -> &GitRepos {
        &self.repos
    }

    pub fn pushes(&self) -> &Pushes {
        &self.pushes
    }

    pub fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Forgets an app's dynos, repository, cache and images (`apps:destroy`). The dynos go
    /// first: an image a container still uses cannot be removed.
    pub async fn forget_app(&self, app: &AppName, app_id: Uuid) -> Result<(), BuildError> {
        self.docker
            .remove_app_containers(&self.settings.instance, app.as_str())
            .await?;
        self.repos.remove(app).await?;
        let cache = self.cache_dir(app_id);
        if cache.exists() {
            tokio::fs::remove_dir_all(cache).await?;
        }
        Ok(self.docker.remove_app_images(app.as_str()).await?)
    }

    fn cache_dir(&self, app_id: Uuid) -> PathBuf {
        self.settings
            .data_dir
            .join("cache")
            .join(app_id.to_string())
    }

    fn lock_for(&self, app_id: Uuid) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
        locks.entry(app_id).or_default().clone()
    }

    /// Builds and releases what a push brings, streaming output to `tx`. `refs` is what
    /// git gives the pre-receive hook: `<old> <new> <ref>` lines.
    pub async fn build_push(
        &self,
        ticket: &PushTicket,
        refs: &str,
        object_dirs: &ObjectDirs,
        tx: mpsc::Sender<String>,
    ) -> Result<PushOutcome, BuildError> {
        let config = self.store.config_vars(ticket.app_id).await?;
        let mut out = Output {
            tx,
            masker: Masker::new(config.as_map()),
            log: String::new(),
        };
        let pushed = match self.check_refs(ticket, refs, object_dirs).await? {
            Ok(pushed) => pushed,
            Err(reason) => {
                out.fail(&reason).await;
                return Ok(PushOutcome::Rejected);
            }
        };
        let lock = self.lock_for(ticket.app_id);
        let guard = match lock.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                out.line(header(&format!(
                    "Waiting for the build already running for {}...",
                    ticket.app
                )))
                .await;
                lock.lock_owned().await
            }
        };
        // Released when git is done with this push, not when its build is: until then
        // the branch has not moved, and the next push must see where it ends up.
        self.pushes.hold(ticket.id, guard);
        // The other push may have moved the branch meanwhile; git would then refuse this
        // one's ref update after its build and release, so refuse it before.
        let now = self.repos.ref_target(&ticket.app, &pushed.name).await?;
        let expected = (!pushed.old.bytes().all(|b| b == b'0')).then_some(pushed.old.as_str());
        if now.as_deref() != expected {
            out.fail(&format!(
                "{} moved while this push waited (it is now at {}): fetch and merge, or push --force, then push again.",
                pushed.name,
                now.as_deref().map_or("nothing", |c| &c[..7.min(c.len())])
            ))
            .await;
            return Ok(PushOutcome::Rejected);
        }
        let commit = pushed.commit;
        let started = Instant::now();
        let build = self
            .store
            .create_build(
                ticket.app_id,
                NewBuild {
                    source_version: &commit,
                    buildpacks: &[],
                },
            )
            .await?;
        tracing::info!(app = %ticket.app, build_id = %build.build_id, commit = %commit, "build started");
        self.logs
            .api_event(ticket.app.as_str(), "Build started".to_owned());
        out.line(header(&format!(
            "Building {} (commit {})",
            ticket.app,
            &commit[..7]
        )))
        .await;

        let result = self
            .run_build(
                ticket,
                &commit,
                build.build_id,
                object_dirs,
                config.as_map(),
                &mut out,
            )
            .await;
        match result {
            Ok(Ok((image, procfile))) => {
                let launch = Instant::now();
                self.logs
                    .api_event(ticket.app.as_str(), "Build succeeded".to_owned());
                out.line(header("Launching...")).await;
                let log = out.log.clone();
                self.store
                    .finish_build(build.build_id, Ok((&image, &procfile)), &log)
                    .await?;
                let release = match procfile.release_command() {
                    None => {
                        self.store
                            .create_deploy_release(
                                ticket.app_id,
                                build.build_id,
                                ReleaseStatus::Succeeded,
                            )
                            .await?
                    }
                    Some(command) => {
                        let pending = self
                            .store
                            .create_deploy_release(
                                ticket.app_id,
                                build.build_id,
                                ReleaseStatus::Pending,
                            )
                            .await?;
                        let code = self
                            .release_phase(ticket, &pending, &image, command, &mut out)
                            .await?;
                        if code != 0 {
                            let reason = format!("The release command exited with status {code}");
                            self.store
                                .finish_release(
                                    pending.release_id,
                                    ReleaseStatus::Failed,
                                    Some(&reason),
                                )
                                .await?;
                            out.fail(&format!(
                                "{reason}: v{} is marked failed and nothing moved.",
                                pending.version
                            ))
                            .await;
                            out.fail("Push rejected: the release phase failed; the current release keeps running.")
                                .await;
                            tracing::info!(app = %ticket.app, release = %format!("v{}", pending.version), code, "release phase failed");
                            self.logs.api_event(
                                ticket.app.as_str(),
                                format!(
                                    "Release v{} failed: {reason}; deploy failed",
                                    pending.version
                                ),
                            );
                            return Ok(PushOutcome::Rejected);
                        }
                        self.store
                            .finish_release(pending.release_id, ReleaseStatus::Succeeded, None)
                            .await?
                    }
                };
                out.line(detail(&format!(
                    "Released v{} ({:.1}s)",
                    release.version,
                    launch.elapsed().as_secs_f64()
                )))
                .await;
                let port = match self.settings.router_port {
                    80 => String::new(),
                    p => format!(":{p}"),
                };
                out.line(detail(&format!(
                    "http://{}.{}{port}/ deployed to paas",
                    ticket.app, self.settings.domain
                )))
                .await;
                out.line(detail(&format!(
                    "Build and release took {:.1}s",
                    started.elapsed().as_secs_f64()
                )))
                .await;
                tracing::info!(app = %ticket.app, build_id = %build.build_id, release = %format!("v{}", release.version), "build released");
                self.logs.api_event(
                    ticket.app.as_str(),
                    format!(
                        "Deploy {} (release v{} created)",
                        &commit[..7],
                        release.version
                    ),
                );
                Ok(PushOutcome::Released {
                    version: release.version,
                })
            }
            Ok(Err(reason)) => {
                out.fail(&reason).await;
                out.fail("Push rejected: the build failed; the current release keeps running.")
                    .await;
                self.store
                    .finish_build(build.build_id, Err(()), &out.log)
                    .await?;
                tracing::info!(app = %ticket.app, build_id = %build.build_id, reason = %reason, "build failed");
                self.logs
                    .api_event(ticket.app.as_str(), format!("Build failed: {reason}"));
                Ok(PushOutcome::Rejected)
            }
            Err(e) => {
                out.fail("Push rejected: the platform could not run the build (see paasd's logs).")
                    .await;
                let _ = self
                    .store
                    .finish_build(build.build_id, Err(()), &out.log)
                    .await;
                tracing::error!(app = %ticket.app, build_id = %build.build_id, error = %e, "build errored");
                Err(e)
            }
        }
    }

    /// After a push's release: waits until its web dynos are up, or the supervisor marks
    /// the release failed (its web dynos never listened), and says which in the push
    /// output. `false` when the rollout failed: the push is then rejected, as the
    /// previous release is current again and keeps serving.
    pub async fn await_rollout(
        &self,
        ticket: &PushTicket,
        version: i32,
        tx: &mpsc::Sender<String>,
    ) -> Result<bool, BuildError> {
        let started = Instant::now();
        let mut announced = false;
        loop {
            let release = self
                .store
                .release(
                    ticket.app_id,
                    &paas_core::ReleaseRef::Version(
                        paas_core::ReleaseVersion::new(version).map_err(StoreError::from)?,
                    ),
                )
                .await?;
            if release.status == "failed" {
                let reason = release.status_reason.unwrap_or_default();
                let _ = tx
                    .send(format!(" !     v{version} failed to start: {reason}"))
                    .await;
                let _ = tx
                    .send(" !     Push rejected: the previous release is current again and keeps serving (see `paas logs` and `paas releases`).".to_owned())
                    .await;
                return Ok(false);
            }
            let wanted = self
                .store
                .formation(ticket.app_id)
                .await?
                .iter()
                .find(|f| f.process_type == "web")
                .map_or(0, |f| f.quantity);
            let dynos = self.store.dynos(ticket.app_id).await?;
            let up = dynos
                .iter()
                .filter(|d| {
                    d.process_type == "web" && d.version == Some(version) && d.state == "up"
                })
                .count();
            if let Some(crashed) = dynos.iter().find(|d| {
                d.process_type == "web" && d.version == Some(version) && d.state == "crashed"
            }) {
                // Nothing older serves (else the supervisor would fail the rollout): the
                // release stays, like on Heroku, and the crash back-off keeps trying.
                let _ = tx
                    .send(format!(
                        " !     {} of v{version} crashed (exit status {}); it will be restarted. See `paas logs -d {}`.",
                        crashed.name,
                        crashed.exit_code.unwrap_or(-1),
                        crashed.name
                    ))
                    .await;
                return Ok(true);
            }
            let superseded = dynos.iter().any(|d| d.version.is_some_and(|v| v > version));
            if wanted == 0 || superseded || up >= usize::try_from(wanted).unwrap_or(0) {
                if announced || wanted > 0 {
                    let _ = tx
                        .send(detail(&format!(
                            "{up} of {wanted} web dynos of v{version} up ({:.1}s)",
                            started.elapsed().as_secs_f64()
                        )))
                        .await;
                }
                return Ok(true);
            }
            if !announced {
                announced = true;
                let _ = tx
                    .send(header(&format!(
                        "Waiting for the web dynos of v{version} to accept connections..."
                    )))
                    .await;
            }
            if started.elapsed() > ROLLOUT_WAIT {
                let _ = tx
                    .send(detail(&format!(
                        "still starting after {}s; `paas ps` shows how it goes",
                        ROLLOUT_WAIT.as_secs()
                    )))
                    .await;
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The pushed commit, or why the push is refused.
    async fn check_refs(
        &self,
        ticket: &PushTicket,
        refs: &str,
        object_dirs: &ObjectDirs,
    ) -> Result<Result<PushedRef, String>, BuildError> {
        let lines: Vec<&str> = refs.lines().filter(|l| !l.trim().is_empty()).collect();
        let [line] = lines.as_slice() else {
            return Ok(Err("Push one branch at a time: git push paas main".into()));
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [old, new, name] = fields.as_slice() else {
            return Ok(Err("paas could not read the pushed refs.".into()));
        };
        if !matches!(*name, "refs/heads/main" | "refs/heads/master") {
            return Ok(Err(format!(
                "Pushing to {name} is not allowed: push to main or master (git push paas HEAD:main)."
            )));
        }
        if new.bytes().all(|b| b == b'0') {
            return Ok(Err(format!("Deleting {name} is not allowed.")));
        }
        if !new.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Err("paas could not read the pushed refs.".into()));
        }
        match self
            .repos
            .object_type(&ticket.app, new, object_dirs)
            .await?
            .as_deref()
        {
            Some("commit") => Ok(Ok(PushedRef {
                old: (*old).to_owned(),
                commit: (*new).to_owned(),
                name: (*name).to_owned(),
            })),
            Some(other) => Ok(Err(format!(
                "{name} must point at a commit, not a {other}."
            ))),
            None => Ok(Err("The pushed commit was not received.".into())),
        }
    }

    /// The build proper: `Ok(Err(reason))` is the user's build failing, `Err` the
    /// platform failing.
    async fn run_build(
        &self,
        ticket: &PushTicket,
        commit: &str,
        build_id: Uuid,
        object_dirs: &ObjectDirs,
        config: &BTreeMap<String, String>,
        out: &mut Output,
    ) -> Result<Result<(String, Procfile), String>, BuildError> {
        let procfile = if self
            .repos
            .has_file(&ticket.app, commit, "Procfile", object_dirs)
            .await?
        {
            let text = self
                .repos
                .show(&ticket.app, commit, "Procfile", object_dirs)
                .await?;
            match Procfile::parse(&text) {
                Ok(p) => Some(p),
                Err(e) => return Ok(Err(e.message.into_owned())),
            }
        } else {
            None
        };
        let archive = self.repos.archive(&ticket.app, commit, object_dirs).await?;
        let tag = build_id.simple().to_string()[..12].to_owned();
        let labels = HashMap::from([
            ("paas.app_name".to_owned(), ticket.app.to_string()),
            ("paas.build".to_owned(), build_id.to_string()),
            ("paas.commit".to_owned(), commit.to_owned()),
        ]);
        // An app's own buildpack overrides a Dockerfile.
        let custom = config.get(BUILDPACK_URL).cloned();
        let dockerfile = custom.is_none()
            && self
                .repos
                .has_file(&ticket.app, commit, "Dockerfile", object_dirs)
                .await?;
        let (image, defaults) = if dockerfile {
            out.line(header("Dockerfile detected")).await;
            let started = Instant::now();
            let mut lines = Vec::new();
            let built = self
                .docker
                .build_dockerfile(
                    ticket.app.as_str(),
                    &tag,
                    archive,
                    &self.settings.limits,
                    labels,
                    |l| lines.push(l),
                )
                .await?;
            for line in lines {
                out.line(detail(&line)).await;
            }
            let image = match built {
                Ok(image) => image,
                Err(reason) => return Ok(Err(format!("Docker build failed: {reason}"))),
            };
            out.line(header(&format!(
                "Image built in {:.1}s",
                started.elapsed().as_secs_f64()
            )))
            .await;
            let mut defaults = BTreeMap::new();
            if let Some(command) = self.docker.image_command(&image).await? {
                defaults.insert(paas_core::ProcessType::web(), command);
            }
            (image, Procfile::from_entries(defaults))
        } else {
            match self
                .buildpack_build(
                    ticket,
                    build_id,
                    &tag,
                    archive,
                    config,
                    custom.as_deref(),
                    labels,
                    out,
                )
                .await?
            {
                Ok(built) => built,
                Err(reason) => return Ok(Err(reason)),
            }
        };
        let procfile = procfile.unwrap_or(defaults);
        if procfile.processes().next().is_none() {
            out.line(header(
                "No process types: add a Procfile (web: <command>) to run this app",
            ))
            .await;
        } else {
            let types: Vec<&str> = procfile.processes().map(|(k, _)| k.as_str()).collect();
            out.line(header(&format!(
                "Discovering process types: {}",
                types.join(", ")
            )))
            .await;
        }
        Ok(Ok((image, procfile)))
    }

    #[allow(clippy::too_many_arguments)]
    async fn buildpack_build(
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
        let (build_image, runtime_env) = match self
            .build_image_for(&archive, custom.is_some(), out)
            .await?
        {
            Ok(chosen) => chosen,
            Err(reason) => {
                let _ = tokio::fs::remove_dir_all(&scratch).await;
                return Ok(Err(reason));
            }
        };
        env.extend(runtime_env);
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
            stack_image: &build_image,
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

    /// Runs the Procfile's `release:` command as a one-off dyno of the pending release,
    /// streaming its output to the pusher; returns its exit status.
    async fn release_phase(
        &self,
        ticket: &PushTicket,
        release: &paas_store::Release,
        image: &str,
        command: &str,
        out: &mut Output,
    ) -> Result<i64, BuildError> {
        out.line(header(&format!("Running release command: {command}")))
            .await;
        let started = Instant::now();
        let name = format!("release.{}", release.version);
        let mut env: Vec<String> = release
            .config
            .0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("DYNO={name}"));
        let spec = paas_docker::OneOffSpec {
            instance: self.settings.instance.clone(),
            app_name: ticket.app.to_string(),
            release_id: release.release_id.to_string(),
            version: release.version,
            name,
            image: image.to_owned(),
            command: command.to_owned(),
            env,
            memory_bytes: self.settings.dyno_memory_bytes,
            pids: 512,
            // Started at once, with no input: the builder follows its output below.
            detached: true,
            tty: false,
        };
        let id = self.docker.run_one_off(&spec).await?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let follow = self.docker.follow_and_reap(&id, move |line| {
            let _ = tx.send(line);
        });
        tokio::pin!(follow);
        let code = loop {
            tokio::select! {
                biased;
                Some(line) = rx.recv() => out.line(detail(&line)).await,
                code = &mut follow => break code?,
            }
        };
        while let Ok(line) = rx.try_recv() {
            out.line(detail(&line)).await;
        }
        out.line(header(&format!(
            "Release command done ({:.1}s)",
            started.elapsed().as_secs_f64()
        )))
        .await;
        Ok(code)
    }

    /// The directory of an app's own buildpack: an absolute path on this server, or a
    /// git URL (`#ref` picks a branch or tag) cloned for this build.
    async fn fetch_buildpack(
        &self,
        url: &str,
        scratch: &std::path::Path,
        out: &mut Output,
    ) -> Result<Result<PathBuf, String>, BuildError> {
        if url.starts_with('/') {
            let dir = PathBuf::from(url);
            if !dir.join("bin/compile").is_file() {
                return Ok(Err(format!(
                    "BUILDPACK_URL {url} is not a buildpack: it has no bin/compile."
                )));
            }
            out.line(header(&format!("Using buildpack {url}"))).await;
            return Ok(Ok(dir));
        }
        let is_git = ["https://", "http://", "git://", "ssh://", "git@", "file://"]
            .iter()
            .any(|p| url.starts_with(p));
        if !is_git {
            return Ok(Err(format!(
                "BUILDPACK_URL {url:?} is neither a git URL nor an absolute path on the paas server."
            )));
        }
        let (repo, reference) = url
            .split_once('#')
            .map_or((url, None), |(r, f)| (r, Some(f)));
        out.line(header(&format!("Fetching buildpack {repo}")))
            .await;
        let dir = scratch.join("buildpack");
        let mut command = tokio::process::Command::new("git");
        command.args(["clone", "--quiet", "--depth", "1"]);
        if let Some(reference) = reference {
            command.args(["--branch", reference]);
        }
        let output = command
            .arg(repo)
            .arg(&dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .await?;
        if !output.status.success() {
            let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Ok(Err(format!(
                "Could not fetch the buildpack {repo}: {reason}"
            )));
        }
        if !dir.join("bin/compile").is_file() {
            return Ok(Err(format!(
                "{repo} is not a buildpack: it has no bin/compile."
            )));
        }
        Ok(Ok(dir))
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

/// The config var that names an app's own buildpack (as on Heroku and Dokku).
pub const BUILDPACK_URL: &str = "BUILDPACK_URL";
const CUSTOM_BUILDPACK: &str = "/buildpacks-custom";

/// Where the build script is: inside `bin/release`'s YAML or not, and since when the
/// current phase runs.
struct ScriptState {
    in_release: bool,
    release_yaml: Option<String>,
    phase_started: Instant,
}
