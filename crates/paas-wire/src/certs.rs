//! `/apps/{app}/sni-endpoints`: uploaded certificates.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, timestamp};

/// An uploaded certificate (`/apps/{app}/sni-endpoints`, `heroku certs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SniEndpoint {
    pub id: Uuid,
    pub name: String,
    pub display_name: Option<String>,
    pub app: IdName,
    pub certificate_chain: String,
    /// Ids of the app's domains the certificate covers.
    pub domains: Vec<Uuid>,
    pub ssl_cert: SslCert,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SslCert {
    pub id: Uuid,
    pub cert_domains: Vec<String>,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub starts_at: DateTime<Utc>,
    pub issuer: String,
    pub subject: String,
    /// Not self-signed (paas does not check the chain against a trust store).
    #[serde(rename = "ca_signed?")]
    pub ca_signed: bool,
    #[serde(rename = "self_signed?")]
    pub self_signed: bool,
    pub acm: bool,
}

/// `POST`/`PATCH /apps/{app}/sni-endpoints` body: PEM text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SniEndpointCreate {
    pub certificate_chain: String,
    pub private_key: String,
}
