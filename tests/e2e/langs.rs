//! Languages and buildpacks: Go, Ruby, Java and PHP apps (dependencies vendored, as no
//! registry of theirs is reachable here) built on runtime images made from Debian's
//! packages (`runtimes`), pinned versions honoured or refused (`versions`), and apps
//! built by several buildpacks in order (`buildpacks`). Served through the router.

mod buildpacks;
mod runtimes;
mod versions;

use std::time::{Duration, Instant};

use crate::support::{Paasd, stderr};

#[track_caller]
pub(crate) fn pushed(out: &std::process::Output) -> String {
    let text = stderr(out);
    assert!(out.status.success(), "push failed:\n{text}");
    text
}

/// GET / through the router until the new release answers (the old one may still be
/// serving for a moment after the push returns).
pub(crate) async fn serves(paasd: &Paasd, app: &str, wanted: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = paasd.get_via_router(app).await;
        if status == 200 && body.contains(wanted) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{app} does not serve {wanted:?} through the router: {status} {body}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `DELETE /apps/{app}`. Right after a rollout the supervisor may still be writing the
/// app's dyno rows and the delete can fail (a 500, seen here): it is tried again.
pub(crate) async fn destroy(paasd: &Paasd, app: &str) {
    for _ in 0..20 {
        let response = reqwest::Client::new()
            .delete(format!("{}/apps/{app}", paasd.url()))
            .bearer_auth(&paasd.token)
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("{app} could not be destroyed:\n{}", paasd.log());
}

/// Replaces the repository's files (all but .git) by `files`.
pub(crate) fn replace_files(dir: &std::path::Path, files: &[(&str, &str)]) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_name() != ".git" {
            let path = entry.path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).unwrap();
            } else {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    for (name, body) in files {
        std::fs::write(dir.join(name), body).unwrap();
    }
}
