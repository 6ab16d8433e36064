//! `/oauth/authorizations`: API tokens in Heroku's shape.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, timestamp};

/// `/oauth/authorizations`: one per API token (`heroku authorizations`). paas has no OAuth
/// clients or grants; those members are always `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthAuthorization {
    pub id: Uuid,
    /// The token's name.
    pub description: String,
    pub scope: Vec<String>,
    pub access_token: Option<OAuthAccessToken>,
    pub refresh_token: Option<OAuthAccessToken>,
    pub grant: Option<IdName>,
    pub client: Option<OAuthClient>,
    pub user: OAuthUser,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthAccessToken {
    pub id: Uuid,
    /// The secret: only when just made, or when it is the caller's own (paas keeps only a
    /// hash); `null` otherwise.
    pub token: Option<String>,
    /// Seconds until it expires; `null`: never.
    pub expires_in: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthClient {
    pub id: Uuid,
    pub name: String,
    pub redirect_uri: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthUser {
    pub id: Uuid,
    pub email: String,
    pub full_name: Option<String>,
}

/// `POST /oauth/authorizations`. The heroku CLI sends `expires_in` as a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OAuthAuthorizationCreate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<Seconds>,
}

/// A number of seconds, as a JSON number or a string of digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Seconds {
    Number(u64),
    Text(String),
}

impl<'de> Deserialize<'de> for Seconds {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(u64),
            // JSON Schema's integer 60.0 is 60.
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Seconds::Number(n)),
            Raw::Float(f) => crate::common::whole(f)
                .and_then(|n| u64::try_from(n).ok())
                .map(Seconds::Number)
                .ok_or_else(|| serde::de::Error::custom(format!("{f} is not a number of seconds"))),
            Raw::Text(text) => Ok(Seconds::Text(text)),
        }
    }
}
