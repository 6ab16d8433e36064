//! Which pushes are accepted: one branch, `main` or `master`, pointing at a commit.

use crate::{BuildError, Builder, ObjectDirs, PushTicket};

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
    ) -> Result<Result<PushedRef, String>, BuildError> {
        let lines: Vec<&str> = refs.lines().filter(|l| !l.trim().is_empty()).collect();
        let [line] = lines.as_slice() else {
            return Ok(Err("Push one branch at a time: git push paas main".into()));
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [old, new, name] = fields.as_slice() else {
            return Ok(Err("paas could not read the pushed refs.".into()));
        };
        if !matches!(*name, "refs/heads/main" | "refs/heads/master") {
            return Ok(Err(format!(
                "Pushing to {name} is not allowed: push to main or master (git push paas HEAD:main)."
            )));
        }
        if new.bytes().all(|b| b == b'0') {
            return Ok(Err(format!("Deleting {name} is not allowed.")));
        }
        if !new.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(Err("paas could not read the pushed refs.".into()));
        }
        match self
            .repos
            .object_type(&ticket.app, new, object_dirs)
            .await?
            .as_deref()
        {
            Some("commit") => Ok(Ok(PushedRef {
                old: (*old).to_owned(),
                commit: (*new).to_owned(),
                name: (*name).to_owned(),
            })),
            Some(other) => Ok(Err(format!(
                "{name} must point at a commit, not a {other}."
            ))),
            None => Ok(Err("The pushed commit was not received.".into())),
        }
    }
}
