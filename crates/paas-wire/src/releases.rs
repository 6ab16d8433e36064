//! `/apps/{app}/releases`: the ledger.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, IdRef, Owner, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    pub id: Uuid,
    pub version: i32,
    pub description: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Why a release failed (its release command, or web dynos that never served);
    /// a paas addition, absent on Heroku.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub current: bool,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    pub slug: Option<IdRef>,
    pub user: Owner,
    pub app: IdName,
    pub addon_plan_names: Vec<String>,
    pub output_stream_url: Option<String>,
    /// Whether `rollback` may target this release (the heroku CLI's bare `rollback`
    /// picks the second newest eligible one).
    #[serde(default)]
    pub eligible_for_rollback: bool,
}

/// `POST /apps/{app}/releases`: roll back to this release (id, or version as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseCreate {
    pub release: String,
}
