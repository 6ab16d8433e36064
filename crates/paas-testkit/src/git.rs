//! git repositories of the fixture apps (`tests/fixtures/apps`).

use std::path::Path;
use std::process::Command;

/// A git repository holding a copy of `tests/fixtures/apps/<name>`, committed on main.
pub fn fixture_repo(name: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(&format!("paas-{name}-"))
        .tempdir()
        .expect("tempdir");
    let source = crate::workspace_root()
        .join("tests/fixtures/apps")
        .join(name);
    assert!(source.is_dir(), "no fixture {}", source.display());
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", source.display()))
        .arg(dir.path())
        .status()
        .expect("cp");
    assert!(status.success());
    git(dir.path(), &["init", "-q", "-b", "main"]);
    commit_all(dir.path(), "initial");
    dir
}

/// `git ARGS` in `dir`, asserted to succeed; its stdout, trimmed.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Commits everything in `dir` (even nothing); the new commit's id.
pub fn commit_all(dir: &Path, message: &str) -> String {
    git(dir, &["add", "-A"]);
    git(
        dir,
        &[
            "-c",
            "user.name=paas-tests",
            "-c",
            "user.email=tests@paas",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            message,
        ],
    );
    git(dir, &["rev-parse", "HEAD"])
}
