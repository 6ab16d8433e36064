//! `/apps/{app}/formation`: process types and their quantities.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{IdName, timestamp};

/// A formation quantity as clients send it. A number, or a numeric string (the heroku CLI
/// sends `ps:scale web=2` as `"2"`), sets it; a signed string (`"+1"`, `"-2"`, what
/// `heroku ps:scale web+1` sends) changes it relative to the current quantity, which the
/// server resolves under the app's lock so that two relative changes never lose one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuantityChange {
    To(i64),
    By(i64),
}

impl Serialize for QuantityChange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            QuantityChange::To(n) => s.serialize_i64(*n),
            QuantityChange::By(n) => s.serialize_str(&format!("{n:+}")),
        }
    }
}

impl<'de> Deserialize<'de> for QuantityChange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Float(f64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Number(n) => return Ok(QuantityChange::To(n)),
            // JSON Schema's integer 2.0 is 2.
            Raw::Float(f) => {
                return crate::common::whole(f)
                    .map(QuantityChange::To)
                    .ok_or_else(|| {
                        serde::de::Error::custom(format!("quantity {f} is not a whole number"))
                    });
            }
            Raw::Text(text) => text,
        };
        let text = text.trim();
        let (sign, digits) = match text.as_bytes().first() {
            Some(b'+') => (Some(1), &text[1..]),
            Some(b'-') => (Some(-1), &text[1..]),
            _ => (None, text),
        };
        let n: Option<i64> = (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| digits.parse().ok())
            .flatten();
        match (sign, n) {
            (None, Some(n)) => Ok(QuantityChange::To(n)),
            (Some(sign), Some(n)) => Ok(QuantityChange::By(sign * n)),
            _ => Err(serde::de::Error::custom(format!(
                "quantity {text:?} is neither a whole number nor a change like \"+1\" or \"-2\""
            ))),
        }
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for QuantityChange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(100)),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[+-]?[0-9]{1,3}$")),
            )
            .description(Some(
                "A quantity (0 to 100, a number or a numeric string), or a change of the \
                 current one (\"+1\", \"-2\")",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for QuantityChange {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Formation {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub process_type: String,
    pub quantity: i64,
    pub size: String,
    pub command: String,
    pub app: IdName,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormationUpdate {
    /// `paas_core::ProcessType`: a letter, then letters, digits, `_` or `-` (30 at most).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(pattern = "^[A-Za-z][A-Za-z0-9_-]{0,29}$"))]
    pub process_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<QuantityChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

/// `PATCH /apps/{app}/formation`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormationBatchUpdate {
    pub updates: Vec<FormationUpdate>,
}

/// `PATCH /apps/{app}/formation/{type}`
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormationTypeUpdate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<QuantityChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formation_uses_the_type_field_name() {
        let u: FormationBatchUpdate =
            serde_json::from_str(r#"{"updates":[{"type":"web","quantity":3,"size":"basic"}]}"#)
                .unwrap();
        assert_eq!(u.updates[0].process_type, "web");
        assert_eq!(u.updates[0].quantity, Some(QuantityChange::To(3)));
    }

    #[test]
    fn quantities_may_be_numeric_strings_or_signed_changes_as_the_heroku_cli_sends_them() {
        let u: FormationBatchUpdate =
            serde_json::from_str(r#"{"updates":[{"type":"web","quantity":"2"}]}"#).unwrap();
        assert_eq!(u.updates[0].quantity, Some(QuantityChange::To(2)));
        let u: FormationTypeUpdate = serde_json::from_str(r#"{"quantity":null}"#).unwrap();
        assert_eq!(u.quantity, None);
        for (text, change) in [
            (r#""+1""#, QuantityChange::By(1)),
            (r#""-12""#, QuantityChange::By(-12)),
            (r#"" 3 ""#, QuantityChange::To(3)),
            ("-4", QuantityChange::To(-4)),
        ] {
            let body = format!(r#"{{"quantity":{text}}}"#);
            let u: FormationTypeUpdate = serde_json::from_str(&body).unwrap();
            assert_eq!(u.quantity, Some(change), "{text}");
            // What it sends is what it reads.
            let again = serde_json::to_string(&u).unwrap();
            assert_eq!(
                serde_json::from_str::<FormationTypeUpdate>(&again).unwrap(),
                u
            );
        }
        for bad in [
            r#""two""#,
            r#""""#,
            r#""+""#,
            r#""1.5""#,
            r#""+-1""#,
            r#""99999999999999999999""#,
            "1.5",
            "true",
        ] {
            let body = format!(r#"{{"quantity":{bad}}}"#);
            assert!(
                serde_json::from_str::<FormationTypeUpdate>(&body).is_err(),
                "{bad}"
            );
        }
    }
}
