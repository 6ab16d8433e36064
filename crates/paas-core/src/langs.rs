//! Which bundled buildpack an app's source gets, and which runtime version it asks for,
//! read Heroku's way from the files at the root of the source.
//!
//! The builder must know the runtime before it starts the build container (the container
//! runs on the runtime's image), so detection is done here, on the pushed files, with the
//! same rules as the buildpacks' own `bin/detect` (a test in paas-builder runs both on the
//! fixtures). Pure: the builder hands in the root's entry names and the few small files the
//! rules read.
//!
//! This file holds the source's root (`SourceFiles`) and detection (`Language`,
//! `detect`); `resolve` picks the runtime line from what a language's files ask for
//! (one module per language: `go`, `ruby`, `java`, `php`, `python`, `nodejs`), and
//! `semver` reads the npm, Composer and Ruby ranges they may ask with.

use std::collections::{BTreeMap, BTreeSet};

mod go;
mod java;
mod nodejs;
mod php;
mod python;
mod resolve;
mod ruby;
mod semver;

pub use resolve::{
    OFFERS, Runtime, STACK_RUNTIMES, Unavailable, all_runtime_images, resolve, resolve_after,
};

/// The root files whose text the rules read (everything else is looked at by name only).
pub const READ_FILES: &[&str] = &[
    "go.mod",
    "Gemfile",
    "Gemfile.lock",
    "system.properties",
    "composer.json",
    ".python-version",
    "runtime.txt",
    "Pipfile.lock",
    "package.json",
];

/// The root of a pushed source: the names of its entries and the text of [`READ_FILES`].
#[derive(Debug, Default, Clone)]
pub struct SourceFiles {
    names: BTreeSet<String>,
    texts: BTreeMap<String, String>,
}

impl SourceFiles {
    /// `path` is a path inside the source (`vendor/modules.txt`, `public/index.html`);
    /// every path is kept, so rules can ask for nested files too.
    pub fn add_path(&mut self, path: &str) {
        let path = path.trim_start_matches("./").trim_end_matches('/');
        if !path.is_empty() {
            self.names.insert(path.to_owned());
        }
    }

    pub fn add_text(&mut self, name: &str, text: String) {
        self.add_path(name);
        self.texts.insert(name.to_owned(), text);
    }

    pub fn has(&self, path: &str) -> bool {
        self.names.contains(path)
    }

    /// Whether a directory (any path below it) is present.
    pub fn has_dir(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        self.names
            .range(prefix.clone()..)
            .next()
            .is_some_and(|p| p.starts_with(&prefix))
    }

    fn text(&self, name: &str) -> Option<&str> {
        self.texts.get(name).map(String::as_str)
    }
}

/// A bundled buildpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Ruby,
    Python,
    Nodejs,
    Java,
    Php,
    Go,
    Static,
    Procfile,
}

impl Language {
    /// The buildpack's folder under `buildpacks/`.
    pub fn buildpack(self) -> &'static str {
        match self {
            Self::Ruby => "ruby",
            Self::Python => "python",
            Self::Nodejs => "nodejs",
            Self::Java => "java",
            Self::Php => "php",
            Self::Go => "go",
            Self::Static => "static",
            Self::Procfile => "procfile",
        }
    }

    /// Every bundled buildpack, in the default detection order.
    pub const ALL: [Self; 8] = [
        Self::Ruby,
        Self::Python,
        Self::Nodejs,
        Self::Java,
        Self::Php,
        Self::Go,
        Self::Static,
        Self::Procfile,
    ];

    pub fn from_buildpack(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.buildpack() == name)
    }

    /// The buildpack's `bin/detect` rule: any of these paths.
    pub fn detect_files(self) -> &'static [&'static str] {
        match self {
            Self::Ruby => &["Gemfile"],
            Self::Python => &["requirements.txt", "pyproject.toml", "setup.py"],
            Self::Nodejs => &["package.json"],
            Self::Java => &["pom.xml", "pom.atom", "pom.clj", "pom.groovy", "pom.rb"],
            Self::Php => &["composer.json", "index.php"],
            Self::Go => &["go.mod"],
            Self::Static => &["static.json", "index.html", "public/index.html"],
            Self::Procfile => &["Procfile"],
        }
    }

    pub fn detects(self, files: &SourceFiles) -> bool {
        self.detect_files().iter().any(|n| files.has(n))
    }
}

/// The first buildpack of `order` (folder names) that detects the source.
pub fn detect(order: &[String], files: &SourceFiles) -> Option<Language> {
    order
        .iter()
        .filter_map(|name| Language::from_buildpack(name))
        .find(|l| l.detects(files))
}

#[cfg(test)]
mod tests;
