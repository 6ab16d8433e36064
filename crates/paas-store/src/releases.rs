//! The release ledger's rows and reads; its writes are in `ledger.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_core::ReleaseRef;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{Store, StoreError};

/// A release's outcome, as `release_status.status` holds it (text, checked by the
/// `release_status_value` constraint) and the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
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

impl std::fmt::Display for ReleaseStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire's word for a status: lets callers that compare with it (`status == "failed"`)
/// keep compiling; new code matches on the variants.
impl PartialEq<&str> for ReleaseStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
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
    pub status: ReleaseStatus,
    pub status_reason: Option<String>,
    /// The newest succeeded release is the current one (the `current_release` view).
    pub current: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_RELEASE: &str = "select r.release_id, r.app_id, a.name as app_name, r.version,
    r.build_id, r.config, r.description, s.status, s.reason as status_reason,
    coalesce(c.release_id = r.release_id, false) as current, r.created_at, s.updated_at
  from release r
  join release_status s using (release_id)
  join app a using (app_id)
  left join current_release c on c.app_id = r.app_id";

/// The build of the app's current release, read inside a transaction.
pub(crate) async fn current_build(
    conn: &mut PgConnection,
    app_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    Ok(
        sqlx::query_scalar("select build_id from current_release where app_id = $1")
            .bind(app_id)
            .fetch_optional(conn)
            .await?
            .flatten(),
    )
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
        let sql = format!("{SELECT_RELEASE} where r.app_id = $1 and r.release_id = c.release_id");
        sqlx::query_as::<_, Release>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("release"))
    }
}

/// The config snapshot of the app's current release, read inside a transaction.
pub(crate) async fn current_config(
    conn: &mut PgConnection,
    app_id: Uuid,
) -> Result<Option<BTreeMap<String, String>>, StoreError> {
    let config: Option<sqlx::types::Json<BTreeMap<String, String>>> =
        sqlx::query_scalar("select config from current_release where app_id = $1")
            .bind(app_id)
            .fetch_optional(conn)
            .await?;
    Ok(config.map(|c| c.0))
}
