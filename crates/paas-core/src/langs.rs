//! Which bundled buildpack an app's source gets, and which runtime version it asks for,
//! read Heroku's way from the files at the root of the source.
//!
//! The builder must know the runtime before it starts the build container (the container
//! runs on the runtime's image), so detection is done here, on the pushed files, with the
//! same rules as the buildpacks' own `bin/detect` (a test in paas-builder runs both on the
//! fixtures). Pure: the builder hands in the root's entry names and the few small files the
//! rules read.

use std::collections::{BTreeMap, BTreeSet};

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
        Language::Go => ("go", go_request(files)),
        Language::Ruby => ("ruby", ruby_request(files)),
        Language::Java => ("jdk", java_request(files)),
        Language::Php => ("php", php_request(files)),
        Language::Python => ("python", python_request(files)),
        Language::Nodejs => ("nodejs", node_request(files)),
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

enum Wanted {
    /// A version (`1.25`, `1.25.3`, `3.14`): the line it belongs to.
    Line(String),
    /// A constraint (`^8.2`, `>=20 <25`): does it admit some version of this line?
    Matching(Box<dyn Fn(&str) -> bool>),
}

struct Request {
    wanted: Wanted,
    text: String,
    source: String,
}

fn line_request(text: &str, source: &str) -> Request {
    Request {
        wanted: Wanted::Line(text.to_owned()),
        text: text.to_owned(),
        source: source.to_owned(),
    }
}

/// `// +heroku goVersion go1.25`, then `toolchain go1.25.3`, then `go 1.25`.
fn go_request(files: &SourceFiles) -> Option<Request> {
    let text = files.text("go.mod")?;
    let word = |prefix: &str| {
        text.lines().find_map(|l| {
            l.trim()
                .strip_prefix(prefix)
                .map(|rest| rest.trim().trim_start_matches("go").to_owned())
                .filter(|v| !v.is_empty())
        })
    };
    let (version, source) = if let Some(v) = word("// +heroku goVersion") {
        (v, "go.mod (// +heroku goVersion)")
    } else if let Some(v) = word("toolchain ") {
        (v, "go.mod (toolchain)")
    } else {
        (word("go ")?, "go.mod")
    };
    Some(line_request(&version, source))
}

/// `RUBY VERSION` of Gemfile.lock, then the Gemfile's `ruby` line.
fn ruby_request(files: &SourceFiles) -> Option<Request> {
    if let Some(lock) = files.text("Gemfile.lock") {
        let mut lines = lock.lines();
        if lines.any(|l| l.trim() == "RUBY VERSION")
            && let Some(v) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("ruby "))
                .map(|v| v.split('p').next().unwrap_or(v).trim())
        {
            return Some(line_request(v, "Gemfile.lock"));
        }
    }
    let gemfile = files.text("Gemfile")?;
    let line = gemfile.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("ruby ")?;
        let quoted = rest.trim().trim_start_matches('(');
        let q = quoted.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        quoted[1..].split(q).next().map(str::to_owned)
    })?;
    // `ruby "~> 3.3.0"` / `ruby ">= 3.2"`: a requirement; `ruby "3.3.8"`: a version.
    let requirement = line.trim().to_owned();
    if requirement.starts_with(|c: char| c.is_ascii_digit()) {
        Some(line_request(&requirement, "Gemfile"))
    } else {
        let req = requirement.clone();
        Some(Request {
            wanted: Wanted::Matching(Box::new(move |l| {
                semver_admits(&req.replace("~>", "~"), l, Flavor::Ruby)
            })),
            text: requirement,
            source: "Gemfile".to_owned(),
        })
    }
}

/// `java.runtime.version` of system.properties (`17`, `21.0.2`, `1.8`).
fn java_request(files: &SourceFiles) -> Option<Request> {
    let text = files.text("system.properties")?;
    let version = text.lines().find_map(|l| {
        let (k, v) = l.split_once('=')?;
        (k.trim() == "java.runtime.version").then(|| v.trim().to_owned())
    })?;
    let major = version
        .strip_prefix("1.")
        .unwrap_or(&version)
        .split(['.', '+', '_'])
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut request = line_request(&major, "system.properties");
    request.text = version;
    Some(request)
}

