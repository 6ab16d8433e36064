//! Heroku Platform API v3 shapes (see `shared/reference/heroku-platform-api.md`).
//!
//! This is the only crate that derives serde for the API, so the server (`paas-api`) and
//! the client (`paas-cli`) read and write exactly the same JSON. Fields the heroku CLI
//! reads are always sent, with `null` where paas has no such concept.

pub mod addon_actions;
pub mod addons;

pub use addon_actions::{
    AppRelease, BackupSchedule, BackupScheduleSet, CredentialsRotate, CredentialsRotated,
};

pub use addons::{
    Addon, AddonAttachment, AddonBackup, AddonCreate, AddonPlan, AddonResolve, AddonService,
    AttachmentCreate, AttachmentResolve, BackupRestore, BackupRestored, PgInfo,
};

mod apps;
mod builds;
mod certs;
mod common;
mod domains;
mod dynos;
mod formation;
mod logs;
mod oauth;
mod releases;
mod start_failure;

pub use apps::*;
pub use builds::*;
pub use certs::*;
pub use common::*;
pub use domains::*;
pub use dynos::*;
pub use formation::*;
pub use logs::*;
pub use oauth::*;
pub use releases::*;
pub use start_failure::StartFailure;

mod buildpacks;
pub use buildpacks::{
    BuildpackInstallation, BuildpackInstallationsUpdate, BuildpackUpdate, RegistryBuildpack,
};

/// The media type the heroku CLI sends in `Accept`.
pub const HEROKU_V3_MEDIA_TYPE: &str = "application/vnd.heroku+json; version=3";

/// Timestamps go on the wire at second precision, like Heroku's (`2026-11-22T14:07:00Z`).
pub mod timestamp {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let raw = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&raw)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => super::serialize(t, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let raw = Option::<String>::deserialize(d)?;
            raw.map(|raw| {
                DateTime::parse_from_rfc3339(&raw)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}
