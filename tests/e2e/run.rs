//! A pushed app runs: the supervisor starts its formation, rolls config changes, scales.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{self, Paasd, fixture_repo};

fn up(dynos: &[Value], kind: &str) -> usize {
    dynos
        .iter()
        .filter(|d| d["type"] == kind && d["state"] == "up")
        .count()
}

#[tokio::test]
async fn a_pushed_app_runs_its_formation_rolls_config_changes_and_scales() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("runner").await;
    let repo = fixture_repo("python-gunicorn");
    let out = paasd.push(repo.path(), "runner", "main");
    assert!(out.status.success(), "{}", support::stderr(&out));

    let dynos = paasd.wait_dynos("runner", 90, |d| up(d, "web") == 1).await;
    assert_eq!(dynos[0]["name"], "web.1");
    assert_eq!(dynos[0]["release"]["version"], 2);
    assert!(
        paasd
            .get_from_web("runner", "web.1")
            .await
            .contains("hello from python")
    );

    // A config change is a new release and a rolling restart, never a rebuild.
    paasd
        .api(
            Method::PATCH,
            "/apps/runner/config-vars",
            Some(json!({"GREETING": "from config"})),
        )
        .await;
    paasd
        .wait_dynos("runner", 90, |d| {
            up(d, "web") == 1 && d.iter().all(|x| x["release"]["version"] == 3)
        })
        .await;
    assert!(
        paasd
            .get_from_web("runner", "web.1")
            .await
            .contains("hello from python from config")
    );
    let builds = paasd.api(Method::GET, "/apps/runner/builds", None).await;
    assert_eq!(builds.as_array().unwrap().len(), 1, "no rebuild");

    paasd
        .api(
            Method::PATCH,
            "/apps/runner/formation",
            Some(json!({"updates": [{"type": "web", "quantity": 3}]})),
        )
        .await;
    let dynos = paasd.wait_dynos("runner", 90, |d| up(d, "web") == 3).await;
    let names: Vec<&str> = dynos.iter().map(|d| d["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["web.1", "web.2", "web.3"]);
    paasd
        .api(
            Method::PATCH,
            "/apps/runner/formation/web",
            Some(json!({"quantity": 1})),
        )
        .await;
    paasd
        .wait_dynos("runner", 90, |d| d.len() == 1 && up(d, "web") == 1)
        .await;
}