/// composer.json's `require.php` constraint.
fn php_request(files: &SourceFiles) -> Option<Request> {
    let json: serde_json::Value = serde_json::from_str(files.text("composer.json")?).ok()?;
    let constraint = json.get("require")?.get("php")?.as_str()?.to_owned();
    let c = constraint.clone();
    Some(Request {
        wanted: Wanted::Matching(Box::new(move |l| semver_admits(&c, l, Flavor::Composer))),
        text: constraint,
        source: "composer.json require.php".to_owned(),
    })
}

/// `runtime.txt`, then `.python-version`, then Pipfile.lock's `python_version`.
fn python_request(files: &SourceFiles) -> Option<Request> {
    if let Some(text) = files.text("runtime.txt") {
        let v = text.trim().trim_start_matches("python-").to_owned();
        if !v.is_empty() {
            return Some(line_request(&v, "runtime.txt"));
        }
    }
    if let Some(text) = files.text(".python-version") {
        let v = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'));
        if let Some(v) = v {
            return Some(line_request(v, ".python-version"));
        }
    }
    let json: serde_json::Value = serde_json::from_str(files.text("Pipfile.lock")?).ok()?;
    let meta = json.get("_meta")?.get("requires")?;
    let v = meta
        .get("python_full_version")
        .or_else(|| meta.get("python_version"))?
        .as_str()?;
    Some(line_request(v, "Pipfile.lock"))
}

