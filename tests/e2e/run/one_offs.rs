//! One-off dynos (output streamed, exit status forwarded, removed after) and the release
//! phase, which gates the release.

use reqwest::Method;
use serde_json::json;

use crate::support::{self, Paasd, fixture_repo};

#[tokio::test]
async fn one_off_dynos_stream_output_forward_the_exit_status_and_are_removed() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("oneoff").await;
    let dir = tempfile::tempdir().unwrap();
    // Before any deploy there is nothing to run.
    let out = paasd.paas(dir.path(), &["run", "-a", "oneoff", "--", "true"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        support::stderr(&out).contains("git push it first"),
        "{}",
        support::stderr(&out)
    );

    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "oneoff", "main").status.success());
    paasd
        .api(
            Method::PATCH,
            "/apps/oneoff/config-vars",
            Some(json!({"FOO": "from config"})),
        )
        .await;

    let out = paasd.paas(
        dir.path(),
        &[
            "run",
            "-a",
            "oneoff",
            "--",
            "sh",
            "-c",
            "echo \"$DYNO says $FOO\"; ls /app/server.sh; exit 7",
        ],
    );
    let stdout = support::stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the exit status is forwarded: {stdout} {}",
        support::stderr(&out)
    );
    assert!(stdout.contains("run.1 says from config"), "{stdout}");
    assert!(
        stdout.contains("/app/server.sh"),
        "it runs the release's code: {stdout}"
    );
    let ok = paasd.paas(dir.path(), &["run", "-a", "oneoff", "--", "echo", "fine"]);
    assert_eq!(ok.status.code(), Some(0));
    assert_eq!(support::stdout(&ok).trim(), "fine");

    let detached = paasd.paas(
        dir.path(),
        &[
            "run:detached",
            "-a",
            "oneoff",
            "--",
            "echo",
            "detached-hello",
        ],
    );
    assert!(detached.status.success(), "{}", support::stderr(&detached));
    assert!(
        support::stderr(&detached).contains("run.3"),
        "{}",
        support::stderr(&detached)
    );

    // Every one-off container is gone once done (the detached one soon after it exits,
    // once its output is in the log stream).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let out = std::process::Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                "label=paas.kind=one_off",
                "--filter",
                &format!("label=paas.instance={}", paasd.instance),
            ])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "one-off containers were left behind"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    // Their output went to the app's log stream too, the detached one's included.
    let logs = support::ok(paasd.paas(dir.path(), &["logs", "-a", "oneoff", "-d", "run"]));
    assert!(
        logs.contains("app[run.1]: run.1 says from config"),
        "{logs}"
    );
    assert!(logs.contains("app[run.3]: detached-hello"), "{logs}");
}

#[tokio::test]
async fn the_release_phase_gates_the_release_and_a_failure_moves_nothing() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("phased").await;
    let repo = fixture_repo("procfile-shell");
    let procfile = repo.path().join("Procfile");
    let base = std::fs::read_to_string(&procfile).unwrap();
    std::fs::write(
        &procfile,
        format!("{base}release: echo \"migrating in $DYNO\"\n"),
    )
    .unwrap();
    support::commit_all(repo.path(), "with a release phase");
    let out = paasd.push(repo.path(), "phased", "main");
    let text = support::stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Running release command") && text.contains("migrating in release.2"),
        "{text}"
    );
    paasd
        .wait_dynos("phased", 90, |d| {
            d.iter()
                .any(|x| x["state"] == "up" && x["release"]["version"] == 2)
        })
        .await;

    std::fs::write(
        &procfile,
        format!("{base}release: echo broken migration; exit 4\n"),
    )
    .unwrap();
    support::commit_all(repo.path(), "failing release phase");
    let out = paasd.push(repo.path(), "phased", "main");
    let text = support::stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("broken migration") && text.contains("exited with status 4"),
        "{text}"
    );
    let releases = paasd.api(Method::GET, "/apps/phased/releases", None).await;
    let v3 = &releases[2];
    assert_eq!(v3["status"], "failed");
    assert_eq!(v3["current"], false);
    assert_eq!(releases[1]["current"], true, "v2 stays current");
    // Nothing rolled: the web dyno still runs v2.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    let dynos = paasd.wait_dynos("phased", 10, |d| !d.is_empty()).await;
    assert!(
        dynos.iter().all(|d| d["release"]["version"] == 2),
        "{dynos:?}"
    );
}
