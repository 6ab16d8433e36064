//! The Python runtime version an app asks for, from runtime.txt, .python-version and Pipfile.lock.

use super::SourceFiles;
use super::resolve::{Request, line_request};

/// `runtime.txt`, then `.python-version`, then Pipfile.lock's `python_version`.
pub(super) fn request(files: &SourceFiles) -> Option<Request> {
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
