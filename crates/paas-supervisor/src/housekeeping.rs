//! Housekeeping: one-off dynos nobody collected and the runtime's finished jobs (on the
//! controller's own short timer, since a full pass is rare), and networks and images of
//! deleted apps (on full passes, which know every app).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use paas_core::AppName;
use paas_core::runtime::ContainerRuntime;
use uuid::Uuid;

use crate::pass::Want;
use crate::{Supervisor, SupervisorError, runtime_error};

/// An exited `run:detached` dyno is removed this long after it exited.
const DETACHED_ONE_OFF_TTL: Duration = Duration::from_secs(10);

impl<R: ContainerRuntime> Supervisor<R> {
    /// Removes exited one-off dynos whose time is up, and the runtime's finished
    /// housekeeping jobs (a Swarm's image collectors).
    pub(crate) async fn reap(&self) {
        if let Err(e) = self.reap_one_offs().await {
            tracing::warn!(error = %e, "reaping exited one-off dynos failed");
        }
        match self.runtime.reap_jobs(&self.settings.instance).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "removed finished housekeeping jobs"),
            Err(e) => tracing::warn!(error = %e, "removing finished housekeeping jobs failed"),
        }
    }

    /// On a full pass (`desired` holds every app): removes networks of deleted apps,
    /// when a sweep is due.
    pub(crate) async fn sweep_networks_if_due(&self, desired: &BTreeMap<Uuid, Want>) {
        if self.state.network_sweep_due() {
            let keep: HashSet<&str> = desired.values().map(|d| d.app_name.as_str()).collect();
            if let Err(e) = self.sweep_networks(&keep).await {
                tracing::warn!(error = %e, "removing networks of deleted apps failed");
            }
        }
    }

    /// Removes this installation's networks of apps that no longer exist, once no
    /// container uses them (a network younger than a minute is left: its app may be
    /// newer than this pass's snapshot).
    async fn sweep_networks(&self, keep: &HashSet<&str>) -> Result<(), SupervisorError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        for network in self
            .runtime
            .app_networks(&self.settings.instance)
            .await
            .map_err(runtime_error)?
        {
            let young = network
                .created_secs
                .is_some_and(|at| now.saturating_sub(at) < self.settings.network_min_age.as_secs());
            if keep.contains(network.app_name.as_str()) || young {
                continue;
            }
            if self
                .runtime
                .remove_network(&network.id)
                .await
                .map_err(runtime_error)?
            {
                tracing::info!(app = %network.app_name, "removed the network of a deleted app");
                // Its releases can no longer be rolled back to: their images can go.
                let Ok(app) = AppName::parse(&network.app_name) else {
                    continue;
                };
                match self
                    .runtime
                    .forget_app_images(&self.settings.instance, &app)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(app = %network.app_name, images = n, "forgot a deleted app's release images");
                    }
                    Err(e) => {
                        tracing::warn!(app = %network.app_name, error = %e, "could not forget a deleted app's release images");
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes one-off dynos that exited more than `one_off_ttl` ago: whoever was to
    /// read their output and remove them is gone, and nothing the platform owns is left
    /// behind.
    async fn reap_one_offs(&self) -> Result<(), SupervisorError> {
        let now = chrono::Utc::now();
        for one_off in self
            .runtime
            .exited_one_offs(&self.settings.instance)
            .await
            .map_err(runtime_error)?
        {
            let exited = one_off.finished_at.unwrap_or(now);
            // A detached one-off's output goes only to the log stream: it is kept just
            // long enough for the collector to read it to the end.
            let ttl = if one_off.detached {
                DETACHED_ONE_OFF_TTL.min(self.settings.one_off_ttl)
            } else {
                self.settings.one_off_ttl
            };
            if (now - exited).to_std().unwrap_or_default() >= ttl {
                tracing::info!(app = %one_off.app_name, dyno = %one_off.dyno, detached = one_off.detached, "removing an exited one-off dyno");
                self.runtime
                    .remove_now(&one_off.id)
                    .await
                    .map_err(runtime_error)?;
            }
        }
        Ok(())
    }
}
