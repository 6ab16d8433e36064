//! paas's own add-on operations beyond Heroku's platform API (the heroku CLI's `pg:*`
//! talk to its data host instead): daily backup schedules, credential rotation, and the
//! console dyno of `pg:psql` / `redis:cli`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::IdName;

/// `PUT /addons/{addon}/backup-schedule`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupScheduleSet {
    /// `HH:MM` with an optional time zone (`02:00 Europe/Paris`; default UTC).
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^\s*[0-9]{1,2}:[0-9]{2}(\s+[A-Za-z0-9/_+-]{1,64})?\s*$")
    )]
    pub at: String,
    /// How many scheduled backups to keep (default 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 90))]
    pub keep: Option<i64>,
}

/// A Postgres add-on's daily backup schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BackupSchedule {
    pub addon: IdName,
    /// `02:00 Europe/Paris`.
    pub at: String,
    pub timezone: String,
    pub keep: i64,
    /// When it runs next.
    #[serde(with = "crate::timestamp")]
    pub next_at: DateTime<Utc>,
    /// The due time of its last run (or of the last one found missed).
    #[serde(with = "crate::timestamp::option")]
    pub last_run_for: Option<DateTime<Utc>>,
}

/// `POST /addons/{addon}/actions/rotate-credentials`: the owning app's name again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialsRotate {
    pub confirm: String,
}

/// A release a rotation made on an attached app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AppRelease {
    pub app: IdName,
    pub version: i32,
    pub description: String,
}

/// A rotation's outcome: one release per attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialsRotated {
    pub addon: IdName,
    pub releases: Vec<AppRelease>,
}
