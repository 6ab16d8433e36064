//! Certificates: ACME accounts, each custom domain's certificate state (Heroku's ACM:
//! `pending`, `issued`, `failing` with the CA's reason, `disabled`), the same for apps'
//! default hosts when `PAAS_DOMAIN` is a public name (`host_cert`), and uploaded
//! certificates (SNI endpoints). Secrets (account credentials, private keys) are stored
//! as the caller sealed them; this module never sees them in the clear.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{Store, StoreError};

/// A custom domain (or an app's default host) with its certificate state, as the ACME
/// manager and the API see it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct DomainCert {
    /// The custom domain's id; for a default host, the app's.
    pub domain_id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub hostname: String,
    /// The app's automated certificate management switch.
    pub acm_enabled: bool,
    /// `pending`, `issued`, `failing` or `disabled`.
    pub status: String,
    pub reason: Option<String>,
    pub failures: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub chain_pem: Option<String>,
    pub key_sealed: Option<Vec<u8>>,
    pub not_after: Option<DateTime<Utc>>,
    pub issued_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The app's default host `<app>.<PAAS_DOMAIN>` (a `host_cert` row), not a custom
    /// domain.
    pub default_host: bool,
}

/// An uploaded certificate.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SniEndpoint {
    pub endpoint_id: Uuid,
    pub app_id: Uuid,
    pub app_name: String,
    pub name: String,
    pub chain_pem: String,
    pub key_sealed: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_DOMAIN_CERT: &str = "select d.domain_id, d.app_id, a.name as app_name, d.hostname,
        coalesce(acm.enabled, true) as acm_enabled,
        coalesce(c.status, 'pending') as status, c.reason, coalesce(c.failures, 0) as failures,
        coalesce(c.next_attempt_at, d.created_at) as next_attempt_at,
        c.chain_pem, c.key_sealed, c.not_after, c.issued_at,
        coalesce(c.updated_at, d.updated_at) as updated_at, false as default_host
    from domain d
    join app a on a.app_id = d.app_id
    left join app_acm acm on acm.app_id = d.app_id
    left join domain_cert c on c.domain_id = d.domain_id";

/// Each app's default host under `$1` (PAAS_DOMAIN) with its certificate state; a row
/// stored for another hostname (the app or the domain renamed) does not count.
const SELECT_HOST_CERT: &str = "select a.app_id as domain_id, a.app_id, a.name as app_name,
        a.name || '.' || $1 as hostname,
        coalesce(acm.enabled, true) as acm_enabled,
        coalesce(c.status, 'pending') as status, c.reason, coalesce(c.failures, 0) as failures,
        coalesce(c.next_attempt_at, a.created_at) as next_attempt_at,
        c.chain_pem, c.key_sealed, c.not_after, c.issued_at,
        coalesce(c.updated_at, a.updated_at) as updated_at, true as default_host
    from app a
    left join app_acm acm on acm.app_id = a.app_id
    left join host_cert c on c.app_id = a.app_id and c.hostname = a.name || '.' || $1";

const SELECT_ENDPOINT: &str = "select e.endpoint_id, e.app_id, a.name as app_name, e.name,
        e.chain_pem, e.key_sealed, e.created_at, e.updated_at
    from sni_endpoint e join app a on a.app_id = e.app_id";

