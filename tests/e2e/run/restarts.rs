//! Restarts: `ps:restart` of all dynos, a type or one dyno, and a SIGKILLed paasd that
//! adopts its dynos and keeps serving.

use reqwest::Method;
use serde_json::json;

use super::{container_names, up};
use crate::support::{self, Paasd, fixture_repo};

#[tokio::test]
async fn ps_restart_replaces_all_dynos_a_type_or_one_dyno() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    paasd.create_app("restarts").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "restarts", "main").status.success());
    paasd
        .api(
            Method::PATCH,
            "/apps/restarts/formation/web",
            Some(json!({"quantity": 2})),
        )
        .await;
    paasd
        .wait_dynos("restarts", 90, |d| up(d, "web") == 2)
        .await;
    assert_eq!(
        container_names(&paasd, "restarts"),
        ["restarts.web.1.v2", "restarts.web.2.v2"]
    );

    support::ok(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while container_names(&paasd, "restarts") != ["restarts.web.1.v2.r1", "restarts.web.2.v2.r1"] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            container_names(&paasd, "restarts")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert_eq!(
        paasd
            .api(Method::GET, "/apps/restarts/releases", None)
            .await
            .as_array()
            .unwrap()
            .len(),
        2,
        "no release"
    );

    support::ok(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts", "web"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while container_names(&paasd, "restarts") != ["restarts.web.1.v2.r2", "restarts.web.2.v2.r2"] {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}",
            container_names(&paasd, "restarts")
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    paasd
        .wait_dynos("restarts", 60, |d| up(d, "web") == 2)
        .await;

    let id_of_web1 = || {
        let out = std::process::Command::new("docker")
            .args(["inspect", "--format", "{{.Id}}", "restarts.web.1.v2.r2"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let before = id_of_web1();
    support::ok(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts", "web.1"]));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let now = id_of_web1();
        if !now.is_empty() && now != before {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "web.1 was not replaced"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    let err = support::fails(paasd.paas(dir.path(), &["ps:restart", "-a", "restarts", "clock"]));
    assert!(err.contains("clock"), "{err}");
}

fn dyno_containers(paasd: &Paasd) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--no-trunc",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            "label=paas.kind=formation",
        ])
        .output()
        .unwrap();
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_sigkilled_paasd_adopts_its_dynos_and_keeps_serving() {
    support::require_stack_image();
    let mut paasd = Paasd::start().await;
    paasd.create_app("survivor").await;
    let repo = fixture_repo("procfile-shell");
    assert!(paasd.push(repo.path(), "survivor", "main").status.success());
    paasd.api(Method::PATCH, "/apps/survivor/formation", Some(json!({"updates": [{"type": "web", "quantity": 2}, {"type": "worker", "quantity": 1}]}))).await;
    paasd
        .wait_dynos("survivor", 90, |d| {
            up(d, "web") == 2 && up(d, "worker") == 1
        })
        .await;
    let before = dyno_containers(&paasd);
    assert_eq!(before.len(), 3);

    paasd.sigkill_and_restart().await;
    assert_eq!(dyno_containers(&paasd), before, "the dynos outlive paasd");
    // The new paasd adopts them: same containers, none added or removed, routed again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while paasd.get_via_router("survivor").await.0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the app is not routed after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(dyno_containers(&paasd), before, "adopted, not recreated");
    let body = paasd.get_via_router("survivor").await.1;
    assert!(body.contains("hello from shell"), "{body}");
}
