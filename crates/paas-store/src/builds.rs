use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_core::Procfile;
use uuid::Uuid;

use crate::{Store, StoreError};

/// A build's outcome, as `build.status` holds it (text, checked by `build_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum BuildStatus {
    Pending,
    Succeeded,
    Failed,
}

impl BuildStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Pending => "pending",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
        }
    }
}

impl std::fmt::Display for BuildStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wire's word for a status, for callers that compare with it.
impl PartialEq<&str> for BuildStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Build {
    pub build_id: Uuid,
    pub app_id: Uuid,
    pub status: BuildStatus,
    pub source_version: Option<String>,
    pub image: Option<String>,
    pub process_types: sqlx::types::Json<BTreeMap<String, String>>,
    pub buildpacks: sqlx::types::Json<Vec<String>>,
    pub output: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewBuild<'a> {
    pub source_version: &'a str,
    pub buildpacks: &'a [String],
}

/// Why a build or release a previous paasd left unfinished was failed at start-up.
pub const INTERRUPTED_BY_RESTART: &str = "interrupted by a restart of the platform";

const SELECT_BUILD: &str = "select build_id, app_id, status, source_version, image,
    process_types, buildpacks, output, created_at, updated_at from build";

impl Store {
    pub async fn create_build(&self, app_id: Uuid, new: NewBuild<'_>) -> Result<Build, StoreError> {
        let build_id = Uuid::now_v7();
        sqlx::query(
            "insert into build (build_id, app_id, source_version, buildpacks) values ($1, $2, $3, $4)",
        )
        .bind(build_id)
        .bind(app_id)
        .bind(new.source_version)
        .bind(sqlx::types::Json(new.buildpacks))
        .execute(&self.pool)
        .await?;
        self.build(app_id, build_id).await
    }

    /// Records a build's outcome: the image (by id) and process types on success.
    pub async fn finish_build(
        &self,
        build_id: Uuid,
        outcome: Result<(&str, &Procfile), ()>,
        output: &str,
    ) -> Result<(), StoreError> {
        let (status, image, types) = match outcome {
            Ok((image, procfile)) => {
                let types: BTreeMap<&str, &str> = procfile
                    .entries()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                (BuildStatus::Succeeded, Some(image), types)
            }
            Err(()) => (BuildStatus::Failed, None, BTreeMap::new()),
        };
        let done = sqlx::query(
            "update build set status = $2, image = $3, process_types = $4, output = $5,
                    updated_at = now()
              where build_id = $1 and status = 'pending'",
        )
        .bind(build_id)
        .bind(status)
        .bind(image)
        .bind(sqlx::types::Json(types))
        .bind(output)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "That build has already finished.".into(),
            ));
        }
        Ok(())
    }

    /// Fails every build still pending. Only for paasd's start-up, before it runs any
    /// build: a pending build then belonged to a previous paasd, which is gone, so
    /// nothing will ever finish it (and so it can never be released). The reason ends
    /// its output. Returns the builds it failed.
    pub async fn fail_interrupted_builds(&self) -> Result<Vec<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(
            "update build set status = $1, updated_at = now(),
                    output = case when output = '' or right(output, 1) = chr(10) then output
                                  else output || chr(10) end || $2
              where status = $3 returning build_id",
        )
        .bind(BuildStatus::Failed)
        .bind(format!(" !     The build was {INTERRUPTED_BY_RESTART}.\n"))
        .bind(BuildStatus::Pending)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn builds(&self, app_id: Uuid) -> Result<Vec<Build>, StoreError> {
        let sql = format!("{SELECT_BUILD} where app_id = $1 order by created_at");
        Ok(sqlx::query_as::<_, Build>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The first release made from a build, if any.
    pub async fn release_of_build(&self, build_id: Uuid) -> Result<Option<Uuid>, StoreError> {
        Ok(sqlx::query_scalar(
            "select release_id from release where build_id = $1 order by version limit 1",
        )
        .bind(build_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn build(&self, app_id: Uuid, build_id: Uuid) -> Result<Build, StoreError> {
        let sql = format!("{SELECT_BUILD} where app_id = $1 and build_id = $2");
        sqlx::query_as::<_, Build>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .bind(build_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("build"))
    }
}
