//! The scheduled platform backups settings group (`PAAS_BACKUP_*`).

use std::path::PathBuf;

use super::parse::Env;

/// Scheduled platform backups (`crate::backup::run_schedule`).
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// `PAAS_BACKUP_SCHEDULE` (`off`): the time between two backups.
    pub every: Option<std::time::Duration>,
    /// `PAAS_BACKUP_KEEP` (7): how many scheduled backups stay.
    pub keep: usize,
    /// `PAAS_BACKUP_DIR` (`$PAAS_DATA_DIR/backups`, made on first use).
    pub dir: Option<PathBuf>,
}

impl BackupConfig {
    pub(super) fn read(env: &Env<'_>) -> anyhow::Result<Self> {
        Ok(BackupConfig {
            every: match env.get("PAAS_BACKUP_SCHEDULE").as_deref().map(str::trim) {
                None | Some("off") => None,
                Some(raw) => Some(
                    crate::tokens::parse_duration(raw)
                        .map_err(|e| anyhow::anyhow!("PAAS_BACKUP_SCHEDULE: {e} (or off)"))?,
                ),
            },
            keep: env.count("PAAS_BACKUP_KEEP", 7, 1000)?,
            dir: env.get("PAAS_BACKUP_DIR").map(PathBuf::from),
        })
    }
}
