//! Scheduled platform backups (`PAAS_BACKUP_SCHEDULE`, `PAAS_BACKUP_KEEP`,
//! `PAAS_BACKUP_DIR`) and their metrics (`BackupStatus`).

use std::path::{Path, PathBuf};

use crate::Settings;

use super::backup_with;

/// What `GET /metrics` says about scheduled backups.
#[derive(Debug, Default)]
pub struct BackupStatus {
    last_success: std::sync::atomic::AtomicI64,
    failures: std::sync::atomic::AtomicU64,
}

impl BackupStatus {
    pub fn render_metrics(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "# HELP paas_backup_last_success_timestamp Unix time of the last scheduled platform backup that was written and verified (0: none yet).\n\
             # TYPE paas_backup_last_success_timestamp gauge\n\
             paas_backup_last_success_timestamp {}\n\
             # HELP paas_backup_failures_total Scheduled platform backups that failed since paasd started.\n\
             # TYPE paas_backup_failures_total counter\n\
             paas_backup_failures_total {}\n",
            self.last_success.load(Relaxed),
            self.failures.load(Relaxed)
        )
    }
}

const SCHEDULED_PREFIX: &str = "paas-backup-";

/// The scheduled backups in `dir`, oldest first, with their times.
fn scheduled_backups(dir: &Path) -> Vec<(PathBuf, chrono::DateTime<chrono::Utc>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stamp = name.strip_prefix(SCHEDULED_PREFIX)?.strip_suffix(".tar")?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").ok()?;
            Some((e.path(), at.and_utc()))
        })
        .collect();
    found.sort_by_key(|(_, at)| *at);
    found
}

/// `PAAS_BACKUP_SCHEDULE`: a backup every `every`, the first one `every` after the
/// newest already in `PAAS_BACKUP_DIR` (at once when there is none), so restarts
/// neither skip nor repeat one; the newest `PAAS_BACKUP_KEEP` are kept. A failure is an
/// error line and `paas_backup_failures_total`; `paas_backup_last_success_timestamp`
/// stops moving.
pub async fn run_schedule(
    settings: Settings,
    store: paas_store::Store,
    pg_args: Vec<String>,
    docker: paas_docker::Docker,
    status: std::sync::Arc<BackupStatus>,
    stop: tokio_util::sync::CancellationToken,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(every) = settings.backups.every else {
        return;
    };
    let dir = settings
        .backups
        .dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("backups"));
    let every_chrono = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::days(1));
    if let Some((_, at)) = scheduled_backups(&dir).last() {
        status.last_success.store(at.timestamp(), Relaxed);
    }
    tracing::info!(dir = %dir.display(), every_secs = every.as_secs(), keep = settings.backups.keep, "scheduled platform backups");
    loop {
        let next = scheduled_backups(&dir)
            .last()
            .map_or_else(chrono::Utc::now, |(_, at)| *at + every_chrono);
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let now = chrono::Utc::now();
        let file = dir.join(format!(
            "{SCHEDULED_PREFIX}{}.tar",
            now.format("%Y%m%dT%H%M%SZ")
        ));
        let started = std::time::Instant::now();
        let result = match std::fs::create_dir_all(&dir) {
            // A shutdown does not wait for a backup: it is cut off and its partial file removed.
            Ok(()) => tokio::select! {
                result = backup_with(&settings, &store, &pg_args, &docker, &file) => result,
                () = stop.cancelled() => {
                    let _ = std::fs::remove_file(format!("{}.partial", file.display()));
                    tracing::warn!(file = %file.display(), "a scheduled backup was cut off by the shutdown");
                    return;
                }
            },
            Err(e) => Err(anyhow::Error::from(e)
                .context(format!("creating PAAS_BACKUP_DIR {}", dir.display()))),
        };
        match result {
            Ok(_) => {
                status.last_success.store(now.timestamp(), Relaxed);
                tracing::info!(file = %file.display(), secs = started.elapsed().as_secs_f64(), "scheduled platform backup written and verified");
                let all = scheduled_backups(&dir);
                for (old, _) in all
                    .iter()
                    .take(all.len().saturating_sub(settings.backups.keep))
                {
                    if let Err(e) = std::fs::remove_file(old) {
                        tracing::warn!(file = %old.display(), error = %e, "could not remove an old scheduled backup");
                    }
                }
            }
            Err(e) => {
                status.failures.fetch_add(1, Relaxed);
                tracing::error!(file = %file.display(), error = %format!("{e:#}"), "scheduled platform backup failed");
                // Not again at once: the next try is one period later.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        }
    }
}
