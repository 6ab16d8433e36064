//! `GET /apps/{app}/start-failures`: paas's own, as Heroku has no such object.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{ReleaseRefBody, timestamp};

/// Why the engine refuses to start an app's dynos, while the supervisor backs off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StartFailure {
    pub release: ReleaseRefBody,
    /// The engine's reason, e.g. `creating the app's network failed: …`.
    pub reason: String,
    /// Refusals in a row.
    pub failures: i32,
    #[serde(with = "timestamp")]
    pub failed_at: DateTime<Utc>,
}
