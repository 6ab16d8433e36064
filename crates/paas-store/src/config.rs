use std::collections::BTreeMap;

use paas_core::{ConfigChange, ConfigVars};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::releases::{Release, ReleaseStatus, current_build, insert_release, lock_app};
use crate::{Store, StoreError};

pub(crate) async fn read_config(
    tx: &mut Transaction<'static, Postgres>,
    app_id: Uuid,
) -> Result<ConfigVars, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select key, value from config_var where app_id = $1")
            .bind(app_id)
            .fetch_all(&mut **tx)
            .await?;
    Ok(ConfigVars::from_stored(rows.into_iter().collect()))
}

pub(crate) async fn replace_config(
    tx: &mut Transaction<'static, Postgres>,
    app_id: Uuid,
    vars: &BTreeMap<String, String>,
) -> Result<(), StoreError> {
    sqlx::query("delete from config_var where app_id = $1")
        .bind(app_id)
        .execute(&mut **tx)
        .await?;
    let (keys, values): (Vec<&str>, Vec<&str>) =
        vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).unzip();
    sqlx::query(
        "insert into config_var (app_id, key, value)
         select $1, k, v from unnest($2::text[], $3::text[]) as t(k, v)",
    )
    .bind(app_id)
    .bind(keys)
    .bind(values)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Store {
    pub async fn config_vars(&self, app_id: Uuid) -> Result<ConfigVars, StoreError> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("select key, value from config_var where app_id = $1")
                .bind(app_id)
                .fetch_all(&self.pool)
                .await?;
        Ok(ConfigVars::from_stored(rows.into_iter().collect()))
    }

    /// Applies a config change and appends its release in one transaction. Returns the
    /// resulting config and the new release, or no release when nothing changed.
    pub async fn update_config(
        &self,
        app_id: Uuid,
        change: &ConfigChange,
    ) -> Result<(ConfigVars, Option<Release>), StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_app(&mut tx, app_id).await?;
        let current = read_config(&mut tx, app_id).await?;
        let Some((next, description)) = current.apply(change)? else {
            return Ok((current, None));
        };
        replace_config(&mut tx, app_id, next.as_map()).await?;
        let build = current_build(&mut tx, app_id).await?;
        let snapshot =
            serde_json::to_value(next.as_map()).map_err(|e| StoreError::Conflict(e.to_string()))?;
        let release_id = insert_release(
            &mut tx,
            app_id,
            build,
            &snapshot,
            &description,
            ReleaseStatus::Succeeded,
        )
        .await?;
        tx.commit().await?;
        let release = self.release_by_id(release_id).await?;
        Ok((next, Some(release)))
    }
}
