//! Why a push is refused or its build fails: the pusher's to fix, and told to them as
//! the variant's message. [`BuildFailure::Platform`] is the platform failing instead
//! (git, Docker, the store): the pusher only hears that, and paasd logs the cause.

use crate::BuildError;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildFailure {
    // The pushed refs, checked before anything is built.
    #[error("Push one branch at a time: git push paas main")]
    SeveralRefs,
    #[error("paas could not read the pushed refs.")]
    UnreadableRefs,
    #[error("Pushing to {0} is not allowed: push to main or master (git push paas HEAD:main).")]
    OtherBranch(String),
    #[error("Deleting {0} is not allowed.")]
    Deletion(String),
    #[error("{name} must point at a commit, not a {kind}.")]
    NotACommit { name: String, kind: String },
    #[error("The pushed commit was not received.")]
    CommitMissing,
    /// Another push to the app moved the branch while this one waited for it.
    #[error(
        "{name} moved while this push waited (it is now at {now}): fetch and merge, or push --force, then push again."
    )]
    BranchMoved { name: String, now: String },

    // The app's build.
    /// The app's Procfile, or its buildpack's `bin/release` YAML, does not parse.
    #[error("{0}")]
    ProcessTypes(String),
    #[error("Docker build failed: {0}")]
    Dockerfile(String),
    #[error("The buildpack {0} is not a buildpack: it has no bin/compile.")]
    LocalBuildpackWithoutCompile(String),
    /// `BUILDPACK_URL` names nothing paas can build with (the reason says what would do).
    #[error("BUILDPACK_URL: {0}")]
    BuildpackUrl(String),
    /// A bundled buildpack of the app's list whose detect rule the source fails.
    #[error(
        "App not compatible with buildpack: {buildpack} (it looks for {wants}). Add one, or change the app's buildpacks (paas buildpacks)."
    )]
    Incompatible { buildpack: String, wants: String },
    /// Two buildpacks of the list need different runtime images.
    #[error("{0}")]
    RuntimeImages(String),
    #[error("Could not fetch the buildpack {repo}: {reason}")]
    BuildpackFetch { repo: String, reason: String },
    #[error("{0} is not a buildpack: it has no bin/compile.")]
    FetchedBuildpackWithoutCompile(String),
    #[error(
        "The build ran out of memory (limit {limit_mib} MiB): raise PAAS_BUILD_MEMORY or slim the build."
    )]
    OutOfMemory { limit_mib: i64 },
    #[error("The build exited with status {0}.")]
    Exit(i64),
    /// A runtime version the platform does not offer (the message lists what it does).
    #[error("{0}")]
    RuntimeUnavailable(String),
    /// The runtime image could not be made (apt failed: the mirror is unreachable ...).
    #[error("{0}")]
    RuntimeImage(String),

    #[error(transparent)]
    Platform(#[from] BuildError),
}

// `?` on the platform's own errors inside a build stage.
impl From<std::io::Error> for BuildFailure {
    fn from(e: std::io::Error) -> Self {
        Self::Platform(e.into())
    }
}

impl From<paas_docker::DockerError> for BuildFailure {
    fn from(e: paas_docker::DockerError) -> Self {
        Self::Platform(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pusher reads these: they are the messages of the nested-`Result` days, word
    /// for word (the buildpack ones now name any buildpack of the list).
    #[test]
    fn each_failure_tells_the_pusher_what_it_did_before() {
        let s = String::from;
        let cases = [
            (
                BuildFailure::SeveralRefs,
                "Push one branch at a time: git push paas main",
            ),
            (
                BuildFailure::UnreadableRefs,
                "paas could not read the pushed refs.",
            ),
            (
                BuildFailure::OtherBranch(s("refs/heads/dev")),
                "Pushing to refs/heads/dev is not allowed: push to main or master (git push paas HEAD:main).",
            ),
            (
                BuildFailure::Deletion(s("refs/heads/main")),
                "Deleting refs/heads/main is not allowed.",
            ),
            (
                BuildFailure::NotACommit {
                    name: s("refs/heads/main"),
                    kind: s("tag"),
                },
                "refs/heads/main must point at a commit, not a tag.",
            ),
            (
                BuildFailure::CommitMissing,
                "The pushed commit was not received.",
            ),
            (
                BuildFailure::BranchMoved {
                    name: s("refs/heads/main"),
                    now: s("abc1234"),
                },
                "refs/heads/main moved while this push waited (it is now at abc1234): fetch and merge, or push --force, then push again.",
            ),
            (
                BuildFailure::ProcessTypes(s("Procfile line 1: no colon")),
                "Procfile line 1: no colon",
            ),
            (
                BuildFailure::Dockerfile(s("no FROM")),
                "Docker build failed: no FROM",
            ),
            (
                BuildFailure::LocalBuildpackWithoutCompile(s("/srv/bp")),
                "The buildpack /srv/bp is not a buildpack: it has no bin/compile.",
            ),
            (
                BuildFailure::BuildpackUrl(s("paas has no buildpack \"bp\"")),
                "BUILDPACK_URL: paas has no buildpack \"bp\"",
            ),
            (
                BuildFailure::BuildpackFetch {
                    repo: s("https://x/bp.git"),
                    reason: s("fatal: not found"),
                },
                "Could not fetch the buildpack https://x/bp.git: fatal: not found",
            ),
            (
                BuildFailure::FetchedBuildpackWithoutCompile(s("https://x/bp.git")),
                "https://x/bp.git is not a buildpack: it has no bin/compile.",
            ),
            (
                BuildFailure::OutOfMemory { limit_mib: 64 },
                "The build ran out of memory (limit 64 MiB): raise PAAS_BUILD_MEMORY or slim the build.",
            ),
            (BuildFailure::Exit(1), "The build exited with status 1."),
        ];
        for (failure, message) in cases {
            assert_eq!(failure.to_string(), message);
        }
    }
}
