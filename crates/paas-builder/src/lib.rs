//! The builder: a pushed commit becomes an image, a build record and a release.
//!
//! [`Builder::build_push`] is called by the git hook callback (see [`git`]) while git
//! holds the pushed objects in quarantine. It checks the refs (one branch, `main` or
//! `master`, a commit), takes the app's build lock (one build per app at a time), records a
//! `pending` build, runs a buildpack or Dockerfile build in a capped container, and on
//! success records the image id and process types and appends the "Deploy abc1234"
//! release. Output streams to the pusher line by line, secrets masked, each phase timed.
//! A failed build is recorded as failed, makes no release, and rejects the push.

mod buildpack;
mod custom_buildpack;
mod deploy;
mod dockerfile;
mod failure;
pub mod git;
mod output;
pub mod push;
mod refs;
mod release_phase;
mod release_yaml;
mod rollout;
pub mod runtime_image;
mod script;
mod source;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use paas_core::AppName;
use paas_store::{Store, StoreError};
use uuid::Uuid;

pub use custom_buildpack::BUILDPACK_URL;
pub use git::{GitRepos, ObjectDirs};
pub use output::Masker;
pub use paas_docker::{Docker, Limits};
pub use push::{PushGuard, PushTicket, Pushes};

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
    /// The app's URL (`https://<app>.<domain>:<port>/`) is printed at the end of a push.
    pub web_url: paas_core::routes::WebUrl,
    /// The installation's container label (build containers and the release phase carry
    /// it) and dyno limits, for the release phase.
    pub instance: String,
    pub dyno_limits: paas_core::runtime::DynoLimits,
}

/// The outcome of a push, as the hook needs it.
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

    /// Removes the build containers (running or exited) that a paasd killed during a
    /// build left behind, and returns how many. Called at start, before pushes are taken.
    pub async fn remove_leftover_build_containers(&self) -> Result<usize, BuildError> {
        Ok(self
            .docker
            .remove_build_containers(&self.settings.instance)
            .await?)
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
}

#[cfg(test)]
mod tests {
    /// Docker labels are paas-docker's to spell (one schema, one owner): the builder asks it
    /// for them instead of writing its own.
    #[test]
    fn the_builder_writes_no_docker_label_of_its_own() {
        let needle = ["\"paas", "."].concat();
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        for entry in std::fs::read_dir(src).expect("src") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).expect("read");
                assert!(
                    !text.contains(&needle),
                    "{} spells out a paas.* label",
                    path.display()
                );
            }
        }
    }
}
