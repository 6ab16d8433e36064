//! Scheduled backups (`pg:backups:schedule`): a task of paasd, under its one shutdown
//! token, that every few seconds reads the schedules from the store with their latest due
//! time (in each schedule's zone), asks `paas_core::backup_schedule::scheduled_run`, and
//! captures (verified, like a manual capture) what is due, then prunes that add-on's
//! scheduled backups to its `keep`.
//!
//! The schedule is the store's, so a restart loses nothing. A due time that passed while
//! paasd was down (more than `LATE_AFTER` ago) is **missed**: paasd announces it as an
//! error line in every attached app's log stream and captures one at once (one, however
//! many days were missed). A failed scheduled backup is announced the same way; a
//! verified one gets an info line. Nothing about a schedule is ever silent.
//!
//! Each due time is claimed in the store before its capture (`claim_scheduled_run`), so
//! it runs at most once. A paasd stopped during the capture leaves that backup `failed`
//! (interrupted by the restart) and does not take it again.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use paas_core::backup_schedule::{ScheduledRun, scheduled_run};
use paas_store::{Addon, BackupSchedule, BackupStatus};
use tokio_util::sync::CancellationToken;

use crate::{AddonError, Addons};

/// How often the schedules are read.
const TICK: Duration = Duration::from_secs(5);

/// Puts a platform line (`app[api]`) into an app's log stream: (app name, line).
pub type Announce = Arc<dyn Fn(&str, String) + Send + Sync>;

impl Addons {
    /// Runs due schedules until `shutdown`.
    pub async fn run_schedules(self, announce: Announce, shutdown: CancellationToken) {
        let span = tracing::info_span!("task", name = "scheduled add-on backups");
        let _ = tracing::Instrument::instrument(
            async {
                loop {
                    if let Err(e) = self.schedule_pass(Utc::now(), &announce).await {
                        tracing::warn!(error = %e, "a pass of the backup schedules failed");
                    }
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(TICK) => {}
                    }
                }
            },
            span,
        )
        .await;
    }

    /// One pass at clock `now`: the schedules due are run, one after the other. Returns
    /// how many ran.
    pub async fn schedule_pass(
        &self,
        now: DateTime<Utc>,
        announce: &Announce,
    ) -> Result<usize, AddonError> {
        let mut ran = 0;
        for schedule in self.inner.store.backup_schedules(now).await? {
            let decision = scheduled_run(
                schedule.due_at,
                schedule.last_due_at,
                schedule.created_at,
                now,
            );
            if decision == ScheduledRun::Wait {
                continue;
            }
            if !self
                .inner
                .store
                .claim_scheduled_run(schedule.addon_id, schedule.due_at, schedule.created_at)
                .await?
            {
                continue;
            }
            let addon = self.inner.store.addon_by_id(schedule.addon_id).await?;
            ran += 1;
            self.run_schedule(&addon, &schedule, decision, announce)
                .await?;
        }
        Ok(ran)
    }

    async fn run_schedule(
        &self,
        addon: &Addon,
        schedule: &BackupSchedule,
        decision: ScheduledRun,
        announce: &Announce,
    ) -> Result<(), AddonError> {
        let due = schedule.due_at.format("%Y-%m-%d %H:%M UTC");
        if decision == ScheduledRun::Missed {
            tracing::error!(addon = %addon.name, %due, "a scheduled backup was missed");
            self.announce(
                addon,
                announce,
                format!(
                    "Error: the scheduled backup of {} due at {due} ({}) was MISSED (paasd was not running then); capturing one now",
                    addon.name,
                    schedule.at().display()
                ),
            )
            .await;
        }
        match self.capture_as(addon, true).await {
            Ok(backup) if backup.status == BackupStatus::Verified => {
                self.announce(
                    addon,
                    announce,
                    format!(
                        "Scheduled backup {} of {} verified",
                        backup.name(),
                        addon.name
                    ),
                )
                .await;
                self.prune(addon, schedule.keep).await?;
            }
            Ok(backup) => {
                let reason = backup.reason.as_deref().unwrap_or("no reason given");
                tracing::error!(addon = %addon.name, backup = %backup.name(), reason, "a scheduled backup failed");
                self.announce(
                    addon,
                    announce,
                    format!(
                        "Error: scheduled backup {} of {} FAILED: {reason}",
                        backup.name(),
                        addon.name
                    ),
                )
                .await;
            }
            Err(e) => {
                tracing::error!(addon = %addon.name, error = %e, "a scheduled backup failed");
                self.announce(
                    addon,
                    announce,
                    format!("Error: scheduled backup of {} FAILED: {e}", addon.name),
                )
                .await;
            }
        }
        Ok(())
    }

    /// Deletes the scheduled backups beyond `keep` verified ones, with their files.
    async fn prune(&self, addon: &Addon, keep: i32) -> Result<(), AddonError> {
        for old in self
            .inner
            .store
            .prune_scheduled_backups(addon.addon_id, keep)
            .await?
        {
            let path = self.backup_file(addon, &old);
            if let Err(e) = tokio::fs::remove_file(&path).await
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(addon = %addon.name, file = %path.display(), error = %e, "a pruned backup's file could not be removed");
            }
            tracing::info!(addon = %addon.name, backup = %old.name(), keep, "scheduled backup pruned");
        }
        Ok(())
    }

    /// The line goes to every app attached to the add-on.
    async fn announce(&self, addon: &Addon, announce: &Announce, line: String) {
        let apps: Vec<String> = match self
            .inner
            .store
            .attachments(None, Some(addon.addon_id))
            .await
        {
            Ok(attachments) => attachments.into_iter().map(|a| a.app_name).collect(),
            Err(e) => {
                tracing::error!(addon = %addon.name, error = %e, "the apps to tell of a scheduled backup are unknown");
                addon.app_name.iter().cloned().collect()
            }
        };
        for app in apps {
            announce(&app, line.clone());
        }
    }
}
