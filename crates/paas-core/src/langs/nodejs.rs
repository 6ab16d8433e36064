//! The Node.js runtime version an app asks for, from package.json.

use super::SourceFiles;
use super::resolve::{Request, Wanted};
use super::semver::{Flavor, semver_admits};

/// package.json's `engines.node` (a semver range).
pub(super) fn request(files: &SourceFiles) -> Option<Request> {
    let json: serde_json::Value = serde_json::from_str(files.text("package.json")?).ok()?;
    let range = json.get("engines")?.get("node")?.as_str()?.to_owned();
    let r = range.clone();
    Some(Request {
        wanted: Wanted::Matching(Box::new(move |l| semver_admits(&r, l, Flavor::Npm))),
        text: range,
        source: "package.json engines.node".to_owned(),
    })
}
