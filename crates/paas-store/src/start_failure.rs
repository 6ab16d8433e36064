//! The `start_failure` rows: the engine's last refusal to start an app's dynos, which
//! the supervisor writes while it backs off and clears when a start succeeds.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

/// Why an app's dynos of one release cannot be started, as the engine said.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct StartFailure {
    pub release_id: Uuid,
    pub version: i32,
    pub reason: String,
    /// Refusals in a row.
    pub failures: i32,
    pub failed_at: DateTime<Utc>,
}

impl Store {
    /// Records that the engine refused to start `release_id`'s dynos, the `failures`-th
    /// time in a row. Nothing is written for an app that is gone.
    pub async fn record_start_failure(
        &self,
        app_id: Uuid,
        release_id: Uuid,
        reason: &str,
        failures: u32,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into start_failure (app_id, release_id, reason, failures)
             select $1, $2, $3, $4 where exists (select 1 from app where app_id = $1)
             on conflict (app_id) do update set release_id = excluded.release_id,
                 reason = excluded.reason, failures = excluded.failures, failed_at = now()",
        )
        .bind(app_id)
        .bind(release_id)
        .bind(reason)
        .bind(i32::try_from(failures).unwrap_or(i32::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `app_id`'s dynos start again.
    pub async fn clear_start_failure(&self, app_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("delete from start_failure where app_id = $1")
            .bind(app_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every app's: a starting supervisor tries every app afresh.
    pub async fn clear_start_failures(&self) -> Result<(), StoreError> {
        sqlx::query("delete from start_failure")
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Why `app_id`'s dynos cannot be started, if they cannot.
    pub async fn start_failure(&self, app_id: Uuid) -> Result<Option<StartFailure>, StoreError> {
        Ok(sqlx::query_as(
            "select f.release_id, r.version, f.reason, f.failures, f.failed_at
               from start_failure f join release r using (release_id)
              where f.app_id = $1",
        )
        .bind(app_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}
