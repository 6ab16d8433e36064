//! Log drains and the collector's per-container read positions.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct LogDrain {
    pub drain_id: Uuid,
    pub app_id: Uuid,
    /// The app's name, for the forwarder (it subscribes to the stream by name).
    pub app_name: String,
    pub url: String,
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const DRAIN_COLUMNS: &str =
    "d.drain_id, d.app_id, a.name as app_name, d.url, d.token, d.created_at, d.updated_at";

/// An app may have this many drains, as on Heroku.
pub const MAX_DRAINS_PER_APP: i64 = 5;

impl Store {
    pub async fn log_drains(&self, app_id: Uuid) -> Result<Vec<LogDrain>, StoreError> {
        Ok(sqlx::query_as::<_, LogDrain>(sqlx::AssertSqlSafe(format!(
            "select {DRAIN_COLUMNS} from log_drain d join app a using (app_id)
             where d.app_id = $1 order by d.created_at, d.drain_id"
        )))
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every app's drains: what the forwarders should be running.
    pub async fn all_log_drains(&self) -> Result<Vec<LogDrain>, StoreError> {
        Ok(sqlx::query_as::<_, LogDrain>(sqlx::AssertSqlSafe(format!(
            "select {DRAIN_COLUMNS} from log_drain d join app a using (app_id) order by d.drain_id"
        )))
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds a drain (its URL already validated by the caller).
    pub async fn add_log_drain(&self, app_id: Uuid, url: &str) -> Result<LogDrain, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The app row lock serializes adds, so the per-app limit holds under concurrency.
        sqlx::query("select 1 from app where app_id = $1 for update")
            .bind(app_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError::not_found("app"))?;
        let count: i64 = sqlx::query_scalar("select count(*) from log_drain where app_id = $1")
            .bind(app_id)
            .fetch_one(&mut *tx)
            .await?;
        if count >= MAX_DRAINS_PER_APP {
            return Err(StoreError::Limit(format!(
                "An app can have at most {MAX_DRAINS_PER_APP} log drains."
            )));
        }
        let drain_id = Uuid::new_v4();
        sqlx::query("insert into log_drain (drain_id, app_id, url, token) values ($1, $2, $3, $4)")
            .bind(drain_id)
            .bind(app_id)
            .bind(url)
            .bind(format!("d.{}", Uuid::new_v4()))
            .execute(&mut *tx)
            .await
            .map_err(|e| match &e {
                sqlx::Error::Database(db)
                    if db.constraint() == Some("log_drain_app_id_url_key") =>
                {
                    StoreError::Conflict(format!("The drain {url} is already added to this app."))
                }
                _ => e.into(),
            })?;
        let drain = sqlx::query_as::<_, LogDrain>(sqlx::AssertSqlSafe(format!(
            "select {DRAIN_COLUMNS} from log_drain d join app a using (app_id) where d.drain_id = $1"
        )))
        .bind(drain_id)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(drain)
    }

    /// Removes a drain named by id, URL or token.
    pub async fn remove_log_drain(
        &self,
        app_id: Uuid,
        which: &str,
    ) -> Result<LogDrain, StoreError> {
        let id = Uuid::parse_str(which).ok();
        sqlx::query_as::<_, LogDrain>(sqlx::AssertSqlSafe(format!(
            "with gone as (
                delete from log_drain where app_id = $1 and (url = $2 or token = $2 or drain_id = $3)
                returning *
             )
             select {DRAIN_COLUMNS} from gone d join app a using (app_id)"
        )))
        .bind(app_id)
        .bind(which)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("drain"))
    }

    /// Where reading each of these containers' output stopped (nanoseconds since the epoch).
    pub async fn log_cursors(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(
            sqlx::query_as("select container_id, last_ns from log_cursor")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// Records read positions in one statement; a position never moves back.
    pub async fn save_log_cursors(&self, cursors: &[(String, i64)]) -> Result<(), StoreError> {
        if cursors.is_empty() {
            return Ok(());
        }
        let (ids, positions): (Vec<&str>, Vec<i64>) =
            cursors.iter().map(|(id, ns)| (id.as_str(), *ns)).unzip();
        sqlx::query(
            "insert into log_cursor (container_id, last_ns)
             select * from unnest($1::text[], $2::bigint[])
             on conflict (container_id) do update
               set last_ns = greatest(log_cursor.last_ns, excluded.last_ns), updated_at = now()",
        )
        .bind(ids)
        .bind(positions)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the positions of containers that no longer exist.
    pub async fn forget_log_cursors(&self, containers: &[String]) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("delete from log_cursor where container_id = any($1)")
                .bind(containers)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
