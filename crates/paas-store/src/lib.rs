//! The store: Postgres through sqlx, the only crate that writes SQL.
//!
//! Invariants that matter live in the schema (`migrations/`): unique names, value
//! checks, and the append-only release ledger (a trigger). This crate adds the
//! transactional rules on top, in `ledger.rs`: every change that makes a release runs in
//! a transaction that can only be begun by locking the app's row, so concurrent writers
//! are serialized per app and release versions come out contiguous; config, formation
//! and the new release are written in that one transaction, so a failure leaves nothing
//! half-done. The other modules are filed by table and hold reads and row helpers.

mod addons;
mod apps;
mod backup;
mod backup_schedules;
mod backups;
mod buildpacks;
mod builds;
mod certs;
mod config;
mod domains;
mod dynos;
mod error;
mod formation;
mod ledger;
mod logs;
mod releases;
mod rollout;
mod start_failure;
mod tokens;

pub use addons::{Addon, AddonState, Attachment, NewAddon};
pub use apps::App;
pub use backup::{BackupApp, BackupSnapshot};
pub use backup_schedules::BackupSchedule;
pub use backups::{Backup, BackupStatus};
pub use builds::{Build, BuildStatus, INTERRUPTED_BY_RESTART, NewBuild};
pub use certs::{DomainCert, SniEndpoint};
pub use domains::Domain;
pub use dynos::{DesiredApp, DynoReport, DynoRow};
pub use error::StoreError;
pub use formation::Formation;
pub use logs::{LogDrain, MAX_DRAINS_PER_APP};
pub use releases::{Release, ReleaseStatus};
pub use rollout::{DynoState, Rollout};
pub use start_failure::StartFailure;
pub use tokens::{ApiToken, NewToken, TokenInfo};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::time::Duration;

/// The schema, embedded at compile time from the top-level `migrations/` folder.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Creates database `name` unless it exists, through `admin`: options for a role that may
/// create databases, on a database that exists (`postgres`). paasd's embedded cluster
/// needs this on its first start; the SQL lives here, like all of it.
pub async fn create_database_unless_exists(
    admin: &PgConnectOptions,
    name: &str,
) -> Result<(), StoreError> {
    use sqlx::ConnectOptions;
    let mut conn = admin.connect().await?;
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await?;
    if !exists {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        // An identifier cannot be bound: quoted, as Postgres quotes one.
        sqlx::query(sqlx::AssertSqlSafe(format!("create database {quoted}")))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

/// A pooled connection idle longer than this is pinged before use.
const PING_IDLE_AFTER: Duration = Duration::from_secs(1);

/// A cheap-to-clone handle on the database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    /// The auth cache (`tokens`), shared by every clone.
    tokens: std::sync::Arc<tokens::TokenCache>,
}

impl Store {
    /// Connects lazily: the pool opens connections on first use, so paasd starts (and
    /// answers 503) while Postgres is still away, and recovers when it returns.
    pub fn connect_lazy(options: PgConnectOptions, max_connections: u32) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // sqlx pings every connection it hands out by default: one more round trip,
            // on the request's path, for each one-query request (`GET /apps/{app}` made
            // three: that ping, the query, and sqlx's ping on release, which stays). A
            // connection back in the pool within the last second was working then; only
            // ones idle longer are pinged (sqlx's own recipe), so a Postgres restart
            // still costs no request.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for > PING_IDLE_AFTER {
                        sqlx::Connection::ping(conn).await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Self::from_pool(pool)
    }

    pub fn from_pool(pool: PgPool) -> Self {
        Self {
            pool,
            tokens: Default::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Cheap liveness probe for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// How a request names an app: by uuid or by name.
pub(crate) fn app_key(raw: &str) -> AppKey<'_> {
    match uuid::Uuid::parse_str(raw) {
        Ok(id) if paas_core::release::is_uuid(raw) => AppKey::Id(id),
        _ => AppKey::Name(raw),
    }
}

pub(crate) enum AppKey<'a> {
    Id(uuid::Uuid),
    Name(&'a str),
}
