//! An app's current config vars (the `config_var` table): reads. Changing them makes a
//! release, so the writes are in `ledger.rs`.

use paas_core::ConfigVars;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::{Store, StoreError};

/// The app's config vars, through the pool or inside a transaction.
pub(crate) async fn read_config<'c>(
    conn: impl PgExecutor<'c>,
    app_id: Uuid,
) -> Result<ConfigVars, StoreError> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("select key, value from config_var where app_id = $1")
            .bind(app_id)
            .fetch_all(conn)
            .await?;
    Ok(ConfigVars::from_stored(rows.into_iter().collect()))
}

impl Store {
    pub async fn config_vars(&self, app_id: Uuid) -> Result<ConfigVars, StoreError> {
        read_config(&self.pool, app_id).await
    }
}
