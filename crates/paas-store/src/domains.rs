//! Custom domains: extra hostnames an app answers on (its default one is derived).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Domain {
    pub domain_id: Uuid,
    pub app_id: Uuid,
    pub hostname: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Store {
    pub async fn domains(&self, app_id: Uuid) -> Result<Vec<Domain>, StoreError> {
        Ok(sqlx::query_as::<_, Domain>(
            "select domain_id, app_id, hostname, created_at, updated_at from domain where app_id = $1 order by hostname",
        )
        .bind(app_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Adds a hostname (already validated and lowercased by the caller).
    pub async fn add_domain(&self, app_id: Uuid, hostname: &str) -> Result<Domain, StoreError> {
        sqlx::query_as::<_, Domain>(
            "insert into domain (domain_id, app_id, hostname) values ($1, $2, $3)
             returning domain_id, app_id, hostname, created_at, updated_at",
        )
        .bind(Uuid::now_v7())
        .bind(app_id)
        .bind(hostname)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some("domain_hostname_key") => {
                StoreError::Conflict(format!(
                    "The domain {hostname} is already in use by an app."
                ))
            }
            _ => e.into(),
        })
    }

    /// Removes a domain named by hostname or id.
    pub async fn remove_domain(
        &self,
        app_id: Uuid,
        id_or_hostname: &str,
    ) -> Result<Domain, StoreError> {
        let id = Uuid::parse_str(id_or_hostname).ok();
        sqlx::query_as::<_, Domain>(
            "delete from domain where app_id = $1 and (hostname = lower($2) or domain_id = $3)
             returning domain_id, app_id, hostname, created_at, updated_at",
        )
        .bind(app_id)
        .bind(id_or_hostname)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or_else(|| StoreError::not_found("domain"))
    }
}
