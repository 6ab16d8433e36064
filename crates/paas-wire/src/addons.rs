//! Add-ons, attachments, services and plans in Heroku's shapes (what the heroku CLI's
//! `addons:*` and `pg:*` commands send and read; see
//! `shared/reference/heroku-cli-calls-2.md` §2).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::IdName;

/// A price; paas's are all zero (the CLI prints `free`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Price {
    pub cents: i64,
    pub contract: bool,
    pub unit: String,
    pub metered: bool,
}

impl Price {
    pub fn free() -> Self {
        Self {
            cents: 0,
            contract: false,
            unit: "month".into(),
            metered: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonServiceRef {
    pub id: Uuid,
    /// `heroku-postgresql`, `heroku-redis`.
    pub name: String,
    pub human_name: String,
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonPlanRef {
    pub id: Uuid,
    /// `heroku-postgresql:essential-0` (the CLI needs the `:`).
    pub name: String,
    pub human_name: String,
    pub price: Price,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BillingEntity {
    pub id: Uuid,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// An add-on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Addon {
    pub id: Uuid,
    pub name: String,
    /// The owning (billing) app.
    pub app: IdName,
    pub addon_service: AddonServiceRef,
    pub plan: AddonPlanRef,
    pub billed_price: Price,
    pub billing_entity: BillingEntity,
    /// The config vars its attachments set, on every attached app.
    pub config_vars: Vec<String>,
    /// `provisioning`, `provisioned`, `deprovisioning`, `deprovisioned`.
    pub state: String,
    pub provision_message: Option<String>,
    pub provider_id: String,
    pub web_url: Option<String>,
    pub actions: Vec<serde_json::Value>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// The add-on as an attachment shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentAddon {
    pub id: Uuid,
    pub name: String,
    pub app: IdName,
    pub plan: IdName,
}

/// An attachment: an add-on's URL in one app's config, under a name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonAttachment {
    pub id: Uuid,
    /// `DATABASE`: the app's `DATABASE_URL`.
    pub name: String,
    pub app: IdName,
    pub addon: AttachmentAddon,
    pub namespace: Option<String>,
    pub config_vars: Vec<String>,
    pub web_url: Option<String>,
    pub log_input_url: Option<String>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NameOnly {
    pub name: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OptionalName {
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /apps/{app}/addons`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonCreate {
    /// `SERVICE[:PLAN]`: `heroku-postgresql:essential-0`, `postgresql`, `redis`.
    pub plan: NameOnly,
    /// `{name: "CACHE"}` sets `CACHE_URL`; without it `DATABASE`/`REDIS`.
    #[serde(default)]
    pub attachment: Option<OptionalName>,
    /// Provider options: none are supported; a non-empty object is refused.
    #[serde(default)]
    pub config: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default)]
    pub confirm: Option<String>,
    /// A name of one's own is not supported (names are generated).
    #[serde(default)]
    pub name: Option<String>,
}

/// `POST /addon-attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentCreate {
    pub addon: NameOnly,
    pub app: NameOnly,
    #[serde(default)]
    pub confirm: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
}

/// `POST /actions/addons/resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonResolve {
    pub addon: String,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub addon_service: Option<String>,
}

/// `POST /actions/addon-attachments/resolve`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachmentResolve {
    pub addon_attachment: String,
    #[serde(default)]
    pub app: Option<String>,
    #[serde(default)]
    pub addon_service: Option<String>,
}

/// A service paas offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonService {
    pub id: Uuid,
    pub name: String,
    pub human_name: String,
    pub state: String,
    pub cli_plugin_name: Option<String>,
    pub supports_multiple_installations: bool,
    pub supports_sharing: bool,
}

/// One of a service's plans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonPlan {
    pub id: Uuid,
    pub name: String,
    pub human_name: String,
    pub description: String,
    pub default: bool,
    pub price: Price,
    pub state: String,
    pub addon_service: IdName,
    /// The container's memory.
    pub memory_bytes: i64,
    pub max_connections: u32,
}

/// A backup of a Postgres add-on (`b001`), verified by a restore into a scratch
/// database: `status` is `running`, `verified`, or `failed` with `reason`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AddonBackup {
    pub id: Uuid,
    pub name: String,
    pub addon: IdName,
    pub status: String,
    pub reason: Option<String>,
    pub size_bytes: Option<i64>,
    /// Rows per table (`public.items`) when it was captured.
    pub row_counts: std::collections::BTreeMap<String, i64>,
    #[serde(with = "crate::timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp::option")]
    pub finished_at: Option<DateTime<Utc>>,
}

/// `POST /addons/{addon}/backups/{backup}/actions/restore`: the owning app's name again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRestore {
    pub confirm: String,
}

/// A restore's outcome: what was restored, and the backup of what it replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupRestored {
    pub restored: AddonBackup,
    pub safety: AddonBackup,
}

/// `GET /addons/{addon}/pg-info`: what `paas pg:info` shows of a Postgres add-on, read
/// from the server itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PgInfo {
    pub addon: IdName,
    /// `heroku-postgresql:essential-0`.
    pub plan: String,
    /// `server_version` (`17.6 (Debian 17.6-0+deb13u1)`).
    pub version: String,
    pub size_bytes: i64,
    /// Connections to the add-on's database now.
    pub connections: i64,
    pub connection_limit: i64,
    /// Tables outside the system schemas.
    pub tables: i64,
    #[serde(with = "crate::timestamp::option")]
    pub last_verified_backup_at: Option<DateTime<Utc>>,
}

/// One row of a database's facts on Heroku's data host (`heroku pg:info` prints them
/// in order, skipping rows without values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataInfoRow {
    pub name: String,
    pub values: Vec<String>,
}

/// `GET /client/v11/databases/{addon}` on the data host: the parts `heroku pg:info` and
/// `pg:backups:capture` read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DataDatabase {
    /// The add-on's URL, as its attachments set it.
    pub resource_url: String,
    pub info: Vec<DataInfoRow>,
}

/// A line of a transfer's log (`?verbose=true`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TransferLog {
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    pub message: String,
}

/// A transfer on Heroku's data host: a backup (`pg_dump` → `gof3r`), as `heroku
/// pg:backups` and `pg:backups:capture` read it. `succeeded` is paas's `verified`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Transfer {
    pub uuid: Uuid,
    pub num: i32,
    pub from_type: String,
    pub to_type: String,
    /// The attachment the database is known by (`DATABASE`).
    pub from_name: String,
    pub to_name: String,
    /// Where the dump can be fetched (paas's API path; not a public URL).
    pub to_url: String,
    pub schedule: Option<String>,
    #[serde(with = "crate::timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "crate::timestamp::option")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::timestamp::option")]
    pub canceled_at: Option<DateTime<Utc>>,
    pub succeeded: bool,
    pub warnings: i64,
    pub processed_bytes: i64,
    pub source_bytes: i64,
    pub logs: Vec<TransferLog>,
}
