use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{AppKey, Store, StoreError, app_key};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct App {
    pub app_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the current release was made.
    pub released_at: Option<DateTime<Utc>>,
    /// Visitors get the router's maintenance page; the dynos keep running.
    pub maintenance: bool,
    /// Automated certificate management is on (`app_acm`; on unless switched off).
    pub acm: bool,
}

// One round trip for everything `GET /apps/{app}` shows (ACM included).
const SELECT_APP: &str = "select a.app_id, a.name, a.created_at, a.updated_at, a.maintenance,
    c.created_at as released_at,
    coalesce((select m.enabled from app_acm m where m.app_id = a.app_id), true) as acm
  from app a left join current_release c using (app_id)";

impl Store {
    pub async fn apps(&self) -> Result<Vec<App>, StoreError> {
        let sql = format!("{SELECT_APP} order by a.name");
        Ok(sqlx::query_as::<_, App>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// Looks an app up by id or by name.
    pub async fn app(&self, id_or_name: &str) -> Result<App, StoreError> {
        let row = match app_key(id_or_name) {
            AppKey::Id(id) => {
                let sql = format!("{SELECT_APP} where a.app_id = $1");
                sqlx::query_as::<_, App>(sqlx::AssertSqlSafe(sql))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?
            }
            AppKey::Name(name) => {
                let sql = format!("{SELECT_APP} where a.name = $1");
                sqlx::query_as::<_, App>(sqlx::AssertSqlSafe(sql))
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?
            }
        };
        row.ok_or_else(|| StoreError::not_found("app"))
    }

    /// Turns maintenance mode on or off; returns the app as it is now.
    pub async fn set_maintenance(&self, app_id: Uuid, on: bool) -> Result<App, StoreError> {
        sqlx::query(
            "update app set maintenance = $2, updated_at = now()
              where app_id = $1 and maintenance <> $2",
        )
        .bind(app_id)
        .bind(on)
        .execute(&self.pool)
        .await?;
        // Also when nothing changed; a missing app is NotFound here.
        self.app(&app_id.to_string()).await
    }

    /// Destroys an app with its whole history in one statement (the cascade is the one
    /// deletion the ledger's trigger lets through).
    pub async fn delete_app(&self, app_id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("delete from app where app_id = $1")
            .bind(app_id)
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::not_found("app"));
        }
        Ok(())
    }
}
