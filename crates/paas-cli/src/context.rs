//! What every command gets: the API client, the output mode, and the way it learns which
//! app it is about (`-a APP`, else the git remote of the current repository).

use clap::Args;
use paas_core::AppName;
use serde_json::Value;

use crate::client::{self, Client};
use crate::{Error, Result, output, repo};

pub struct Context {
    pub client: Client,
    /// `--json`: print the API's JSON instead of text for people.
    pub json: bool,
}

impl Context {
    pub fn new(client: Client, json: bool) -> Self {
        Self { client, json }
    }

    pub fn print(&self, text: &str) -> Result<()> {
        Ok(output::print(text)?)
    }

    pub fn print_json(&self, value: &Value) -> Result<()> {
        Ok(output::print_json(value)?)
    }

    /// Deserializes a raw answer into a `paas-wire` shape.
    pub fn decode<T: serde::de::DeserializeOwned>(&self, value: Value) -> Result<T> {
        Ok(client::decode(value)?)
    }
}

/// `-a/--app` and `-r/--remote`, flattened into every command that is about one app.
#[derive(Debug, Clone, Default, Args)]
pub struct AppArg {
    /// The app to act on [default: the app of the `paas` (or `heroku`) git remote]
    #[arg(short, long, value_name = "APP", value_parser = AppName::parse)]
    pub app: Option<AppName>,
    /// The git remote that names the app, when -a is not given
    #[arg(short, long, value_name = "REMOTE")]
    pub remote: Option<String>,
}

impl AppArg {
    pub fn named(app: AppName) -> Self {
        Self {
            app: Some(app),
            remote: None,
        }
    }

    /// The app given with `-a`, else the one the git remote points at.
    pub async fn resolve(&self) -> Result<AppName> {
        if let Some(app) = &self.app {
            return Ok(app.clone());
        }
        let candidates: Vec<&str> = match &self.remote {
            Some(remote) => vec![remote.as_str()],
            None => repo::INFERENCE_REMOTES.to_vec(),
        };
        match repo::infer_app(&candidates).await? {
            Some((_, app)) => Ok(app),
            None => Err(Error::Refused(match &self.remote {
                Some(remote) => format!(
                    "git remote {remote:?} does not exist here or does not point at a paas app; \
                     pass -a APP"
                ),
                None => "no app given: pass -a APP, or run this in a git repository with a \
                         `paas` remote (add one with `paas git:remote -a APP`)"
                    .to_owned(),
            })),
        }
    }
}

/// `/apps/<app><rest>`; app names are DNS labels, so they need no escaping.
pub fn app_path(app: &AppName, rest: &str) -> String {
    format!("/apps/{app}{rest}")
}
