//! Heroku Platform API v3 shapes (see `shared/reference/heroku-platform-api.md`).
//!
//! This is the only crate that derives serde for the API, so the server (`paas-api`) and
//! the client (`paas-cli`) read and write exactly the same JSON. Fields the heroku CLI
//! reads are always sent, with `null` where paas has no such concept.

pub mod addons;

pub use addons::{
    Addon, AddonAttachment, AddonCreate, AddonPlan, AddonResolve, AddonService, AttachmentCreate,
    AttachmentResolve,
};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Number(n) => return Ok(QuantityChange::To(n)),
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

/// A map of environment values that may be strings, numbers or booleans.
mod scalar_env {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Number(serde_json::Number),
        Bool(bool),
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, String>>, D::Error> {
        let Some(map) = Option::<BTreeMap<String, Scalar>>::deserialize(d)? else {
            return Ok(None);
        };
        Ok(Some(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Scalar::Text(s) => s,
                        Scalar::Number(n) => n.to_string(),
                        Scalar::Bool(b) => b.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        ))
    }
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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    pub id: Uuid,
    pub version: i32,
    pub description: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Why a release failed (its release command, or web dynos that never served);
    /// a paas addition, absent on Heroku.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub current: bool,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
    pub slug: Option<IdRef>,
    pub user: Owner,
    pub app: IdName,
    pub addon_plan_names: Vec<String>,
    pub output_stream_url: Option<String>,
    /// Whether `rollback` may target this release (the heroku CLI's bare `rollback`
    /// picks the second newest eligible one).
    #[serde(default)]
    pub eligible_for_rollback: bool,
}

/// `POST /apps/{app}/releases`: roll back to this release (id, or version as text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReleaseCreate {
    pub release: String,
}

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

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Dyno {
    pub id: Uuid,
    /// `web.1`
    pub name: String,
    #[serde(rename = "type")]
    pub process_type: String,
    /// `starting`, `up`, `crashed`, `down`
    pub state: String,
    pub command: String,
    pub size: String,
    pub release: Option<ReleaseRefBody>,
    pub app: IdName,
    pub attach_url: Option<String>,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Domain {
    pub id: Uuid,
    pub hostname: String,
    /// `heroku` for the app's default hostname, `custom` for added ones.
    pub kind: String,
    pub cname: Option<String>,
    pub status: String,
    /// Heroku's ACM status: `pending`, `cert issued`, `failing`, `disabled`; `null` for
    /// the default hostname (served with the operator's or the local CA's certificate).
    pub acm_status: Option<String>,
    /// The CA's reason when `failing`.
    #[serde(default)]
    pub acm_status_reason: Option<String>,
    /// When the domain's ACME certificate expires (paas's own field).
    #[serde(default, with = "timestamp::option")]
    pub acm_expires_at: Option<DateTime<Utc>>,
    /// The uploaded certificate (`{id, name}`) that covers this hostname, if any.
    #[serde(default)]
    pub sni_endpoint: Option<serde_json::Value>,
    pub app: IdName,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// An uploaded certificate (`/apps/{app}/sni-endpoints`, `heroku certs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SniEndpoint {
    pub id: Uuid,
    pub name: String,
    pub display_name: Option<String>,
    pub app: IdName,
    pub certificate_chain: String,
    /// Ids of the app's domains the certificate covers.
    pub domains: Vec<Uuid>,
    pub ssl_cert: SslCert,
    #[serde(with = "timestamp")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub updated_at: DateTime<Utc>,
}

/// What a certificate says about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SslCert {
    pub id: Uuid,
    pub cert_domains: Vec<String>,
    #[serde(with = "timestamp")]
    pub expires_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub starts_at: DateTime<Utc>,
    pub issuer: String,
    pub subject: String,
    /// Not self-signed (paas does not check the chain against a trust store).
    #[serde(rename = "ca_signed?")]
    pub ca_signed: bool,
    #[serde(rename = "self_signed?")]
    pub self_signed: bool,
    pub acm: bool,
}

/// `POST`/`PATCH /apps/{app}/sni-endpoints` body: PEM text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SniEndpointCreate {
    pub certificate_chain: String,
    pub private_key: String,
}

/// `PATCH /apps/{app}/domains/{domain}` body (`heroku domains:update --cert NAME`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainUpdate {
    #[serde(default)]
    pub sni_endpoint: Option<String>,
}

/// `PATCH /apps/{app}/acm` body (`heroku certs:auto:refresh`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcmUpdate {
    #[serde(default)]
    pub acm_refresh: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DomainCreate {
    pub hostname: String,
}

/// `POST /apps/{app}/dynos`: a one-off dyno.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DynoCreate {
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<bool>,
    /// Extra environment. The heroku CLI on a terminal sends `COLUMNS` and `LINES` as
    /// numbers: numbers and booleans are taken as their text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "scalar_env::deserialize"
    )]
    pub env: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub process_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_to_live: Option<i64>,
    /// An attached dyno gets a terminal unless this is true (`heroku run --no-tty`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_no_tty: Option<bool>,
}

/// The last line of an attached one-off dyno's stream, carrying its exit status.
pub const EXIT_STATUS_PREFIX: &str = "::paas-exit-status:: ";

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

    #[test]
    fn formation_uses_the_type_field_name() {
        let u: FormationBatchUpdate =
            serde_json::from_str(r#"{"updates":[{"type":"web","quantity":3,"size":"basic"}]}"#)
                .unwrap();
        assert_eq!(u.updates[0].process_type, "web");
        assert_eq!(u.updates[0].quantity, Some(QuantityChange::To(3)));
    }

    #[test]
    fn one_off_env_values_may_be_numbers_as_the_heroku_cli_sends_them_on_a_terminal() {
        let body: DynoCreate = serde_json::from_str(
            r#"{"command":"bash","attach":true,"env":{"COLUMNS":120,"LINES":30,"TERM":"xterm","X":true}}"#,
        )
        .unwrap();
        let env = body.env.unwrap();
        assert_eq!(env["COLUMNS"], "120");
        assert_eq!(env["LINES"], "30");
        assert_eq!(env["TERM"], "xterm");
        assert_eq!(env["X"], "true");
        for bad in [r#"{"A":null}"#, r#"{"A":[1]}"#, r#"{"A":{}}"#, "[]"] {
            let body = format!(r#"{{"command":"x","env":{bad}}}"#);
            assert!(serde_json::from_str::<DynoCreate>(&body).is_err(), "{bad}");
        }
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

/// `POST /apps/{app}/log-sessions`: which lines to stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogSessionCreate {
    /// A dyno (`web.1`), a process type (`web`) or `router`.
    #[serde(default)]
    pub dyno: Option<String>,
    /// Lines of history (default 100, at most 1,500).
    #[serde(default)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Seconds {
    Number(u64),
    Text(String),
}
