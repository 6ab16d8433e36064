//! The Java runtime version an app asks for, from `system.properties`.

use super::SourceFiles;
use super::resolve::{Request, line_request};

/// `java.runtime.version` of system.properties (`17`, `21.0.2`, `1.8`).
pub(super) fn request(files: &SourceFiles) -> Option<Request> {
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