impl Store {
    /// The sealed credentials of the ACME account at `directory_url`, if one was made.
    pub async fn acme_account(&self, directory_url: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sqlx::query_scalar(
            "select credentials_sealed from acme_account where directory_url = $1",
        )
        .bind(directory_url)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub async fn save_acme_account(
        &self,
        directory_url: &str,
        sealed: &[u8],
    ) -> Result<(), StoreError> {
        sqlx::query(
            "insert into acme_account (directory_url, credentials_sealed) values ($1, $2)
             on conflict (directory_url) do update set credentials_sealed = excluded.credentials_sealed",
        )
        .bind(directory_url)
        .bind(sealed)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every custom domain of every app, with its certificate state.
    pub async fn domain_certs(&self) -> Result<Vec<DomainCert>, StoreError> {
        let sql = format!("{SELECT_DOMAIN_CERT} order by d.hostname");
        Ok(sqlx::query_as::<_, DomainCert>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// One app's custom domains with their certificate state.
    pub async fn app_domain_certs(&self, app_id: Uuid) -> Result<Vec<DomainCert>, StoreError> {
        let sql = format!("{SELECT_DOMAIN_CERT} where d.app_id = $1 order by d.hostname");
        Ok(sqlx::query_as::<_, DomainCert>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every app's default host `<app>.<domain>` with its certificate state.
    pub async fn default_host_certs(&self, domain: &str) -> Result<Vec<DomainCert>, StoreError> {
        let sql = format!("{SELECT_HOST_CERT} order by a.name");
        Ok(sqlx::query_as::<_, DomainCert>(sqlx::AssertSqlSafe(sql))
            .bind(domain)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The app's default host `<app>.<domain>` with its certificate state, when the ACME
    /// manager has recorded one (it orders them only under a public `PAAS_DOMAIN`).
    pub async fn default_host_cert(
        &self,
        app_id: Uuid,
        domain: &str,
    ) -> Result<Option<DomainCert>, StoreError> {
        let sql = format!("{SELECT_HOST_CERT} where a.app_id = $2 and c.hostname is not null");
        Ok(sqlx::query_as::<_, DomainCert>(sqlx::AssertSqlSafe(sql))
            .bind(domain)
            .bind(app_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Deletes the default-host certificates of hosts no longer served: another app
    /// name or PAAS_DOMAIN, or (`domain` `None`) no per-host certificates at all.
    pub async fn prune_host_certs(&self, domain: Option<&str>) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "delete from host_cert c where $1::text is null or not exists (
                 select 1 from app a where a.app_id = c.app_id and a.name || '.' || $1 = c.hostname)",
        )
        .bind(domain)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Is automated certificate management on for the app (it is unless disabled)?
    pub async fn acm_enabled(&self, app_id: Uuid) -> Result<bool, StoreError> {
        let enabled: Option<bool> =
            sqlx::query_scalar("select enabled from app_acm where app_id = $1")
                .bind(app_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(enabled.unwrap_or(true))
    }

    /// Switches ACM; switching it on (or refreshing) makes every domain of the app due
    /// for an attempt now, with its failure count reset.
    pub async fn set_acm(&self, app_id: Uuid, enabled: bool) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "insert into app_acm (app_id, enabled) values ($1, $2)
             on conflict (app_id) do update set enabled = excluded.enabled",
        )
        .bind(app_id)
        .bind(enabled)
        .execute(&mut *tx)
        .await?;
        if enabled {
            sqlx::query(
                "update domain_cert set failures = 0, next_attempt_at = now(), updated_at = now(),
                        status = case when status = 'disabled' then 'pending' else status end
                 where domain_id in (select domain_id from domain where app_id = $1)",
            )
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "update host_cert set failures = 0, next_attempt_at = now(), updated_at = now(),
                        status = case when status = 'disabled' then 'pending' else status end
                 where app_id = $1",
            )
            .bind(app_id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// `certs:auto:refresh`: every domain of the app is re-ordered now (even one whose
    /// certificate is still good).
    pub async fn refresh_acm(&self, app_id: Uuid) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for sql in [
            "update domain_cert set failures = 0, next_attempt_at = now(), updated_at = now(),
                    not_after = case when not_after is null then null else least(not_after, now()) end
             where domain_id in (select domain_id from domain where app_id = $1)",
            "update host_cert set failures = 0, next_attempt_at = now(), updated_at = now(),
                    not_after = case when not_after is null then null else least(not_after, now()) end
             where app_id = $1",
        ] {
            sqlx::query(sql).bind(app_id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A certificate was issued for `cert`'s name (its first, or a renewal).
    pub async fn record_issued(
        &self,
        cert: &DomainCert,
        chain_pem: &str,
        key_sealed: &[u8],
        not_after: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = if cert.default_host {
            "insert into host_cert (hostname, app_id, status, reason, failures, next_attempt_at,
                                    chain_pem, key_sealed, not_after, issued_at, updated_at)
             values ($5, $1, 'issued', null, 0, now(), $2, $3, $4, now(), now())
             on conflict (hostname) do update set app_id = excluded.app_id, status = 'issued',
                 reason = null, failures = 0,
                 chain_pem = excluded.chain_pem, key_sealed = excluded.key_sealed,
                 not_after = excluded.not_after, issued_at = now(), updated_at = now()"
        } else {
            "insert into domain_cert (domain_id, status, reason, failures, next_attempt_at,
                                      chain_pem, key_sealed, not_after, issued_at, updated_at)
             select $1, 'issued', null, 0, now(), $2, $3, $4, now(), now()
             from domain where domain_id = $1 and hostname = $5
             on conflict (domain_id) do update set status = 'issued', reason = null, failures = 0,
                 chain_pem = excluded.chain_pem, key_sealed = excluded.key_sealed,
                 not_after = excluded.not_after, issued_at = now(), updated_at = now()"
        };
        sqlx::query(sql)
            .bind(cert.domain_id)
            .bind(chain_pem)
            .bind(key_sealed)
            .bind(not_after)
            .bind(&cert.hostname)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// An order failed: `failing` with the CA's reason, next try at `next_attempt_at`.
    /// A certificate the name already has is kept (it goes on serving).
    pub async fn record_failure(
        &self,
        cert: &DomainCert,
        reason: &str,
        next_attempt_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let sql = if cert.default_host {
            "insert into host_cert (hostname, app_id, status, reason, failures, next_attempt_at, updated_at)
             values ($4, $1, 'failing', $2, 1, $3, now())
             on conflict (hostname) do update set status = 'failing', reason = excluded.reason,
                 failures = host_cert.failures + 1, next_attempt_at = excluded.next_attempt_at,
                 updated_at = now()"
        } else {
            "insert into domain_cert (domain_id, status, reason, failures, next_attempt_at, updated_at)
             select $1, 'failing', $2, 1, $3, now() from domain where domain_id = $1 and hostname = $4
             on conflict (domain_id) do update set status = 'failing', reason = excluded.reason,
                 failures = domain_cert.failures + 1, next_attempt_at = excluded.next_attempt_at,
                 updated_at = now()"
        };
        sqlx::query(sql)
            .bind(cert.domain_id)
            .bind(reason)
            .bind(next_attempt_at)
            .bind(&cert.hostname)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets the status without touching the certificate (`disabled`, back to `pending`).
    pub async fn set_domain_cert_status(
        &self,
        cert: &DomainCert,
        status: &str,
    ) -> Result<(), StoreError> {
        let sql = if cert.default_host {
            "insert into host_cert (hostname, app_id, status, updated_at) values ($3, $1, $2, now())
             on conflict (hostname) do update set status = excluded.status, reason = null,
                 updated_at = now()
             where host_cert.status <> excluded.status"
        } else {
            "insert into domain_cert (domain_id, status, updated_at)
             select $1, $2, now() from domain where domain_id = $1 and hostname = $3
             on conflict (domain_id) do update set status = excluded.status, reason = null,
                 updated_at = now()
             where domain_cert.status <> excluded.status"
        };
        sqlx::query(sql)
            .bind(cert.domain_id)
            .bind(status)
            .bind(&cert.hostname)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Stores an uploaded certificate under a new name (`<adjective>-<n>` chosen by
    /// the caller).
    pub async fn add_sni_endpoint(
        &self,
        app_id: Uuid,
        name: &str,
        chain_pem: &str,
        key_sealed: &[u8],
    ) -> Result<SniEndpoint, StoreError> {
        sqlx::query(
            "insert into sni_endpoint (endpoint_id, app_id, name, chain_pem, key_sealed)
             values ($1, $2, $3, $4, $5)",
        )
        .bind(Uuid::now_v7())
        .bind(app_id)
        .bind(name)
        .bind(chain_pem)
        .bind(key_sealed)
        .execute(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.constraint() == Some("sni_endpoint_name_key") => {
                StoreError::Conflict(format!("An SNI endpoint named {name} already exists."))
            }
            _ => e.into(),
        })?;
        self.sni_endpoint(app_id, name).await
    }

    pub async fn sni_endpoints(&self, app_id: Uuid) -> Result<Vec<SniEndpoint>, StoreError> {
        let sql = format!("{SELECT_ENDPOINT} where e.app_id = $1 order by e.name");
        Ok(sqlx::query_as::<_, SniEndpoint>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Every uploaded certificate (for the router's table).
    pub async fn all_sni_endpoints(&self) -> Result<Vec<SniEndpoint>, StoreError> {
        let sql = format!("{SELECT_ENDPOINT} order by e.name");
        Ok(sqlx::query_as::<_, SniEndpoint>(sqlx::AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?)
    }

    /// An app's endpoint by name or id.
    pub async fn sni_endpoint(
        &self,
        app_id: Uuid,
        name_or_id: &str,
    ) -> Result<SniEndpoint, StoreError> {
        let sql = format!(
            "{SELECT_ENDPOINT} where e.app_id = $1 and (e.name = $2 or e.endpoint_id = $3)"
        );
        sqlx::query_as::<_, SniEndpoint>(sqlx::AssertSqlSafe(sql))
            .bind(app_id)
            .bind(name_or_id)
            .bind(Uuid::parse_str(name_or_id).ok())
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::not_found("SNI endpoint"))
    }

    pub async fn update_sni_endpoint(
        &self,
        app_id: Uuid,
        name_or_id: &str,
        chain_pem: &str,
        key_sealed: &[u8],
    ) -> Result<SniEndpoint, StoreError> {
        let current = self.sni_endpoint(app_id, name_or_id).await?;
        sqlx::query(
            "update sni_endpoint set chain_pem = $2, key_sealed = $3, updated_at = now()
             where endpoint_id = $1",
        )
        .bind(current.endpoint_id)
        .bind(chain_pem)
        .bind(key_sealed)
        .execute(&self.pool)
        .await?;
        self.sni_endpoint(app_id, &current.name).await
    }

    pub async fn remove_sni_endpoint(
        &self,
        app_id: Uuid,
        name_or_id: &str,
    ) -> Result<SniEndpoint, StoreError> {
        let current = self.sni_endpoint(app_id, name_or_id).await?;
        sqlx::query("delete from sni_endpoint where endpoint_id = $1")
            .bind(current.endpoint_id)
            .execute(&self.pool)
            .await?;
        Ok(current)
    }
}
