//! `/apps/{app}/domains` and their ACM status.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Domain {
    pub id: Uuid,
    pub hostname: String,
    /// `heroku` for the app's default hostname, `custom` for added ones.
    pub kind: String,
    pub cname: Option<String>,
    pub status: String,
    /// Heroku's ACM status: `pending`, `cert issued`, `failing`, `disabled`; `null` for
    /// the default hostname (served with the operator's or the local CA's certificate).
    pub acm_status: Option<String>,
    /// The CA's reason when `failing`.
    #[serde(default)]
    pub acm_status_reason: Option<String>,
    /// When the domain's ACME certificate expires (paas's own field).
    #[serde(default, with = "timestamp::option")]
    pub acm_expires_at: Option<DateTime<Utc>>,
    /// The uploaded certificate (`{id, name}`) that covers this hostname, if any.
    #[serde(default)]
    pub sni_endpoint: Option<serde_json::Value>,
    pub app: IdName,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// `PATCH /apps/{app}/domains/{domain}` body (`heroku domains:update --cert NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainUpdate {
    #[serde(default)]
    pub sni_endpoint: Option<String>,
}

/// `PATCH /apps/{app}/acm` body (`heroku certs:auto:refresh`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcmUpdate {
    #[serde(default)]
    pub acm_refresh: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainCreate {
    pub hostname: String,
}
