//! Buildpack installations (`/apps/{app}/buildpack-installations`) and the buildpack
//! registry's look-up answer, in the shapes the heroku CLI's `buildpacks:*` commands use.

use serde::{Deserialize, Serialize};

use crate::BuildpackRef;

/// One entry of an app's list; `ordinal` is 0-based.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildpackInstallation {
    pub ordinal: i32,
    pub buildpack: BuildpackRef,
}

/// `PUT` body: the whole new list, in order (`updates: []` clears it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildpackInstallationsUpdate {
    pub updates: Vec<BuildpackUpdate>,
}

/// One entry of the new list. The heroku CLI sends `{}` when its registry look-up found
/// nothing, so `buildpack` is optional here and refused by the server when missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BuildpackUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildpack: Option<String>,
}

/// `GET /buildpacks/{namespace}%2F{name}` of the buildpack registry, as much as the heroku
/// CLI reads (`blob_url` is what it puts into `updates`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegistryBuildpack {
    pub name: String,
    pub namespace: String,
    pub blob_url: String,
    pub description: String,
}
