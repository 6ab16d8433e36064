//! An app's own buildpacks (in its buildpack list, or the legacy `BUILDPACK_URL`): a
//! directory on this server or a git URL.

use std::path::PathBuf;

use crate::Builder;
use crate::failure::BuildFailure;
use crate::output::{Output, header};

/// The config var that names an app's own buildpack (as on Heroku and Dokku).
pub const BUILDPACK_URL: &str = "BUILDPACK_URL";
/// Where an app's own buildpacks are mounted in the build container (`<this>/<n>`, n
/// its place in the list).
pub(crate) const CUSTOM_BUILDPACKS: &str = "/buildpacks-custom";

impl Builder {
    /// The directory of an app's own buildpack: an absolute path on this server, or a
    /// git URL (`#ref` picks a branch or tag) cloned into `dir` for this build.
    pub(crate) async fn fetch_buildpack(
        &self,
        url: &str,
        dir: &std::path::Path,
        out: &mut Output,
    ) -> Result<PathBuf, BuildFailure> {
        if url.starts_with('/') {
            let dir = PathBuf::from(url);
            if !dir.join("bin/compile").is_file() {
                return Err(BuildFailure::LocalBuildpackWithoutCompile(url.to_owned()));
            }
            out.line(header(&format!("Using buildpack {url}"))).await;
            return Ok(dir);
        }
        // Anything else is a git URL (`Buildpack::parse` let nothing else through).
        let (repo, reference) = url
            .split_once('#')
            .map_or((url, None), |(r, f)| (r, Some(f)));
        out.line(header(&format!("Fetching buildpack {repo}")))
            .await;
        let dir = dir.to_path_buf();
        let mut command = tokio::process::Command::new("git");
        command.args(["clone", "--quiet", "--depth", "1"]);
        if let Some(reference) = reference {
            command.args(["--branch", reference]);
        }
        let output = command
            .arg(repo)
            .arg(&dir)
            .env("GIT_TERMINAL_PROMPT", "0")
            .output()
            .await?;
        if !output.status.success() {
            let reason = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            return Err(BuildFailure::BuildpackFetch {
                repo: repo.to_owned(),
                reason,
            });
        }
        if !dir.join("bin/compile").is_file() {
            return Err(BuildFailure::FetchedBuildpackWithoutCompile(
                repo.to_owned(),
            ));
        }
        Ok(dir)
    }
}