/// package.json's `engines.node` (a semver range).
fn node_request(files: &SourceFiles) -> Option<Request> {
    let json: serde_json::Value = serde_json::from_str(files.text("package.json")?).ok()?;
    let range = json.get("engines")?.get("node")?.as_str()?.to_owned();
    let r = range.clone();
    Some(Request {
        wanted: Wanted::Matching(Box::new(move |l| semver_admits(&r, l, Flavor::Npm))),
        text: range,
        source: "package.json engines.node".to_owned(),
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    Npm,
    Composer,
    Ruby,
}

/// A version as up to three numbers; missing parts are `None` (`8.x`, `20`).
fn parse_partial(v: &str) -> Option<[Option<u64>; 3]> {
    let v = v.trim().trim_start_matches(['v', '=']);
    let mut out = [None; 3];
    for (i, part) in v.split('.').enumerate() {
        if i >= 3 {
            break;
        }
        let part = part.split(['-', '+']).next().unwrap_or_default();
        if matches!(part, "x" | "X" | "*" | "") {
            break;
        }
        out[i] = Some(part.parse().ok()?);
    }
    out[0]?;
    Some(out)
}

/// Versions as `[major, minor, patch]`; `u64::MAX` stands for "any" above.
type V = [u64; 3];

fn floor(p: [Option<u64>; 3]) -> V {
    [p[0].unwrap_or(0), p[1].unwrap_or(0), p[2].unwrap_or(0)]
}

/// The half-open interval `[lo, hi)` one comparator admits.
fn comparator(c: &str, flavor: Flavor) -> Option<(V, V)> {
    const TOP: V = [u64::MAX, 0, 0];
    let c = c.trim();
    if matches!(c, "*" | "x" | "X" | "") {
        return Some(([0, 0, 0], TOP));
    }
    let (op, rest) = ["<=", ">=", "<", ">", "^", "~", "="]
        .iter()
        .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
        .unwrap_or(("", c));
    let p = parse_partial(rest)?;
    let lo = floor(p);
    // The first version above everything `p` names (`20` → 21.0.0, `20.1` → 20.2.0).
    let above = match p {
        [Some(a), None, _] => [a + 1, 0, 0],
        [Some(a), Some(b), None] => [a, b + 1, 0],
        _ => [lo[0], lo[1], lo[2] + 1],
    };
    Some(match op {
        ">=" => (lo, TOP),
        ">" => (above, TOP),
        "<" => ([0, 0, 0], lo),
        "<=" => ([0, 0, 0], above),
        "^" => {
            let hi = match p {
                [Some(0), Some(0), Some(z)] if flavor == Flavor::Npm => [0, 0, z + 1],
                [Some(0), Some(b), _] if b > 0 || flavor == Flavor::Npm => [0, b + 1, 0],
                [Some(a), ..] => [a + 1, 0, 0],
                _ => return None,
            };
            (lo, hi)
        }
        "~" => {
            // npm: ~1.2.3 → <1.3.0, ~1 → <2. Composer and Ruby (~>): the last given
            // part may move: ~8.2 → <9, ~8.2.1 → <8.3.
            let hi = match (flavor, p) {
                (Flavor::Npm, [Some(a), None, _]) => [a + 1, 0, 0],
                (Flavor::Npm, [Some(a), Some(b), _]) => [a, b + 1, 0],
                (_, [Some(a), None | Some(_), None]) => [a + 1, 0, 0],
                (_, [Some(a), Some(b), Some(_)]) => [a, b + 1, 0],
                _ => return None,
            };
            (lo, hi)
        }
        // A bare version: npm's `20` means 20.x; composer's `8.4.*` too.
        _ => (lo, above),
    })
}

/// Whether a range (`||` of space- or comma-separated comparators, or `a - b`) admits
/// some version of release line `line` (`20`, `8.4`, `3.3`).
fn semver_admits(range: &str, line: &str, flavor: Flavor) -> bool {
    let Some(l) = parse_partial(line) else {
        return false;
    };
    let line_lo = floor(l);
    let line_hi = match l {
        [Some(a), None, _] => [a + 1, 0, 0],
        [Some(a), Some(b), _] => [a, b + 1, 0],
        _ => return false,
    };
    range.split("||").any(|alt| {
        let alt = alt.trim();
        let parts: Vec<String> = if let Some((a, b)) = alt.split_once(" - ") {
            vec![format!(">={}", a.trim()), format!("<={}", b.trim())]
        } else {
            // `>= 20` is one comparator: join an operator with its version.
            let mut parts: Vec<String> = Vec::new();
            for tok in alt.split([' ', ',']).filter(|t| !t.is_empty()) {
                match parts.last_mut() {
                    Some(last) if last.chars().all(|c| "<>=^~".contains(c)) => last.push_str(tok),
                    _ => parts.push(tok.to_owned()),
                }
            }
            parts
        };
        let mut lo = line_lo;
        let mut hi = line_hi;
        for part in &parts {
            let Some((a, b)) = comparator(part, flavor) else {
                return false;
            };
            lo = lo.max(a);
            hi = hi.min(b);
        }
        lo < hi
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> SourceFiles {
        let mut f = SourceFiles::default();
        for (name, text) in list {
            f.add_text(name, (*text).to_owned());
        }
        f
    }

    fn order() -> Vec<String> {
        [
            "ruby", "python", "nodejs", "java", "php", "go", "static", "procfile",
        ]
        .map(String::from)
        .to_vec()
    }

    fn resolved(lang: Language, list: &[(&str, &str)]) -> Result<(String, String), String> {
        resolve(lang, &files(list))
            .map(|r| r.map(|r| (r.line.to_owned(), r.source)).unwrap_or_default())
            .map_err(|e| e.0)
    }

    #[test]
    fn detection_follows_the_order() {
        let f = files(&[("Gemfile", ""), ("package.json", "{}")]);
        assert_eq!(detect(&order(), &f), Some(Language::Ruby));
        let f = files(&[("go.mod", ""), ("Procfile", "")]);
        assert_eq!(detect(&order(), &f), Some(Language::Go));
        let mut f = SourceFiles::default();
        f.add_path("public/index.html");
        assert_eq!(detect(&order(), &f), Some(Language::Static));
        assert!(f.has_dir("public"));
        assert!(!f.has_dir("pub"));
        assert_eq!(detect(&order(), &SourceFiles::default()), None);
    }

    #[test]
    fn go_versions_come_from_go_mod() {
        let go = |t: &str| resolved(Language::Go, &[("go.mod", t)]);
        assert_eq!(
            go("module x\n\ngo 1.25.0\n"),
            Ok(("1.25".into(), "go.mod".into()))
        );
        assert_eq!(
            go("module x\ngo 1.24\ntoolchain go1.26.2\n"),
            Ok(("1.26".into(), "go.mod (toolchain)".into()))
        );
        assert_eq!(
            go("// +heroku goVersion go1.27\nmodule x\ngo 1.24\n"),
            Ok(("1.27".into(), "go.mod (// +heroku goVersion)".into()))
        );
        assert_eq!(go("module x\n"), Ok(("1.24".into(), "default".into())));
        let refused = go("module x\ngo 1.21\n").unwrap_err();
        assert!(
            refused.contains(
                "Go 1.21 isn't available (requested in go.mod); this platform offers Go 1.24, 1.25, 1.26 and 1.27"
            ),
            "{refused}"
        );
        // 1.2 is not 1.24's line.
        assert!(go("module x\ngo 1.2\n").is_err());
    }

    #[test]
    fn java_versions_come_from_system_properties() {
        let java = |t: &str| resolved(Language::Java, &[("system.properties", t)]);
        assert_eq!(
            java("java.runtime.version=25\n"),
            Ok(("25".into(), "system.properties".into()))
        );
        assert_eq!(java("java.runtime.version = 21.0.4\n").unwrap().0, "21");
        assert_eq!(java("maven.version=3.9\n").unwrap().1, "default");
        let refused = java("java.runtime.version=1.8").unwrap_err();
        assert!(
            refused.starts_with("Java 1.8 isn't available") && refused.contains("Java 21 and 25"),
            "{refused}"
        );
    }

    #[test]
    fn ruby_versions_come_from_the_lockfile_then_the_gemfile() {
        let lock = "GEM\n  specs:\n\nRUBY VERSION\n   ruby 3.3.8p144\n\nBUNDLED WITH\n   2.6.7\n";
        assert_eq!(
            resolved(
                Language::Ruby,
                &[("Gemfile", "ruby '3.4.1'\n"), ("Gemfile.lock", lock)]
            ),
            Ok(("3.3".into(), "Gemfile.lock".into()))
        );
        assert_eq!(
            resolved(
                Language::Ruby,
                &[("Gemfile", "source 'x'\nruby \"~> 3.3.0\"\n")]
            ),
            Ok(("3.3".into(), "Gemfile".into()))
        );
        let refused = resolved(Language::Ruby, &[("Gemfile", "ruby \"3.4.1\"\n")]).unwrap_err();
        assert!(
            refused.starts_with(
                "Ruby 3.4.1 isn't available (requested in Gemfile); this platform offers Ruby 3.3"
            ),
            "{refused}"
        );
    }

    #[test]
    fn php_versions_are_composer_constraints() {
        let php = |c: &str| {
            resolved(
                Language::Php,
                &[(
                    "composer.json",
                    &format!(r#"{{"require": {{"php": "{c}"}}}}"#),
                )],
            )
        };
        for ok in [
            "^8.2",
            ">=8.1",
            "8.4.*",
            "~8.4.0",
            "^7.4 || ^8.0",
            ">=8.0 <8.5",
            "*",
        ] {
            assert_eq!(php(ok).map(|r| r.0), Ok("8.4".into()), "{ok}");
        }
        for refused in ["~8.3.0", "^7.4", ">=8.5", "8.3.*", "<8.4"] {
            let e = php(refused).unwrap_err();
            assert!(e.contains("this platform offers PHP 8.4"), "{refused}: {e}");
        }
        assert_eq!(
            resolved(Language::Php, &[("index.php", "")]).unwrap().1,
            "default"
        );
    }

    #[test]
    fn python_versions_follow_herokus_order() {
        assert_eq!(
            resolved(
                Language::Python,
                &[
                    ("runtime.txt", "python-3.13.5\n"),
                    (".python-version", "3.14")
                ]
            ),
            Ok(("3.13".into(), "runtime.txt".into()))
        );
        assert_eq!(
            resolved(Language::Python, &[(".python-version", "# pin\n3.14\n")]),
            Ok(("3.14".into(), ".python-version".into()))
        );
        assert_eq!(
            resolved(
                Language::Python,
                &[(
                    "Pipfile.lock",
                    r#"{"_meta": {"requires": {"python_version": "3.14"}}}"#
                )]
            ),
            Ok(("3.14".into(), "Pipfile.lock".into()))
        );
        assert_eq!(
            resolved(Language::Python, &[(".python-version", "3.9")]),
            Err("Python 3.9 isn't available (requested in .python-version); this platform offers Python 3.13 and 3.14. Change .python-version to one of those.".into())
        );
        // 3.1 is not 3.13.
        assert!(resolved(Language::Python, &[(".python-version", "3.1")]).is_err());
    }

    #[test]
    fn python_keeps_the_last_builds_line_when_nothing_asks() {
        let after = |list: &[(&str, &str)], last| {
            resolve_after(Language::Python, &files(list), last)
                .map(|r| r.map(|r| (r.line, r.source)))
        };
        assert_eq!(
            after(&[("requirements.txt", "")], Some("3.14")),
            Ok(Some(("3.14", "the app's last build".to_owned())))
        );
        // A request in the source wins; a line no longer offered falls to the default.
        assert_eq!(
            after(&[(".python-version", "3.13")], Some("3.14")),
            Ok(Some(("3.13", ".python-version".to_owned())))
        );
        assert_eq!(
            after(&[("requirements.txt", "")], Some("3.9")),
            Ok(Some(("3.13", "default".to_owned())))
        );
        // Only Python is sticky (Heroku's Node.js takes engines.node or its default).
        assert_eq!(
            resolve_after(
                Language::Nodejs,
                &files(&[("package.json", "{}")]),
                Some("24")
            )
            .map(|r| r.map(|r| r.line)),
            Ok(Some("20"))
        );
    }

    #[test]
    fn node_versions_are_semver_ranges() {
        let node = |r: &str| {
            resolved(
                Language::Nodejs,
                &[(
                    "package.json",
                    &format!(r#"{{"engines": {{"node": "{r}"}}}}"#),
                )],
            )
        };
        for (range, line) in [
            ("20.x", "20"),
            ("24.x", "24"),
            (">=18", "24"),
            ("^20.10.0", "20"),
            ("~24.1", "24"),
            ("18 || 20", "20"),
            (">= 20 < 24", "22"),
            ("22.x", "22"),
            ("^22.11.0", "22"),
            ("20.0.0 - 24.0.0", "24"),
            ("*", "24"),
        ] {
            assert_eq!(node(range).map(|r| r.0), Ok(line.into()), "{range}");
        }
        for range in ["23.x", "^18", ">=25", "<20"] {
            let e = node(range).unwrap_err();
            assert!(
                e.contains("this platform offers Node.js 20, 22 and 24"),
                "{range}: {e}"
            );
        }
    }

    #[test]
    fn stack_lines_need_no_image() {
        let python = resolve(Language::Python, &SourceFiles::default())
            .unwrap()
            .unwrap();
        assert_eq!(python.image(STACK_RUNTIMES), None);
        let go = resolve(Language::Go, &SourceFiles::default())
            .unwrap()
            .unwrap();
        assert_eq!(
            go.image(STACK_RUNTIMES).as_deref(),
            Some("paas/runtime_go:1.24")
        );
        let all: Vec<String> = all_runtime_images()
            .iter()
            .filter_map(|r| r.image(STACK_RUNTIMES))
            .collect();
        assert!(
            all.contains(&"paas/runtime_python:3.14".to_owned()),
            "{all:?}"
        );
        assert!(!all.contains(&"paas/runtime_python:3.13".to_owned()));
    }
}
