//! End-to-end: real binaries, real Postgres (paasd's embedded cluster), real git.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

mod addons;
mod backup;
mod dynos;
mod heroku;
mod https;
mod langs;
mod logs;
mod ops;
mod push;
mod router;
mod run;
mod support;

use std::process::Command;

use serde_json::Value;
use support::{Paasd, fails, git, ok};

fn json(out: std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).expect("--json prints JSON")
}

/// The issue's "done when" session: create an app, set and unset config, list releases,
/// roll back, scale the formation, destroy, all through the `paas` CLI against a paasd
/// on its embedded Postgres.
#[tokio::test]
async fn a_cli_session_creates_configures_releases_rolls_back_scales_and_destroys() {
    let paasd = Paasd::start().await;
    let repo = tempfile::tempdir().expect("tempdir");
    let dir = repo.path();
    git(dir, &["init", "-q", "-b", "main"]);

    // apps:create adds the `paas` remote; later commands infer the app from it.
    let created = ok(paasd.paas(dir, &["apps:create", "e2e-demo"]));
    assert!(created.contains("e2e-demo"), "{created}");
    assert_eq!(
        git(dir, &["remote", "get-url", "paas"]),
        format!("{}/e2e-demo.git", paasd.url())
    );
    let apps = json(paasd.paas(dir, &["apps", "--json"]));
    assert!(
        apps.as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "e2e-demo"),
        "{apps}"
    );
    assert!(ok(paasd.paas(dir, &["apps"])).contains("e2e-demo"));
    assert!(ok(paasd.paas(dir, &["apps:info"])).contains("e2e-demo"));

    // Config: set, get, unset; every change is a release.
    ok(paasd.paas(dir, &["config:set", "FOO=bar", "BAZ=qux=with=equals"]));
    assert_eq!(ok(paasd.paas(dir, &["config:get", "FOO"])).trim(), "bar");
    assert_eq!(
        json(paasd.paas(dir, &["config", "--json"])),
        serde_json::json!({"FOO": "bar", "BAZ": "qux=with=equals"})
    );
    ok(paasd.paas(dir, &["config:unset", "BAZ"]));
    assert!(!ok(paasd.paas(dir, &["config"])).contains("BAZ"));

    // Bad input is refused before or by the API, and changes nothing.
    let refused = paasd.paas(dir, &["config:set", "PORT=80"]);
    assert!(!refused.status.success());
    assert!(
        support::stderr(&refused).contains("PORT is set by the platform"),
        "{}",
        support::stderr(&refused)
    );
    assert!(
        !paasd
            .paas(dir, &["config:set", "NOEQUALS"])
            .status
            .success()
    );
    assert_eq!(
        json(paasd.paas(dir, &["config", "--json"])),
        serde_json::json!({"FOO": "bar"})
    );

    let releases = ok(paasd.paas(dir, &["releases"]));
    for line in [
        "v3",
        "Remove BAZ config vars",
        "v2",
        "Set BAZ, FOO config vars",
        "v1",
        "Initial release",
    ] {
        assert!(releases.contains(line), "{line} missing from:\n{releases}");
    }
    assert!(ok(paasd.paas(dir, &["releases:info", "v2"])).contains("Set BAZ, FOO config vars"));

    // Rollback without a version goes to the release before the current one.
    ok(paasd.paas(dir, &["rollback"]));
    assert_eq!(
        json(paasd.paas(dir, &["config", "--json"])),
        serde_json::json!({"FOO": "bar", "BAZ": "qux=with=equals"})
    );
    ok(paasd.paas(dir, &["rollback", "v1"]));
    assert_eq!(
        json(paasd.paas(dir, &["config", "--json"])),
        serde_json::json!({})
    );
    let releases = json(paasd.paas(dir, &["releases", "--json"]));
    let descriptions: Vec<&str> = releases
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["description"].as_str().unwrap())
        .collect();
    assert!(descriptions.contains(&"Rollback to v2"), "{descriptions:?}");
    assert!(descriptions.contains(&"Rollback to v1"), "{descriptions:?}");

    // Scaling needs process types; the builder records them with a build. Seed one the
    // way the builder does, through the store on paasd's own database.
    let store = paasd.store().await;
    let app = store.app("e2e-demo").await.expect("app");
    let build = store
        .create_build(
            app.app_id,
            paas_store::NewBuild {
                source_version: "0123456789",
                buildpacks: &[],
            },
        )
        .await
        .expect("build");
    let procfile = paas_core::Procfile::parse("web: ./serve\nworker: ./work").expect("procfile");
    store
        .finish_build(build.build_id, Ok(("sha256:e2e", &procfile)), "")
        .await
        .expect("finish");
    store
        .create_deploy_release(
            app.app_id,
            build.build_id,
            paas_store::ReleaseStatus::Succeeded,
        )
        .await
        .expect("release");

    ok(paasd.paas(dir, &["ps:scale", "web=3", "worker+2"]));
    let ps = ok(paasd.paas(dir, &["ps"]));
    assert!(ps.contains("web") && ps.contains('3'), "{ps}");
    let formation = json(paasd.paas(dir, &["ps", "--json"]));
    let text = formation.to_string();
    assert!(
        text.contains(r#""quantity":3"#) && text.contains(r#""quantity":2"#),
        "{text}"
    );
    let err = fails(paasd.paas(dir, &["ps:scale", "clock=1"]));
    assert!(err.contains("clock"), "{err}");

    // Destroy needs the confirmation, then removes the app and its history.
    assert!(!paasd.paas(dir, &["apps:destroy"]).status.success());
    assert!(
        !paasd
            .paas(dir, &["apps:destroy", "--confirm", "other-name"])
            .status
            .success()
    );
    ok(paasd.paas(dir, &["apps:destroy", "--confirm", "e2e-demo"]));
    let err = fails(paasd.paas(dir, &["apps:info", "-a", "e2e-demo"]));
    assert!(err.contains("Couldn't find that app."), "{err}");
}

#[tokio::test]
async fn the_cli_reports_api_errors_and_bad_tokens_with_exit_code_1() {
    let paasd = Paasd::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let err = fails(paasd.paas(dir.path(), &["apps:info", "-a", "nope"]));
    assert!(err.contains("Couldn't find that app."), "{err}");

    let out = Command::new(support::binary("paas"))
        .args(["apps"])
        .env("PAAS_API_URL", paasd.url())
        .env("PAAS_API_TOKEN", "paas_not_a_real_token")
        .env("HOME", dir.path())
        .output()
        .expect("paas");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("Invalid credentials"),
        "{}",
        support::stderr(&out)
    );
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("paas_not_a_real_token"),
        "never print the token"
    );
}
