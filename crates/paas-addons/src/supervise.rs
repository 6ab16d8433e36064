//! The add-on supervisor: each pass reads the add-ons from the store and their
//! containers from the engine, lets `paas_core::addons::plan` decide, and acts: make a
//! missing container (on its volume, kept), start a stopped one (a crash, an engine
//! restart), follow the attachments across app networks, remove a destroyed one. Then
//! each `provisioning` add-on that answers becomes `provisioned`, which sets its URL on
//! its apps as releases. A restarted paasd adopts the containers it finds.

use std::collections::BTreeSet;
use std::time::Duration;

use paas_core::addons::{AddonAction, SeenAddon, WantedAddon, plan};
use paas_docker::AddonSpec;
use paas_store::{Addon, AddonState};
use tokio_util::sync::CancellationToken;

use crate::{AddonError, Addons, image, service};

/// A pass at least this often (a crashed add-on is started again within it).
const RESYNC: Duration = Duration::from_secs(3);
/// While an add-on is provisioning.
const PROVISIONING_POLL: Duration = Duration::from_millis(300);

impl Addons {
    /// Runs passes until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let busy = match self.pass().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "add-on pass failed");
                    false
                }
            };
            let wait = if busy { PROVISIONING_POLL } else { RESYNC };
            tokio::select! {
                () = stop.cancelled() => return,
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass; true while an add-on is still provisioning.
    pub async fn pass(&self) -> Result<bool, AddonError> {
        let instance = &self.inner.settings.instance;
        let desired = self.inner.store.addons_to_supervise().await?;
        let containers = self.inner.docker.list_addons(instance).await?;
        let wanted: Vec<WantedAddon> = desired
            .iter()
            .map(|(addon, apps)| WantedAddon {
                id: addon.addon_id,
                apps: apps.iter().cloned().collect(),
                destroying: addon.state == AddonState::Deprovisioning,
            })
            .collect();
        let seen: Vec<SeenAddon> = containers
            .iter()
            .map(|c| SeenAddon {
                id: c.addon_id,
                running: c.running,
                apps: c.apps.clone(),
            })
            .collect();
        for action in plan(&wanted, &seen) {
            let id = match &action {
                AddonAction::Create { id }
                | AddonAction::Start { id }
                | AddonAction::Connect { id, .. }
                | AddonAction::Disconnect { id, .. }
                | AddonAction::Remove { id } => *id,
            };
            let Some((addon, apps)) = desired.iter().find(|(a, _)| a.addon_id == id) else {
                continue;
            };
            let container = containers.iter().find(|c| c.addon_id == id);
            if let Err(e) = self.act(&action, addon, apps, container).await {
                tracing::warn!(addon = %addon.name, ?action, error = %e, "add-on action failed");
            }
        }
        let mut busy = false;
        for (addon, _) in &desired {
            if addon.state != AddonState::Provisioning {
                continue;
            }
            busy = true;
            if self.answers(addon).await {
                let releases = self.inner.store.addon_provisioned(addon.addon_id).await?;
                tracing::info!(addon = %addon.name, releases = releases.len(), "add-on provisioned");
                for release in releases {
                    self.inner.nudge.app_changed(release.app_id);
                }
            }
        }
        Ok(busy)
    }

    async fn act(
        &self,
        action: &AddonAction,
        addon: &Addon,
        apps: &[String],
        container: Option<&paas_docker::AddonContainer>,
    ) -> Result<(), AddonError> {
        let instance = &self.inner.settings.instance;
        let docker = &self.inner.docker;
        match action {
            AddonAction::Create { .. } => {
                let Some(first_app) = apps.first() else {
                    tracing::warn!(addon = %addon.name, "add-on without an attachment: not started");
                    return Ok(());
                };
                let image = image::ensure(
                    docker,
                    &self.inner.settings.stack_image,
                    addon.service,
                    &self.inner.settings.build_limits,
                )
                .await?;
                let spec = AddonSpec {
                    instance: instance.clone(),
                    addon_id: addon.addon_id,
                    name: addon.name.to_string(),
                    service: addon.service.short().to_owned(),
                    image,
                    user: service::user(addon.service).to_owned(),
                    data_dir: service::data_dir(addon.service).to_owned(),
                    command: vec!["paas-addon-entry".into()],
                    env: service::env(addon),
                    memory_bytes: addon.plan.memory_bytes,
                    first_app: first_app.clone(),
                    log: self.inner.settings.log,
                };
                let id = docker.create_addon(&spec).await?;
                // The other attached apps' networks.
                for app in apps.iter().skip(1) {
                    docker
                        .connect_addon(&id, instance, app, addon.name.as_str())
                        .await?;
                }
                tracing::info!(addon = %addon.name, "add-on container started");
            }
            AddonAction::Start { .. } => {
                if let Some(c) = container {
                    tracing::info!(addon = %addon.name, "add-on not running: starting it");
                    docker.start_addon(&c.id).await?;
                }
            }
            AddonAction::Connect { app, .. } => {
                if let Some(c) = container {
                    docker
                        .connect_addon(&c.id, instance, app, addon.name.as_str())
                        .await?;
                }
            }
            AddonAction::Disconnect { app, .. } => {
                if let Some(c) = container {
                    docker.disconnect_addon(&c.id, instance, app).await?;
                }
            }
            AddonAction::Remove { .. } => self.remove(addon).await?,
        }
        Ok(())
    }

    /// Whether the add-on answers over TCP with its credentials.
    pub async fn answers(&self, addon: &Addon) -> bool {
        let Some(container) = self.container_id(addon).await else {
            return false;
        };
        let mut sink = tokio::io::sink();
        matches!(
            self.inner
                .docker
                .exec_addon(
                    &container,
                    service::ready_check(addon.service),
                    None,
                    &mut sink
                )
                .await,
            Ok((0, _))
        )
    }

    /// The add-on's running container.
    pub async fn container_id(&self, addon: &Addon) -> Option<String> {
        self.inner
            .docker
            .list_addons(&self.inner.settings.instance)
            .await
            .ok()?
            .into_iter()
            .find(|c| c.addon_id == addon.addon_id && c.running)
            .map(|c| c.id)
    }

    /// The apps an add-on's container is on now (tests).
    pub async fn networks_of(&self, addon: &Addon) -> Option<BTreeSet<String>> {
        self.inner
            .docker
            .list_addons(&self.inner.settings.instance)
            .await
            .ok()?
            .into_iter()
            .find(|c| c.addon_id == addon.addon_id)
            .map(|c| c.apps)
    }
}
