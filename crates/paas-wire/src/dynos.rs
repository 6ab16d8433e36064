//! `/apps/{app}/dynos`: the formation's dynos and one-off dynos.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::{IdName, ReleaseRefBody, timestamp};

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
    /// The cluster node it runs on (`PAAS_RUNTIME=swarm`); absent on a single engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

/// A machine that runs dynos (`GET /nodes`): a Swarm node, or the one engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Node {
    pub name: String,
    /// Where its published dyno ports are reached; `null` on a single engine.
    pub addr: Option<String>,
    /// `ready`, `down`, `disconnected`, `unknown`
    pub state: String,
    /// `active`, `pause`, `drain`
    pub availability: String,
    pub manager: bool,
    /// This installation's formation dynos running there.
    pub dynos: usize,
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
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::common::whole_number"
    )]
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
}
