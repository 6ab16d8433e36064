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
    /// `paas_core::Hostname`: at least two dot-separated labels of 1 to 63 letters, digits
    /// and inner dashes, 253 characters at most; surrounding spaces and trailing dots are
    /// dropped and letters lowercased. Not under the platform's own domain.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = r"^[ \t\r\n]*([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.*[ \t\r\n]*$",
            max_length = 253
        )
    )]
    pub hostname: String,
}
