//! Operating paasd like a product: started from anywhere, `paas login`, tokens.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{self, Paasd, fixture_repo, stderr};

/// paasd started from `/` (every e2e paasd is) with no `PAAS_BUILDPACKS_DIR` builds a
/// buildpack app from the buildpacks built into the binary, unpacked under its data dir.
#[tokio::test]
async fn paasd_started_from_the_root_builds_with_its_built_in_buildpacks() {
    support::require_stack_image();
    // An empty value is unset: the built-in buildpacks.
    let paasd = Paasd::start_with(&[("PAAS_BUILDPACKS_DIR", "")]).await;
    let unpacked = paasd.data.path().join("buildpacks");
    let log = paasd.log();
    assert!(
        log.contains(r#""buildpacks":"built in""#) && log.contains(&unpacked.display().to_string()),
        "the resolved paths are logged absolute:\n{log}"
    );
    paasd.create_app("rooted").await;
    let repo = fixture_repo("procfile-shell");
    let out = paasd.push(repo.path(), "rooted", "main");
    assert!(out.status.success(), "push failed:\n{}", stderr(&out));
    assert!(
        stderr(&out).contains("Procfile"),
        "detected by the built-in procfile buildpack:\n{}",
        stderr(&out)
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = paasd.get_via_router("rooted").await;
        if status == 200 {
            assert!(body.contains("hello from shell"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "not served: {status} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn paas_at(home: &Path, cwd: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(support::binary("paas"));
    command
        .args(args)
        .current_dir(cwd)
        .env_remove("PAAS_API_URL")
        .env_remove("PAAS_API_TOKEN")
        .env("HOME", home)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    command
}

/// `paas login` with the token on stdin is the only step before `paas` commands and
/// `git push` work: nothing else is set (no PAAS_API_URL, no PAAS_API_TOKEN, no
/// credentials in the remote).
#[tokio::test]
async fn paas_login_from_stdin_is_all_that_git_push_needs() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let home = tempfile::tempdir().unwrap();
    let repo = fixture_repo("procfile-shell");

    // A wrong token is refused and nothing is written.
    let mut login = paas_at(
        home.path(),
        repo.path(),
        &["login", "--api-url", &paasd.url()],
    );
    let out = login
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(b"paas_wrong\n")?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(!out.status.success(), "{}", stderr(&out));
    assert!(!home.path().join(".netrc").exists());

    let mut login = paas_at(
        home.path(),
        repo.path(),
        &["login", "--api-url", &paasd.url()],
    );
    let out = login
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(format!("{}\n", paasd.token).as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(out.status.success(), "login: {}", stderr(&out));
    assert!(
        stderr(&out).contains("Logged in as e2e@localhost"),
        "{}",
        stderr(&out)
    );
    let netrc = home.path().join(".netrc");
    let mode = std::fs::metadata(&netrc).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&netrc).unwrap();
    assert!(
        text.contains("machine 127.0.0.1\n")
            && text.contains(&format!("machine 127.0.0.1:{}\n", paasd.port)),
        "{text}"
    );

    let run = |args: &[&str]| paas_at(home.path(), repo.path(), args).output().unwrap();
    assert_eq!(support::ok(run(&["auth:whoami"])).trim(), "e2e@localhost");
    assert_eq!(support::ok(run(&["auth:token"])).trim(), paasd.token);
    support::ok(run(&["apps:create", "logged-in"]));
    let push = Command::new("git")
        .args(["-c", "credential.helper=", "push", "paas", "main"])
        .current_dir(repo.path())
        .env("HOME", home.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(push.status.success(), "git push: {}", stderr(&push));

    let out = run(&["logout"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&netrc).unwrap();
    assert!(!text.contains("machine"), "{text}");
    let out = run(&["auth:whoami"]);
    assert!(!out.status.success());
}
