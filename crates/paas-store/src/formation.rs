use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_core::formation::formation_for_release;
use paas_core::{FormationEntry, ProcessType, Procfile, Quantity, ScaleChange};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use crate::releases::lock_app;
use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Formation {
    pub formation_id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    #[sqlx(rename = "type")]
    pub process_type: String,
    pub quantity: i32,
    pub size: String,
    pub command: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_FORMATION: &str = "select f.formation_id, f.app_id, a.name as app_name, f.type,
    f.quantity, f.size, f.command, f.created_at, f.updated_at
  from formation f join app a using (app_id)";

/// The process types a build declared, as a Procfile.
pub(crate) fn build_processes(process_types: &serde_json::Value) -> Result<Procfile, StoreError> {
    let map: BTreeMap<String, String> = serde_json::from_value(process_types.clone())
        .map_err(|e| StoreError::Conflict(format!("stored process types are malformed: {e}")))?;
    let mut entries = BTreeMap::new();
    for (kind, command) in map {
        entries.insert(ProcessType::parse(&kind)?, command);
    }
    Ok(Procfile::from_entries(entries))
}

/// Makes the formation follow the process types of `build` (none: no processes), keeping
/// the quantities of types that stay (the rule lives in `paas_core::formation`).
pub(crate) async fn sync_formation_to_build(
    tx: &mut Transaction<'static, Postgres>,
    app_id: Uuid,
    build_id: Option<Uuid>,
) -> Result<(), StoreError> {
    let processes = match build_id {
        Some(build_id) => {
            let types: serde_json::Value =
                sqlx::query_scalar("select process_types from build where build_id = $1")
                    .bind(build_id)
                    .fetch_one(&mut **tx)
                    .await?;
            build_processes(&types)?
        }
        None => Procfile::default(),
    };
    let rows: Vec<(String, i32, String)> =
        sqlx::query_as("select type, quantity, command from formation where app_id = $1")
            .bind(app_id)
            .fetch_all(&mut **tx)
            .await?;
    let mut current = Vec::new();
    for (kind, quantity, command) in rows {
        current.push(FormationEntry {
            process_type: ProcessType::parse(&kind)?,
            quantity: Quantity::new(i64::from(quantity))?,
            command,
        });
    }
    let next = formation_for_release(&current, &processes);
    let keep: Vec<&str> = next.iter().map(|e| e.process_type.as_str()).collect();
    sqlx::query("delete from formation where app_id = $1 and type <> all($2::text[])")
        .bind(app_id)
        .bind(&keep)
        .execute(&mut **tx)
        .await?;
    for entry in &next {
        sqlx::query(
            "insert into formation (formation_id, app_id, type, quantity, command)
             values ($1, $2, $3, $4, $5)
             on conflict (app_id, type) do update
               set command = excluded.command, quantity = excluded.quantity, updated_at = now()",
        )
        .bind(Uuid::now_v7())
        .bind(app_id)
        .bind(entry.process_type.as_str())
        .bind(entry.quantity.get() as i32)
        .bind(&entry.command)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Store {
    pub async fn formation(&self, app_id: Uuid) -> Result<Vec<Formation>, StoreError> {
        let sql = format!("{SELECT_FORMATION} where f.app_id = $1 order by f.type");
        Ok(sqlx::query_as::<_, Formation>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Sets quantities of existing process types, all or nothing. A type the current
    /// release does not have is an error naming it (as on Heroku). Relative changes are
    /// resolved here, under the app's lock, so concurrent `web+1`s each count.
    pub async fn scale(
        &self,
        app_id: Uuid,
        updates: &[(ProcessType, ScaleChange)],
    ) -> Result<Vec<Formation>, StoreError> {
        let mut tx = self.pool.begin().await?;
        lock_app(&mut tx, app_id).await?;
        for (kind, change) in updates {
            let current: Option<i32> = sqlx::query_scalar(
                "select quantity from formation where app_id = $1 and type = $2",
            )
            .bind(app_id)
            .bind(kind.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let current =
                current.ok_or_else(|| StoreError::UnknownProcessType(kind.to_string()))?;
            let quantity = change.resolve(Quantity::new(current.into())?)?;
            let done = sqlx::query(
                "update formation set quantity = $3, updated_at = now()
                  where app_id = $1 and type = $2",
            )
            .bind(app_id)
            .bind(kind.as_str())
            .bind(quantity.get() as i32)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::UnknownProcessType(kind.to_string()));
            }
        }
        tx.commit().await?;
        self.formation(app_id).await
    }
}
