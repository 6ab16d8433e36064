//! References and errors every resource shares.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The query of git's smart HTTP discovery, `GET /<app>.git/info/refs?service=…`.
#[derive(Debug, Clone, Deserialize)]
pub struct GitServiceQuery {
    pub service: Option<String>,
}

/// `{"id": "not_found", "message": "Couldn't find that app."}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub id: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdName {
    pub id: Uuid,
    pub name: String,
}

/// A named thing with a string id (regions and stacks are not uuids in paas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NamedRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Owner {
    pub id: Uuid,
    pub email: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IdRef {
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseRefBody {
    pub id: Uuid,
    pub version: i32,
}

/// JSON Schema's `integer` takes `3.0` as well as `3`; serde's `i64` does not. An
/// optional whole number in either spelling (a fraction is refused).
pub(crate) fn whole_number<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<i64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Int(i64),
        Float(f64),
    }
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Int(n)) => Ok(Some(n)),
        Some(Raw::Float(f)) => whole(f)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("{f} is not a whole number"))),
    }
}

/// `f` as an `i64` when it is one exactly.
pub(crate) fn whole(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64).then_some(f as i64)
}
