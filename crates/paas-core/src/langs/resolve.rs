//! Which runtime line an app gets: what the platform offers (`OFFERS`, the stack's own
//! lines), and `resolve`, the newest offered line that the language's request admits, or
//! the default, or `Unavailable` naming what is offered.

use super::{Language, SourceFiles, go, java, nodejs, php, python, ruby};

/// A runtime this platform offers: one image per line (`go 1.25`), or the stack itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    /// `go`, `ruby`, `jdk`, `php`, `python`, `nodejs`.
    pub kind: &'static str,
    /// The release line (`1.25`, `21`, `3.14`): the image's tag.
    pub line: &'static str,
    /// Where the request came from (`go.mod`, `system.properties`), or `default`.
    pub source: String,
    /// Shown to the user: `Go`, `Java`, `Python` ...
    pub label: &'static str,
}

impl Runtime {
    /// `None` when the stack image already carries this runtime.
    pub fn image(&self, stack_lines: &[(&str, &str)]) -> Option<String> {
        (!stack_lines.contains(&(self.kind, self.line)))
            .then(|| format!("paas/runtime_{}:{}", self.kind, self.line))
    }
}

/// The runtimes the stack image itself provides (no runtime image needed).
pub const STACK_RUNTIMES: &[(&str, &str)] = &[("python", "3.13"), ("nodejs", "20")];

/// What each language offers, newest last, and its default (Heroku's are the newest
/// Debian ships in its stable release).
pub const OFFERS: &[(&str, &str, &[&str], &str)] = &[
    ("go", "Go", &["1.24", "1.25", "1.26", "1.27"], "1.24"),
    ("ruby", "Ruby", &["3.3"], "3.3"),
    ("jdk", "Java", &["21", "25"], "21"),
    ("php", "PHP", &["8.4"], "8.4"),
    ("python", "Python", &["3.13", "3.14"], "3.13"),
    ("nodejs", "Node.js", &["20", "22", "24"], "20"),
];

fn offer(
    kind: &str,
) -> (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
) {
    OFFERS
        .iter()
        .copied()
        .find(|o| o.0 == kind)
        .unwrap_or(("", "", &[], ""))
}

/// Every runtime image the platform can make (`paasd stack build --all`).
pub fn all_runtime_images() -> Vec<Runtime> {
    OFFERS
        .iter()
        .flat_map(|&(kind, label, lines, _)| {
            lines.iter().map(move |&line| Runtime {
                kind,
                line,
                source: "default".to_owned(),
                label,
            })
        })
        .filter(|r| r.image(STACK_RUNTIMES).is_some())
        .collect()
}

/// A version request the platform cannot satisfy: the message lists what it offers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Unavailable(pub String);

fn list(lines: &[&str]) -> String {
    match lines {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The runtime a language's app asks for, or why it cannot have it. `None`: the language
/// needs no runtime beyond the stack's tools (static sites, Procfile apps).
pub fn resolve(lang: Language, files: &SourceFiles) -> Result<Option<Runtime>, Unavailable> {
    resolve_after(lang, files, None)
}

/// [`resolve`], with the line the app's last build ran on (`3.14`), which Heroku's Python
/// keeps when the source asks for nothing (its step between Pipfile.lock and the default).
/// A last line the platform no longer offers is passed over for the default.
pub fn resolve_after(
    lang: Language,
    files: &SourceFiles,
    last_build: Option<&str>,
) -> Result<Option<Runtime>, Unavailable> {
    let (kind, request) = match lang {
        Language::Go => ("go", go::request(files)),
        Language::Ruby => ("ruby", ruby::request(files)),
        Language::Java => ("jdk", java::request(files)),
        Language::Php => ("php", php::request(files)),
        Language::Python => ("python", python::request(files)),
        Language::Nodejs => ("nodejs", nodejs::request(files)),
        Language::Static | Language::Procfile => return Ok(None),
    };
    let (kind, label, lines, default) = offer(kind);
    let request = request.or_else(|| {
        let last = last_build.filter(|_| lang == Language::Python)?;
        lines
            .contains(&last)
            .then(|| line_request(last, "the app's last build"))
    });
    let pick = |line: &'static str, source: String| Runtime {
        kind,
        line,
        source,
        label,
    };
    let Some(request) = request else {
        return Ok(Some(pick(default, "default".to_owned())));
    };
    let chosen = match &request.wanted {
        Wanted::Line(wanted) => lines.iter().copied().find(|l| {
            wanted == l
                || wanted
                    .strip_prefix(l)
                    .is_some_and(|rest| rest.starts_with('.'))
        }),
        // The newest line the constraint admits.
        Wanted::Matching(admits) => lines.iter().rev().copied().find(|l| admits(l)),
    };
    match chosen {
        Some(line) => Ok(Some(pick(line, request.source))),
        None => Err(Unavailable(format!(
            "{label} {} isn't available (requested in {}); this platform offers {label} {}. Change {} to one of those.",
            request.text,
            request.source,
            list(lines),
            request.source
        ))),
    }
}

pub(super) enum Wanted {
    /// A version (`1.25`, `1.25.3`, `3.14`): the line it belongs to.
    Line(String),
    /// A constraint (`^8.2`, `>=20 <25`): does it admit some version of this line?
    Matching(Box<dyn Fn(&str) -> bool>),
}

pub(super) struct Request {
    pub(super) wanted: Wanted,
    pub(super) text: String,
    pub(super) source: String,
}

pub(super) fn line_request(text: &str, source: &str) -> Request {
    Request {
        wanted: Wanted::Line(text.to_owned()),
        text: text.to_owned(),
        source: source.to_owned(),
    }
}
