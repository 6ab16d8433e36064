//! The Go runtime version an app asks for, from `go.mod`.

use super::SourceFiles;
use super::resolve::{Request, line_request};

/// `// +heroku goVersion go1.25`, then `toolchain go1.25.3`, then `go 1.25`.
pub(super) fn request(files: &SourceFiles) -> Option<Request> {
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
