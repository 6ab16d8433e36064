//! Add-ons: Postgres and Redis as attached resources (twelve-factor IV).
//!
//! The store is the record (`addon`, `addon_attachment`); the rules are pure in
//! `paas_core::addons`; this crate is the IO around them: the service images
//! ([`image`]), how each service runs ([`service`]), the supervisor that keeps each
//! add-on's container running on its attached apps' networks ([`supervise`]), and the
//! operations the API calls ([`Addons`]).

pub mod backup;
pub mod console;
pub mod credentials;
pub mod image;
pub mod info;
pub mod schedule;
pub mod service;
pub mod supervise;

use std::sync::Arc;

use paas_core::addons::{AddonName, AttachmentName, Credentials, Plan, Service};
use paas_core::runtime::{DynoLimits, Nudge};
use paas_docker::{Docker, DockerError, Limits};
use paas_store::{Addon, Attachment, NewAddon, Release, Store, StoreError};
use rand::RngCore;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum AddonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Docker(#[from] DockerError),
    /// A service image could not be made.
    #[error("add-on image: {0}")]
    Image(String),
    /// A backup or `pg:info` cannot be done (not Postgres, not running, not verified).
    #[error("{0}")]
    Backup(String),
}

/// What the add-on machinery needs from paasd's settings.
#[derive(Debug, Clone)]
pub struct AddonSettings {
    /// The installation's label (`PAAS_INSTANCE`).
    pub instance: String,
    /// Service images are made on it.
    pub stack_image: String,
    /// Limits of the image builds.
    pub build_limits: Limits,
    /// Add-on output is kept on disk bounded like a dyno's.
    pub log: DynoLimits,
    /// Where backups are kept (`PAAS_BACKUP_DIR`).
    pub backup_dir: std::path::PathBuf,
}

/// A cheap-to-clone handle: the API's operations on add-ons, and the supervisor's state.
#[derive(Debug, Clone)]
pub struct Addons {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    docker: Docker,
    settings: AddonSettings,
    /// Tells the dyno supervisor an app's config changed (attach, detach).
    nudge: Arc<dyn Nudge>,
    /// Wakes the add-on supervisor.
    wake: tokio::sync::Notify,
}

impl Addons {
    pub fn new(
        store: Store,
        docker: Docker,
        settings: AddonSettings,
        nudge: Arc<dyn Nudge>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                store,
                docker,
                settings,
                nudge,
                wake: tokio::sync::Notify::new(),
            }),
        }
    }

    /// Stores a new add-on for `app_id` (`provisioning`) and wakes the supervisor, which
    /// makes its container and, once it answers, sets its URL as a release.
    pub async fn create(
        &self,
        app_id: Uuid,
        service: Service,
        plan: &'static Plan,
        attachment: Option<AttachmentName>,
    ) -> Result<(Addon, Attachment), AddonError> {
        let attachment = attachment.unwrap_or_else(|| service.default_attachment());
        let mut last = None;
        // A generated name can be taken: try a few.
        for _ in 0..5 {
            let mut entropy = [0u8; 32];
            rand::rng().fill_bytes(&mut entropy);
            let new = NewAddon {
                name: AddonName::generate(service, rand::rng().next_u64()),
                service,
                plan,
                app_id,
                credentials: Credentials::from_entropy(entropy),
                attachment: attachment.clone(),
            };
            match self.inner.store.create_addon(&new).await {
                Ok(created) => {
                    self.inner.wake.notify_one();
                    return Ok(created);
                }
                Err(StoreError::Conflict(m)) if m.contains("name") => last = Some(m),
                Err(e) => return Err(e.into()),
            }
        }
        Err(StoreError::Conflict(last.unwrap_or_default()).into())
    }

    /// Attaches an add-on to another app (a release when it is provisioned).
    pub async fn attach(
        &self,
        addon_id: Uuid,
        app_id: Uuid,
        name: &AttachmentName,
    ) -> Result<(Attachment, Option<Release>), AddonError> {
        let attached = self
            .inner
            .store
            .attach_addon(addon_id, app_id, name)
            .await?;
        self.inner.nudge.app_changed(app_id);
        self.inner.wake.notify_one();
        Ok(attached)
    }

    /// Detaches (a release).
    pub async fn detach(&self, attachment: &Attachment) -> Result<Option<Release>, AddonError> {
        let release = self
            .inner
            .store
            .detach_addon(attachment.attachment_id)
            .await?;
        self.inner.nudge.app_changed(attachment.app_id);
        self.inner.wake.notify_one();
        Ok(release)
    }

    /// Destroys an add-on: detached everywhere (releases), then its container and volume
    /// removed, then forgotten. If paasd stops midway, the supervisor finishes it.
    pub async fn destroy(&self, addon: &Addon) -> Result<Vec<Release>, AddonError> {
        let releases = self.inner.store.begin_destroy_addon(addon.addon_id).await?;
        for release in &releases {
            self.inner.nudge.app_changed(release.app_id);
        }
        self.remove(addon).await?;
        Ok(releases)
    }

    /// Before an app is destroyed: destroys the add-ons it owns.
    pub async fn destroy_owned(&self, app_id: Uuid) -> Result<(), AddonError> {
        let owned: Vec<Addon> = self
            .inner
            .store
            .addons_of_app(app_id)
            .await?
            .into_iter()
            .filter(|a| a.app_id == Some(app_id))
            .collect();
        for addon in owned {
            self.destroy(&addon).await?;
        }
        Ok(())
    }

    async fn remove(&self, addon: &Addon) -> Result<(), AddonError> {
        self.inner
            .docker
            .remove_addon(&self.inner.settings.instance, addon.name.as_str())
            .await?;
        // Its backups go with it: nothing of a destroyed add-on is left behind.
        let backups = self.inner.settings.backup_dir.join(addon.name.as_str());
        if let Err(e) = tokio::fs::remove_dir_all(&backups).await
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(addon = %addon.name, error = %e, "could not remove the add-on's backups");
        }
        self.inner.store.forget_addon(addon.addon_id).await?;
        Ok(())
    }

    /// Wakes the supervisor (tests, and the API after a change).
    pub fn changed(&self) {
        self.inner.wake.notify_one();
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn docker(&self) -> &Docker {
        &self.inner.docker
    }

    pub fn settings(&self) -> &AddonSettings {
        &self.inner.settings
    }
}
