//! `/apps/{app}/builds`.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, IdRef, Owner, timestamp};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceBlob {
    pub url: Option<String>,
    pub version: Option<String>,
    pub checksum: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildpackRef {
    pub url: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Build {
    pub id: Uuid,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    pub output_stream_url: Option<String>,
    pub source_blob: SourceBlob,
    pub release: Option<IdRef>,
    pub slug: Option<IdRef>,
    pub buildpacks: Vec<BuildpackRef>,
    pub stack: String,
    pub user: Owner,
    pub app: IdName,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}
