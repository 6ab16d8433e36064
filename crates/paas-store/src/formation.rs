//! The process formation (`formation` table): rows and reads. It changes with releases
//! and scaling, both under the app's row lock, so the writes are in `ledger.rs`.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use paas_core::{FormationEntry, ProcessType, Procfile, Quantity};
use sqlx::PgConnection;
use uuid::Uuid;

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

/// The process types a build declared, as a Procfile. Stored data that does not parse
/// is corrupt (a 500), not the request's fault.
fn build_processes(process_types: &serde_json::Value) -> Result<Procfile, StoreError> {
    let map: BTreeMap<String, String> = serde_json::from_value(process_types.clone())
        .map_err(|e| StoreError::corrupt(format!("a build's process types: {e}")))?;
    let mut entries = BTreeMap::new();
    for (kind, command) in map {
        let kind = ProcessType::parse(&kind)
            .map_err(|e| StoreError::corrupt(format!("a build's process type: {e}")))?;
        entries.insert(kind, command);
    }
    Ok(Procfile::from_entries(entries))
}

/// The process types of `build` (none: no processes), read inside a transaction.
pub(crate) async fn processes_of_build(
    conn: &mut PgConnection,
    build_id: Option<Uuid>,
) -> Result<Procfile, StoreError> {
    let Some(build_id) = build_id else {
        return Ok(Procfile::default());
    };
    let types: serde_json::Value =
        sqlx::query_scalar("select process_types from build where build_id = $1")
            .bind(build_id)
            .fetch_one(conn)
            .await?;
    build_processes(&types)
}

/// The app's formation as domain values, read inside a transaction.
pub(crate) async fn formation_entries(
    conn: &mut PgConnection,
    app_id: Uuid,
) -> Result<Vec<FormationEntry>, StoreError> {
    let rows: Vec<(String, i32, String)> =
        sqlx::query_as("select type, quantity, command from formation where app_id = $1")
            .bind(app_id)
            .fetch_all(conn)
            .await?;
    let mut current = Vec::new();
    for (kind, quantity, command) in rows {
        let corrupt =
            |e: paas_core::ParseError| StoreError::corrupt(format!("a formation row: {e}"));
        current.push(FormationEntry {
            process_type: ProcessType::parse(&kind).map_err(corrupt)?,
            quantity: Quantity::new(i64::from(quantity)).map_err(corrupt)?,
            command,
        });
    }
    Ok(current)
}

impl Store {
    pub async fn formation(&self, app_id: Uuid) -> Result<Vec<Formation>, StoreError> {
        let sql = format!("{SELECT_FORMATION} where f.app_id = $1 order by f.type");
        Ok(sqlx::query_as::<_, Formation>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }
}
