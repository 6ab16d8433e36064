//! `/apps/{app}/log-sessions` and `/apps/{app}/log-drains`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, timestamp};

/// `POST /apps/{app}/log-sessions`: which lines to stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogSessionCreate {
    /// A dyno (`web.1`), a process type (`web`) or `router`.
    #[serde(default)]
    pub dyno: Option<String>,
    /// Lines of history (default 100, at most 1,500).
    #[serde(default, deserialize_with = "crate::common::whole_number")]
    pub lines: Option<i64>,
    /// `app` or `heroku`.
    #[serde(default)]
    pub source: Option<String>,
    /// Keep the stream open for new lines.
    #[serde(default)]
    pub tail: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogSession {
    pub id: Uuid,
    /// Where the lines stream from (no credentials needed: the URL is the secret).
    pub logplex_url: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogDrain {
    pub id: Uuid,
    pub url: String,
    /// Sent with each line so a receiver can tell drains apart.
    pub token: String,
    /// Add-on drains do not exist in paas.
    pub addon: Option<IdName>,
    pub app: IdName,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogDrainCreate {
    pub url: String,
}
