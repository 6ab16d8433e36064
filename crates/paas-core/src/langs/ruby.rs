//! The Ruby runtime version an app asks for, from Gemfile.lock and the Gemfile.

use super::SourceFiles;
use super::resolve::{Request, Wanted, line_request};
use super::semver::{Flavor, semver_admits};

/// `RUBY VERSION` of Gemfile.lock, then the Gemfile's `ruby` line.
pub(super) fn request(files: &SourceFiles) -> Option<Request> {
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
