//! The formation from push to destroy: started, rolled on a config change (under steady
//! load too), scaled, and removed with everything the app had.

use reqwest::Method;
use serde_json::json;

use super::{container_names, up};
use crate::support::{self, Paasd, fixture_repo};

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
    let (status, body) = paasd.get_via_router("runner").await;
    assert_eq!(
        (status, body.trim()),
        (200, "hello from python from config"),
        "the app answers at runner.localhost"
    );
    let (status, _) = paasd.get_via_router("no-such-app").await;
    assert_eq!(status, 404);
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

#[tokio::test]
async fn a_config_change_and_a_deploy_under_steady_load_fail_no_request() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("steady").await;
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "steady", "main").status.success());
    paasd
        .api(
            Method::PATCH,
            "/apps/steady/formation/web",
            Some(json!({"quantity": 2})),
        )
        .await;
    paasd.wait_dynos("steady", 90, |d| up(d, "web") == 2).await;
    assert_eq!(paasd.get_via_router("steady").await.0, 200);

    let load = support::SteadyLoad::start(paasd.router_port, "steady");

    paasd
        .api(
            Method::PATCH,
            "/apps/steady/config-vars",
            Some(json!({"ROUND": "1"})),
        )
        .await;
    paasd
        .wait_dynos("steady", 90, |d| {
            up(d, "web") == 2
                && d.iter()
                    .filter(|x| x["type"] == "web")
                    .all(|x| x["release"]["version"] == 3)
        })
        .await;
    std::fs::write(repo.path().join("version.txt"), "2").unwrap();
    support::commit_all(repo.path(), "deploy under load");
    assert!(paasd.push(repo.path(), "steady", "main").status.success());
    paasd
        .wait_dynos("steady", 90, |d| {
            up(d, "web") == 2
                && d.iter()
                    .filter(|x| x["type"] == "web")
                    .all(|x| x["release"]["version"] == 4)
        })
        .await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    load.finish("a config change and a deploy", 100).await;
}

#[tokio::test]
async fn destroying_an_app_removes_its_repository_cache_images_and_dynos() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("doomed").await;
    let app_id = paasd.api(Method::GET, "/apps/doomed", None).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "doomed", "main").status.success());
    paasd.wait_dynos("doomed", 90, |d| up(d, "web") == 1).await;
    let repo_dir = paasd.data.path().join("repos/doomed.git");
    let cache_dir = paasd.data.path().join("cache").join(&app_id);
    assert!(repo_dir.exists() && cache_dir.exists());
    let images = || {
        let out = std::process::Command::new("docker")
            .args(["images", "-q", "paas/doomed"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    assert!(!images().is_empty());

    let dir = tempfile::tempdir().unwrap();
    support::ok(paasd.paas(
        dir.path(),
        &["apps:destroy", "-a", "doomed", "--confirm", "doomed"],
    ));
    assert!(!repo_dir.exists(), "repository removed");
    assert!(!cache_dir.exists(), "build cache removed");
    assert!(images().is_empty(), "images removed");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !container_names(&paasd, "doomed").is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "dynos of a destroyed app keep running"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}
