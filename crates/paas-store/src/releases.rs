use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_core::release::{deploy_description, rollback_description};
use paas_core::{ReleaseRef, ReleaseVersion};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::formation::sync_formation_to_build;
use crate::{Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseStatus {
    Pending,
    Succeeded,
    Failed,
}

impl ReleaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStatus::Pending => "pending",
            ReleaseStatus::Succeeded => "succeeded",
            ReleaseStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Release {
    pub release_id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub version: i32,
    pub build_id: Option<Uuid>,
    pub config: sqlx::types::Json<BTreeMap<String, String>>,
    pub description: String,
    pub status: String,
    pub status_reason: Option<String>,
    /// The newest succeeded release is the current one.
    pub current: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_RELEASE: &str = "select r.release_id, r.app_id, a.name as app_name, r.version,
    r.build_id, r.config, r.description, s.status, s.reason as status_reason,
    coalesce(r.version = (select max(r2.version) from release r2
        join release_status s2 using (release_id)
        where r2.app_id = r.app_id and s2.status = 'succeeded'), false) as current,
    r.created_at, s.updated_at
  from release r
  join release_status s using (release_id)
  join app a using (app_id)";

/// Appends a release, allocating its version under the app's row lock. The caller's
/// transaction must already hold that lock (see [`lock_app`]) when it read the state
/// the release is derived from.
pub(crate) async fn insert_release(
    tx: &mut Transaction<'static, Postgres>,
    app_id: Uuid,
    build_id: Option<Uuid>,
    config: &serde_json::Value,
    description: &str,
    status: ReleaseStatus,
) -> Result<Uuid, StoreError> {
    let version: i32 = sqlx::query_scalar(
        "update app set release_seq = release_seq + 1, updated_at = now()
          where app_id = $1 returning release_seq",
    )
    .bind(app_id)
    .fetch_one(&mut **tx)
    .await?;
    let release_id = Uuid::now_v7();
    sqlx::query(
        "insert into release (release_id, app_id, version, build_id, config, description)
         values ($1, $2, $3, $4, $5, $6)",
    )
    .bind(release_id)
    .bind(app_id)
    .bind(version)
    .bind(build_id)
    .bind(config)
    .bind(description)
    .execute(&mut **tx)
    .await?;
    sqlx::query("insert into release_status (release_id, status) values ($1, $2)")
        .bind(release_id)
        .bind(status.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(release_id)
}

/// Takes the app's row lock for the rest of the transaction: every change that makes a
/// release goes through here first, which serializes them per app.
pub(crate) async fn lock_app(
    tx: &mut Transaction<'static, Postgres>,
    app_id: Uuid,
) -> Result<(), StoreError> {
    sqlx::query("select 1 from app where app_id = $1 for update")
        .bind(app_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or_else(|| StoreError::not_found("app"))?;
    Ok(())
}

/// The build of the app's current release, read inside a transaction.
pub(crate) async fn current_build(
    tx: &mut Transaction<'static, Postgres>,
    app_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    Ok(sqlx::query_scalar(
        "select r.build_id from release r join release_status s using (release_id)
          where r.app_id = $1 and s.status = 'succeeded' order by r.version desc limit 1",
    )
    .bind(app_id)
    .fetch_optional(&mut **tx)
    .await?
    .flatten())
}

impl Store {
    /// An app's releases, oldest first.
    pub async fn releases(&self, app_id: Uuid) -> Result<Vec<Release>, StoreError> {
        let sql = format!("{SELECT_RELEASE} where r.app_id = $1 order by r.version");
        Ok(sqlx::query_as::<_, Release>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn release(&self, app_id: Uuid, which: &ReleaseRef) -> Result<Release, StoreError> {
        let row = match which {
            ReleaseRef::Version(v) => {
                let sql = format!("{SELECT_RELEASE} where r.app_id = $1 and r.version = $2");
                sqlx::query_as::<_, Release>(sqlx::AssertSqlSafe(sql))
                    .bind(app_id)
                    .bind(v.get())
                    .fetch_optional(&self.pool)
                    .await?
            }
            ReleaseRef::Id(id) => {
                let id = Uuid::parse_str(id).map_err(|_| StoreError::not_found("release"))?;
                let sql = format!("{SELECT_RELEASE} where r.app_id = $1 and r.release_id = $2");
                sqlx::query_as::<_, Release>(sqlx::AssertSqlSafe(sql))
                    .bind(app_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        row.ok_or_else(|| StoreError::not_found("release"))
    }

    pub(crate) async fn release_by_id(&self, release_id: Uuid) -> Result<Release, StoreError> {
        let sql = format!("{SELECT_RELEASE} where r.release_id = $1");
        sqlx::query_as::<_, Release>(sqlx::AssertSqlSafe(sql))
            .bind(release_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("release"))
    }

    pub async fn current_release(&self, app_id: Uuid) -> Result<Release, StoreError> {
        let sql = format!(
            "{SELECT_RELEASE} where r.app_id = $1 and s.status = 'succeeded'
            order by r.version desc limit 1"
        );
        sqlx::query_as::<_, Release>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("release"))
    }

    /// Rolls back to `target`: appends a release with the target's build and config,
    /// described "Rollback to vK", and makes the config and formation follow it.
    pub async fn rollback(&self, app_id: Uuid, target: &ReleaseRef) -> Result<Release, StoreError> {
        let target = self.release(app_id, target).await?;
        if target.status != ReleaseStatus::Succeeded.as_str() {
            return Err(StoreError::Conflict(format!(
                "Release v{} {} and cannot be rolled back to.",
                target.version,
                if target.status == "failed" {
                    "failed"
                } else {
                    "is still pending"
                }
            )));
        }
        let version = ReleaseVersion::new(target.version)?;
        let mut tx = self.pool.begin().await?;
        lock_app(&mut tx, app_id).await?;
        let previous_build = current_build(&mut tx, app_id).await?;
        let config = serde_json::to_value(&target.config.0)
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        crate::config::replace_config(&mut tx, app_id, &target.config.0).await?;
        if previous_build != target.build_id {
            sync_formation_to_build(&mut tx, app_id, target.build_id).await?;
        }
        let release_id = insert_release(
            &mut tx,
            app_id,
            target.build_id,
            &config,
            &rollback_description(version),
            ReleaseStatus::Succeeded,
        )
        .await?;
        tx.commit().await?;
        self.release_by_id(release_id).await
    }

    /// Appends the release of a finished build ("Deploy abc1234") with the app's current
    /// config, and brings the formation in line with the build's process types.
    pub async fn create_deploy_release(
        &self,
        app_id: Uuid,
        build_id: Uuid,
        status: ReleaseStatus,
    ) -> Result<Release, StoreError> {
        let build = self.build(app_id, build_id).await?;
        if build.status != crate::BuildStatus::Succeeded.as_str() {
            return Err(StoreError::Conflict(
                "Only a succeeded build can be released.".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        lock_app(&mut tx, app_id).await?;
        let config = crate::config::read_config(&mut tx, app_id).await?;
        if status == ReleaseStatus::Succeeded {
            sync_formation_to_build(&mut tx, app_id, Some(build_id)).await?;
        }
        let description = deploy_description(build.source_version.as_deref().unwrap_or("unknown"));
        let config = serde_json::to_value(config.as_map())
            .map_err(|e| StoreError::Conflict(e.to_string()))?;
        let release_id = insert_release(
            &mut tx,
            app_id,
            Some(build_id),
            &config,
            &description,
            status,
        )
        .await?;
        tx.commit().await?;
        self.release_by_id(release_id).await
    }

    /// Marks a current release failed after the fact: its web dynos never became
    /// healthy. The previous succeeded release is current again, so the supervisor keeps
    /// (or puts back) the dynos that served before.
    pub async fn fail_rollout(&self, release_id: Uuid, reason: &str) -> Result<bool, StoreError> {
        let release = self.release_by_id(release_id).await?;
        let mut tx = self.pool.begin().await?;
        lock_app(&mut tx, release.app_id).await?;
        let done = sqlx::query(
            "update release_status set status = 'failed', reason = $2, updated_at = now()
              where release_id = $1 and status = 'succeeded'",
        )
        .bind(release_id)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            // The app's config is the current release's again: a failed config change
            // must not stay behind as the config the next release would take.
            let config: Option<sqlx::types::Json<std::collections::BTreeMap<String, String>>> =
                sqlx::query_scalar(
                    "select r.config from release r join release_status s using (release_id)
                      where r.app_id = $1 and s.status = 'succeeded'
                      order by r.version desc limit 1",
                )
                .bind(release.app_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some(config) = config {
                crate::config::replace_config(&mut tx, release.app_id, &config.0).await?;
            }
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Settles a pending release. Succeeding makes it current, so the formation follows
    /// its build in the same transaction.
    pub async fn finish_release(
        &self,
        release_id: Uuid,
        status: ReleaseStatus,
        reason: Option<&str>,
    ) -> Result<Release, StoreError> {
        let release = self.release_by_id(release_id).await?;
        let mut tx = self.pool.begin().await?;
        lock_app(&mut tx, release.app_id).await?;
        let updated = sqlx::query(
            "update release_status set status = $2, reason = $3, updated_at = now()
              where release_id = $1 and status = 'pending'",
        )
        .bind(release_id)
        .bind(status.as_str())
        .bind(reason)
        .execute(&mut *tx)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "Release v{} is already {}.",
                release.version, release.status
            )));
        }
        if status == ReleaseStatus::Succeeded {
            sync_formation_to_build(&mut tx, release.app_id, release.build_id).await?;
        }
        tx.commit().await?;
        self.release_by_id(release_id).await
    }
}
