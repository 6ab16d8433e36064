//! The PHP runtime version an app asks for, from composer.json.

use super::SourceFiles;
use super::resolve::{Request, Wanted};
use super::semver::{Flavor, semver_admits};

/// composer.json's `require.php` constraint.
pub(super) fn request(files: &SourceFiles) -> Option<Request> {
    let json: serde_json::Value = serde_json::from_str(files.text("composer.json")?).ok()?;
    let constraint = json.get("require")?.get("php")?.as_str()?.to_owned();
    let c = constraint.clone();
    Some(Request {
        wanted: Wanted::Matching(Box::new(move |l| semver_admits(&c, l, Flavor::Composer))),
        text: constraint,
        source: "composer.json require.php".to_owned(),
    })
}
