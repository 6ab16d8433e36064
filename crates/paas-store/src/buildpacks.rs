//! An app's buildpack list (`buildpack_installation`), read by every build and replaced
//! whole by `PUT /apps/{app}/buildpack-installations`.

use paas_core::buildpacks::Buildpack;
use uuid::Uuid;

use crate::{Store, StoreError};

impl Store {
    /// The app's buildpacks in order; empty: the build detects one.
    pub async fn buildpacks(&self, app_id: Uuid) -> Result<Vec<Buildpack>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "select buildpack from buildpack_installation where app_id = $1 order by ordinal",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(raw,)| {
                Buildpack::parse(&raw)
                    .map_err(|e| StoreError::corrupt(format!("buildpack {raw:?}: {e}")))
            })
            .collect()
    }

    /// Replaces the app's list (under its row lock, so two replacements never mix).
    pub async fn set_buildpacks(&self, app_id: Uuid, list: &[Buildpack]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let locked: Option<(Uuid,)> =
            sqlx::query_as("select app_id from app where app_id = $1 for update")
                .bind(app_id)
                .fetch_optional(&mut *tx)
                .await?;
        if locked.is_none() {
            return Err(StoreError::not_found("app"));
        }
        sqlx::query("delete from buildpack_installation where app_id = $1")
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        for (ordinal, buildpack) in list.iter().enumerate() {
            sqlx::query(
                "insert into buildpack_installation (app_id, ordinal, buildpack) values ($1, $2, $3)",
            )
            .bind(app_id)
            .bind(i32::try_from(ordinal).unwrap_or(i32::MAX))
            .bind(buildpack.name())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl Store {
    /// Records the runtime lines (`{"python": "3.14"}`) a build runs on.
    pub async fn set_build_runtimes(
        &self,
        build_id: Uuid,
        runtimes: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        sqlx::query("update build set runtimes = $2 where build_id = $1")
            .bind(build_id)
            .bind(sqlx::types::Json(runtimes))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The `kind` runtime line of the app's last succeeded build that had one.
    pub async fn last_runtime_line(
        &self,
        app_id: Uuid,
        kind: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as(
            "select runtimes ->> $2 from build
             where app_id = $1 and status = $3 and runtimes ? $2
             order by created_at desc limit 1",
        )
        .bind(app_id)
        .bind(kind)
        .bind(crate::BuildStatus::Succeeded)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(line,)| line))
    }
}
