//! `/account`, `/apps` and their config vars.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::{NamedRef, Owner, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct App {
    pub id: Uuid,
    pub name: String,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "timestamp::option")]
    pub released_at: Option<DateTime<Utc>>,
    pub web_url: String,
    pub git_url: String,
    pub owner: Owner,
    pub region: NamedRef,
    pub stack: NamedRef,
    pub build_stack: NamedRef,
    pub buildpack_provided_description: Option<String>,
    pub maintenance: bool,
    #[serde(with = "timestamp::option")]
    pub archived_at: Option<DateTime<Utc>>,
    pub repo_size: Option<i64>,
    pub slug_size: Option<i64>,
    pub space: Option<serde_json::Value>,
    pub team: Option<serde_json::Value>,
    pub organization: Option<serde_json::Value>,
    pub internal_routing: Option<bool>,
    pub acm: bool,
}

/// `PATCH /apps/{app}` body (`heroku maintenance:on`, `apps:rename`, `stack:set`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<bool>,
    /// Only the current name: paas does not rename apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only the current stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_stack: Option<String>,
}

/// `POST /apps` body; every field optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppCreate {
    /// `paas_core::AppName`: 2–30 of `a-z`, `0-9`, `-`, starting with a letter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^[a-z][a-z0-9-]{0,28}[a-z0-9]$")
    )]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
}

/// Config vars as the API returns them.
pub type ConfigVars = BTreeMap<String, String>;

/// A config-vars PATCH: `null` removes a key.
pub type ConfigVarsPatch = BTreeMap<String, Option<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_second_precision_utc() {
        let account = Account {
            id: Uuid::nil(),
            email: "a@b".into(),
            name: "a".into(),
            created_at: DateTime::parse_from_rfc3339("2026-11-22T14:07:00.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            updated_at: DateTime::parse_from_rfc3339("2026-11-22T14:07:00Z")
                .unwrap()
                .with_timezone(&Utc),
        };
        let json = serde_json::to_value(&account).unwrap();
        assert_eq!(json["created_at"], "2026-11-22T14:07:00Z");
    }

    #[test]
    fn config_patch_null_means_remove() {
        let patch: ConfigVarsPatch = serde_json::from_str(r#"{"A":"1","B":null}"#).unwrap();
        assert_eq!(patch["A"].as_deref(), Some("1"));
        assert_eq!(patch["B"], None);
    }
}
