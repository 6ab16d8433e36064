//! Where the API is and who we are: `PAAS_API_URL` and `PAAS_API_TOKEN`, else the
//! password of the `~/.netrc` entry for the API's host.
//!
//! The netrc fallback is the same file git reads for HTTP basic auth, so one line
//! (`machine 127.0.0.1 login paas password <token>`) serves both `paas` and `git push`.
//! Resolution is a pure function of its inputs ([`Settings::resolve`]) so tests need not
//! touch the process environment.

use std::fmt;
use std::path::{Path, PathBuf};

use reqwest::Url;

use crate::netrc::Netrc;
use crate::{Error, Result};

pub const DEFAULT_API_URL: &str = "http://127.0.0.1:5000";

#[derive(Clone)]
pub struct Settings {
    pub api_url: Url,
    /// The API token; `None` sends no `Authorization` header (the server then answers 401).
    pub token: Option<String>,
}

/// Never shows the token, so `Settings` can be logged or printed while debugging.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("api_url", &self.api_url.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Settings {
    /// Reads `PAAS_API_URL`, `PAAS_API_TOKEN` and `$HOME/.netrc`.
    pub fn from_env() -> Result<Self> {
        let api_url = std::env::var("PAAS_API_URL").ok();
        let token = std::env::var("PAAS_API_TOKEN").ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        Self::resolve(api_url.as_deref(), token, home.as_deref())
    }

    /// An empty variable counts as unset, like most shells' `${VAR:-default}`.
    pub fn resolve(
        api_url: Option<&str>,
        token: Option<String>,
        home: Option<&Path>,
    ) -> Result<Self> {
        // `paas login` to another URL remembers it (`auth::API_URL_FILE`).
        let saved = match (api_url.filter(|u| !u.trim().is_empty()), home) {
            (None, Some(home)) => std::fs::read_to_string(home.join(crate::auth::API_URL_FILE))
                .ok()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty()),
            _ => None,
        };
        let raw = api_url
            .filter(|u| !u.trim().is_empty())
            .or(saved.as_deref())
            .unwrap_or(DEFAULT_API_URL)
            .trim();
        let api_url = parse_api_url(raw)?;
        let token = match token.filter(|t| !t.trim().is_empty()) {
            Some(token) => Some(token.trim().to_owned()),
            None => match home {
                Some(home) => netrc_token(&home.join(".netrc"), &api_url)?,
                None => None,
            },
        };
        Ok(Self { api_url, token })
    }
}

fn parse_api_url(raw: &str) -> Result<Url> {
    let invalid = |why: &str| {
        Error::Environment(format!(
            "PAAS_API_URL {raw:?} is not usable: {why} (expected e.g. {DEFAULT_API_URL})"
        ))
    };
    let url = Url::parse(raw).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none() {
        return Err(invalid("it has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "put credentials in PAAS_API_TOKEN or ~/.netrc, not in the URL",
        ));
    }
    Ok(url)
}

fn netrc_token(path: &Path, api_url: &Url) -> Result<Option<String>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Environment(format!(
                "could not read {}: {e}",
                path.display()
            )));
        }
    };
    let host = api_url.host_str().unwrap_or_default();
    Ok(Netrc::parse(&text).password_for(host).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_to_the_local_api_without_a_token() {
        let s = Settings::resolve(None, None, None).unwrap();
        assert_eq!(s.api_url.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(s.token, None);
        let s = Settings::resolve(Some(""), Some(" ".into()), None).unwrap();
        assert_eq!(s.api_url.as_str(), "http://127.0.0.1:5000/");
        assert_eq!(s.token, None);
    }

    #[test]
    fn the_token_variable_wins_over_netrc() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".netrc"),
            "machine 127.0.0.1 login x password from-netrc\n",
        )
        .unwrap();
        let s = Settings::resolve(None, Some("from-env".into()), Some(home.path())).unwrap();
        assert_eq!(s.token.as_deref(), Some("from-env"));
        let s = Settings::resolve(None, None, Some(home.path())).unwrap();
        assert_eq!(s.token.as_deref(), Some("from-netrc"));
    }

    #[test]
    fn netrc_is_looked_up_by_the_api_host() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".netrc"),
            "machine paas.example login x password remote\n",
        )
        .unwrap();
        let s =
            Settings::resolve(Some("http://paas.example:5000"), None, Some(home.path())).unwrap();
        assert_eq!(s.token.as_deref(), Some("remote"));
        let s = Settings::resolve(None, None, Some(home.path())).unwrap();
        assert_eq!(s.token, None);
    }

    #[test]
    fn a_url_saved_by_login_is_the_default_and_the_variable_wins() {
        let home = tempfile::tempdir().unwrap();
        let file = home.path().join(crate::auth::API_URL_FILE);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, "http://paas.example:5000\n").unwrap();
        let s = Settings::resolve(None, None, Some(home.path())).unwrap();
        assert_eq!(s.api_url.as_str(), "http://paas.example:5000/");
        let s = Settings::resolve(Some("http://other:1"), None, Some(home.path())).unwrap();
        assert_eq!(s.api_url.as_str(), "http://other:1/");
    }

    #[test]
    fn bad_api_urls_name_the_variable() {
        for bad in [
            "127.0.0.1:5000",
            "ftp://x",
            "http://user:pw@host",
            "not a url",
        ] {
            let err = Settings::resolve(Some(bad), None, None).unwrap_err();
            assert!(err.to_string().contains("PAAS_API_URL"), "{bad}: {err}");
        }
    }

    #[test]
    fn debug_output_hides_the_token() {
        let s = Settings::resolve(None, Some("s3cret".into()), None).unwrap();
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
