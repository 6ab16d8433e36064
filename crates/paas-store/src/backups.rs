//! Backups of Postgres add-ons (`addon_backup`): one row per captured dump, with its
//! verification's outcome. The files themselves live under `PAAS_BACKUP_DIR`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

/// A backup's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum BackupStatus {
    Running,
    /// Restored into a scratch database with the same row counts.
    Verified,
    Failed,
}

impl BackupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BackupStatus::Running => "running",
            BackupStatus::Verified => "verified",
            BackupStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Backup {
    pub backup_id: Uuid,
    pub addon_id: Uuid,
    pub num: i32,
    pub status: BackupStatus,
    pub reason: Option<String>,
    pub size_bytes: Option<i64>,
    pub row_counts: Option<sqlx::types::Json<BTreeMap<String, i64>>>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Taken by a schedule (`pg:backups:schedule`): pruned beyond the schedule's `keep`.
    pub scheduled: bool,
}

impl Backup {
    /// `b001`, as Heroku names manual backups; `a002` for a scheduled one (Heroku's
    /// "automatic"). The number is the add-on's sequence either way.
    pub fn name(&self) -> String {
        let letter = if self.scheduled { 'a' } else { 'b' };
        format!("{letter}{:03}", self.num)
    }
}

const SELECT_BACKUP: &str = "select backup_id, addon_id, num, status, reason, size_bytes,
    row_counts, started_at, finished_at, scheduled from addon_backup";

impl Store {
    /// Records a backup being captured, numbered after the add-on's last one.
    pub async fn start_backup(&self, addon_id: Uuid) -> Result<Backup, StoreError> {
        self.start_backup_of(addon_id, false).await
    }

    /// [`Store::start_backup`], marked as taken by a schedule or not.
    pub async fn start_backup_of(
        &self,
        addon_id: Uuid,
        scheduled: bool,
    ) -> Result<Backup, StoreError> {
        let mut tx = self.pool.begin().await?;
        // Serializes numbering per add-on.
        sqlx::query("select 1 from addon where addon_id = $1 for update")
            .bind(addon_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("add-on"))?;
        let id = Uuid::now_v7();
        sqlx::query(
            "insert into addon_backup (backup_id, addon_id, num, scheduled)
             select $1, $2, coalesce(max(num), 0) + 1, $3 from addon_backup where addon_id = $2",
        )
        .bind(id)
        .bind(addon_id)
        .bind(scheduled)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.backup_by_id(id).await
    }

    /// Settles a backup: its size, the row counts it holds, and whether it verified.
    pub async fn finish_backup(
        &self,
        backup_id: Uuid,
        status: BackupStatus,
        reason: Option<&str>,
        size_bytes: Option<i64>,
        row_counts: Option<&BTreeMap<String, i64>>,
    ) -> Result<Backup, StoreError> {
        sqlx::query(
            "update addon_backup set status = $2, reason = $3,
                    size_bytes = coalesce($4, size_bytes),
                    row_counts = coalesce($5, row_counts), finished_at = now()
              where backup_id = $1",
        )
        .bind(backup_id)
        .bind(status)
        .bind(reason)
        .bind(size_bytes)
        .bind(row_counts.map(sqlx::types::Json))
        .execute(&self.pool)
        .await?;
        self.backup_by_id(backup_id).await
    }

    pub async fn backup_by_id(&self, backup_id: Uuid) -> Result<Backup, StoreError> {
        let sql = format!("{SELECT_BACKUP} where backup_id = $1");
        sqlx::query_as::<_, Backup>(sqlx::AssertSqlSafe(sql))
            .bind(backup_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("backup"))
    }

    /// When the add-on's newest verified backup finished, if it has one (its metrics and
    /// `pg:info` both say it).
    pub async fn last_verified_backup_at(
        &self,
        addon_id: Uuid,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self
            .backups(addon_id)
            .await?
            .into_iter()
            .filter(|b| b.status == BackupStatus::Verified)
            .filter_map(|b| b.finished_at)
            .max())
    }

    /// An add-on's backups, newest first.
    pub async fn backups(&self, addon_id: Uuid) -> Result<Vec<Backup>, StoreError> {
        let sql = format!("{SELECT_BACKUP} where addon_id = $1 order by num desc");
        Ok(sqlx::query_as::<_, Backup>(sqlx::AssertSqlSafe(sql))
            .bind(addon_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn delete_backup(&self, backup_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("delete from addon_backup where backup_id = $1")
            .bind(backup_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Fails the backups a previous paasd was capturing when it stopped.
    pub async fn fail_interrupted_backups(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "update addon_backup set status = 'failed', reason = $1, finished_at = now()
              where status = 'running'",
        )
        .bind(crate::INTERRUPTED_BY_RESTART)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }
}
