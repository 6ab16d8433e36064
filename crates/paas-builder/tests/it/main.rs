//! The builder's git plumbing with the real git binary.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::path::Path;
use std::process::Command;

use paas_builder::{GitRepos, ObjectDirs};
use paas_core::AppName;

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git")
}

fn commit_one_file(dir: &Path) -> String {
    assert!(git(dir, &["init", "-q", "-b", "main"]).status.success());
    std::fs::write(dir.join("Procfile"), "web: ./serve\n").unwrap();
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::fs::write(dir.join("bin/tool"), "#!/bin/sh\n").unwrap();
    assert!(git(dir, &["add", "."]).status.success());
    let out = git(
        dir,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-q",
            "-m",
            "one",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(git(dir, &["rev-parse", "HEAD"]).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

#[tokio::test]
async fn a_repository_refuses_pushes_that_do_not_come_through_paasd() {
    let root = tempfile::tempdir().unwrap();
    let repos = GitRepos::new(root.path().join("repos"));
    let app = AppName::parse("hooked").unwrap();
    let bare = repos.ensure(&app).await.unwrap();
    assert!(bare.join("hooks/pre-receive").exists());
    // ensure is idempotent.
    repos.ensure(&app).await.unwrap();

    let work = tempfile::tempdir().unwrap();
    commit_one_file(work.path());
    let out = git(work.path(), &["push", bare.to_str().unwrap(), "main"]);
    assert!(
        !out.status.success(),
        "the hook must reject a push without paasd"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("managed by paasd"), "{stderr}");
    assert!(stderr.contains("pre-receive hook declined"), "{stderr}");
    // Nothing moved.
    assert!(
        !git(&bare, &["rev-parse", "--verify", "-q", "refs/heads/main"])
            .status
            .success()
    );
}

#[tokio::test]
async fn archive_and_lookups_read_the_pushed_commit() {
    let root = tempfile::tempdir().unwrap();
    let repos = GitRepos::new(root.path().join("repos"));
    let app = AppName::parse("reader").unwrap();
    let bare = repos.ensure(&app).await.unwrap();
    let work = tempfile::tempdir().unwrap();
    let commit = commit_one_file(work.path());
    // Bypass the hook to place the objects, as a finished push would.
    std::fs::remove_file(bare.join("hooks/pre-receive")).unwrap();
    assert!(
        git(work.path(), &["push", "-q", bare.to_str().unwrap(), "main"])
            .status
            .success()
    );

    let dirs = ObjectDirs::default();
    assert_eq!(
        repos
            .object_type(&app, &commit, &dirs)
            .await
            .unwrap()
            .as_deref(),
        Some("commit")
    );
    assert_eq!(
        repos
            .object_type(&app, "0123456789abcdef", &dirs)
            .await
            .unwrap(),
        None
    );
    assert!(
        repos
            .has_file(&app, &commit, "Procfile", &dirs)
            .await
            .unwrap()
    );
    assert!(
        !repos
            .has_file(&app, &commit, "Dockerfile", &dirs)
            .await
            .unwrap()
    );
    assert_eq!(
        repos.show(&app, &commit, "Procfile", &dirs).await.unwrap(),
        "web: ./serve\n"
    );
    let tar = repos.archive(&app, &commit, &dirs).await.unwrap();
    let mut archive = tar::Archive::new(&tar[..]);
    let names: Vec<String> = archive
        .entries()
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.header().entry_type() != tar::EntryType::XGlobalHeader)
        .map(|e| e.path().unwrap().display().to_string())
        .collect();
    assert!(
        names.contains(&"Procfile".to_owned()) && names.contains(&"bin/tool".to_owned()),
        "{names:?}"
    );

    let outside = ObjectDirs {
        object_directory: Some("/etc".into()),
        alternates: None,
    };
    assert!(
        repos.archive(&app, &commit, &outside).await.is_err(),
        "object dirs outside the repo are refused"
    );

    repos.remove(&app).await.unwrap();
    assert!(!bare.exists());
}
