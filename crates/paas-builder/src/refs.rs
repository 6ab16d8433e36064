//! Which pushes are accepted: one branch, `main` or `master`, pointing at a commit.

use crate::failure::BuildFailure;
use crate::{Builder, ObjectDirs, PushTicket};

/// What a push asks to update, as the pre-receive hook hears it.
#[derive(Debug)]
pub(crate) struct PushedRef {
    /// Where the pusher thinks the ref is (all zeros: absent).
    pub(crate) old: String,
    pub(crate) commit: String,
    pub(crate) name: String,
}

impl Builder {
    /// The pushed commit, or why the push is refused.
    pub(crate) async fn check_refs(
        &self,
        ticket: &PushTicket,
        refs: &str,
        object_dirs: &ObjectDirs,
    ) -> Result<PushedRef, BuildFailure> {
        let lines: Vec<&str> = refs.lines().filter(|l| !l.trim().is_empty()).collect();
        let [line] = lines.as_slice() else {
            return Err(BuildFailure::SeveralRefs);
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [old, new, name] = fields.as_slice() else {
            return Err(BuildFailure::UnreadableRefs);
        };
        if !matches!(*name, "refs/heads/main" | "refs/heads/master") {
            return Err(BuildFailure::OtherBranch((*name).to_owned()));
        }
        if new.bytes().all(|b| b == b'0') {
            return Err(BuildFailure::Deletion((*name).to_owned()));
        }
        if !new.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(BuildFailure::UnreadableRefs);
        }
        match self
            .repos
            .object_type(&ticket.app, new, object_dirs)
            .await?
            .as_deref()
        {
            Some("commit") => Ok(PushedRef {
                old: (*old).to_owned(),
                commit: (*new).to_owned(),
                name: (*name).to_owned(),
            }),
            Some(other) => Err(BuildFailure::NotACommit {
                name: (*name).to_owned(),
                kind: other.to_owned(),
            }),
            None => Err(BuildFailure::CommitMissing),
        }
    }
}
