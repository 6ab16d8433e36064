//! An app's buildpack list (Heroku's buildpack installations): bundled buildpacks by
//! name, or an app's own (a git URL or an absolute path on the paas server), run in
//! order at every build.
//!
//! Heroku's names and URLs of its official buildpacks (`heroku/python`,
//! `urn:buildpack:heroku/python`, the registry's and codon's `.tgz` URLs, the
//! `heroku-buildpack-python` repository) all mean the bundled buildpack of that language:
//! Heroku's own fetch their runtimes from Heroku's servers and cannot run here, and the
//! heroku CLI sends the registry's URL for `buildpacks:add heroku/python`.

use crate::ParseError;
use crate::langs::Language;

/// At most this many buildpacks per app.
pub const MAX_BUILDPACKS: usize = 8;

/// Where the heroku CLI's registry look-up points `heroku/<name>` (its `blob_url`).
const REGISTRY: &str = "https://buildpack-registry.s3.amazonaws.com/buildpacks/";
const CODON: &str = "https://codon-buildpacks.s3.amazonaws.com/buildpacks/";
const URN: &str = "urn:buildpack:";
const GITHUB: &str = "https://github.com/heroku/heroku-buildpack-";

/// One entry of an app's buildpack list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Buildpack {
    /// One of `buildpacks/`.
    Bundled(Language),
    /// An app's own: a git URL (`#ref` picks a branch or tag) or an absolute path.
    Url(String),
}

impl Buildpack {
    /// Reads what a user or the heroku CLI names a buildpack by.
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let raw = raw.trim();
        if let Some(lang) = bundled(raw) {
            return Ok(Self::Bundled(lang));
        }
        let is_git = ["https://", "http://", "git://", "ssh://", "git@", "file://"]
            .iter()
            .any(|p| raw.starts_with(p));
        if raw.starts_with('/') || is_git {
            if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(ParseError::new(
                    "buildpack",
                    format!("The buildpack URL {raw:?} contains whitespace."),
                ));
            }
            return Ok(Self::Url(raw.to_owned()));
        }
        Err(ParseError::new(
            "buildpack",
            format!(
                "paas has no buildpack {raw:?}: name a bundled one ({}), a git URL or an absolute path on the paas server.",
                bundled_names().join(", ")
            ),
        ))
    }

    /// `heroku/python`, or the URL as given: what is stored and shown.
    pub fn name(&self) -> String {
        match self {
            Self::Bundled(lang) => format!("heroku/{}", lang.buildpack()),
            Self::Url(url) => url.clone(),
        }
    }

    /// The installation's `url` as Heroku sends it (`urn:buildpack:heroku/python`; the
    /// heroku CLI strips the prefix when it shows it).
    pub fn wire_url(&self) -> String {
        match self {
            Self::Bundled(_) => format!("{URN}{}", self.name()),
            Self::Url(url) => url.clone(),
        }
    }

    /// The registry's `blob_url` of a bundled buildpack's slug (`heroku/python`).
    pub fn registry_blob_url(slug: &str) -> Option<String> {
        let rest = slug.strip_prefix("heroku/")?;
        let lang = Language::from_buildpack(rest)?;
        Some(format!("{REGISTRY}heroku/{}.tgz", lang.buildpack()))
    }
}

impl std::fmt::Display for Buildpack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

/// The bundled names, as shown (`heroku/ruby`, ...).
pub fn bundled_names() -> Vec<String> {
    Language::ALL
        .iter()
        .map(|l| format!("heroku/{}", l.buildpack()))
        .collect()
}

fn bundled(raw: &str) -> Option<Language> {
    let slug = raw
        .strip_prefix(URN)
        .or_else(|| {
            raw.strip_prefix(REGISTRY)
                .and_then(|r| r.strip_suffix(".tgz"))
        })
        .or_else(|| raw.strip_prefix(CODON).and_then(|r| r.strip_suffix(".tgz")))
        .unwrap_or(raw);
    if let Some(repo) = slug.strip_prefix(GITHUB) {
        let name = repo.split('#').next().unwrap_or(repo);
        let name = name.trim_end_matches('/').trim_end_matches(".git");
        return Language::from_buildpack(name);
    }
    let name = slug.strip_prefix("heroku/").unwrap_or(slug);
    Language::from_buildpack(name)
}

/// A whole new list (Heroku's `PUT` replaces it): every entry parsed, none twice, at
/// most [`MAX_BUILDPACKS`].
pub fn parse_list<S: AsRef<str>>(raw: &[S]) -> Result<Vec<Buildpack>, ParseError> {
    if raw.len() > MAX_BUILDPACKS {
        return Err(ParseError::new(
            "updates",
            format!("An app can have at most {MAX_BUILDPACKS} buildpacks."),
        ));
    }
    let mut list: Vec<Buildpack> = Vec::with_capacity(raw.len());
    for entry in raw {
        let buildpack = Buildpack::parse(entry.as_ref())?;
        if list.contains(&buildpack) {
            return Err(ParseError::new(
                "updates",
                format!("The buildpack {buildpack} is in the list twice."),
            ));
        }
        list.push(buildpack);
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn herokus_names_for_its_buildpacks_mean_the_bundled_ones() {
        for raw in [
            "python",
            "heroku/python",
            "urn:buildpack:heroku/python",
            "https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/python.tgz",
            "https://codon-buildpacks.s3.amazonaws.com/buildpacks/heroku/python.tgz",
            "https://github.com/heroku/heroku-buildpack-python",
            "https://github.com/heroku/heroku-buildpack-python.git#v270",
        ] {
            assert_eq!(
                Buildpack::parse(raw),
                Ok(Buildpack::Bundled(Language::Python)),
                "{raw}"
            );
        }
        let node = Buildpack::parse("heroku/nodejs").unwrap();
        assert_eq!(node.name(), "heroku/nodejs");
        assert_eq!(node.wire_url(), "urn:buildpack:heroku/nodejs");
        assert_eq!(
            Buildpack::registry_blob_url("heroku/nodejs").as_deref(),
            Some("https://buildpack-registry.s3.amazonaws.com/buildpacks/heroku/nodejs.tgz")
        );
        assert_eq!(Buildpack::registry_blob_url("heroku/elixir"), None);
    }

    #[test]
    fn other_buildpacks_are_git_urls_or_server_paths() {
        let url = "https://github.com/someone/buildpack-x.git#v1";
        assert_eq!(Buildpack::parse(url), Ok(Buildpack::Url(url.into())));
        assert_eq!(Buildpack::parse(url).unwrap().wire_url(), url);
        assert_eq!(
            Buildpack::parse("/srv/bp"),
            Ok(Buildpack::Url("/srv/bp".into()))
        );
        for bad in ["heroku/elixir", "elixir", "", "ftp://x", "/srv/my bp"] {
            assert!(Buildpack::parse(bad).is_err(), "{bad}");
        }
        let e = Buildpack::parse("mars/create-react-app").unwrap_err();
        assert!(e.message.contains("heroku/python"), "{e}");
    }

    #[test]
    fn a_list_has_no_duplicates_and_a_bound() {
        assert_eq!(
            parse_list(&["heroku/nodejs", "python"]).unwrap(),
            [
                Buildpack::Bundled(Language::Nodejs),
                Buildpack::Bundled(Language::Python)
            ]
        );
        assert!(parse_list(&["python", "heroku/python"]).is_err());
        assert!(parse_list(&["/a"; MAX_BUILDPACKS + 1]).is_err());
        assert!(parse_list::<&str>(&[]).unwrap().is_empty());
    }
}
