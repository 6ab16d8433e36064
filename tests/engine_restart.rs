//! A Docker Engine restart under paasd: the engine stops every container and, started
//! again, hands out addresses anew. The supervisor must bring the dynos back, the routes
//! must be rebuilt from live state, and no request may ever reach another app's dyno.
//!
//! Restarting the engine disturbs every container on the machine, so this test is its
//! own binary, left out of the parallel run by `.config/nextest.toml`'s default filter
//! and run alone afterwards by `scripts/test`.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

#[path = "e2e/support.rs"]
#[allow(dead_code, reason = "the e2e helpers this test does not need")]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::{Paasd, fixture_repo};
use tokio_util::sync::CancellationToken;

fn web_up(dynos: &[Value]) -> usize {
    dynos
        .iter()
        .filter(|d| d["type"] == "web" && d["state"] == "up")
        .count()
}

/// Who answered a GET / for `app` through the router, if a dyno did.
async fn who(client: &reqwest::Client, router_port: u16, app: &str) -> Option<String> {
    let response = client
        .get(format!("http://127.0.0.1:{router_port}/"))
        .header("host", format!("{app}.localhost"))
        .send()
        .await
        .ok()?;
    if response.status() != 200 {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["who"].as_str().map(str::to_owned)
}

fn dyno_ips(instance: &str) -> Vec<String> {
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "docker ps -q --filter label=paas.instance={instance} | xargs -r docker inspect \
                 --format '{{{{range .NetworkSettings.Networks}}}}{{{{.IPAddress}}}}{{{{end}}}}'"
            ),
        ])
        .output()
        .unwrap();
    let mut ips: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    ips.sort();
    ips
}

#[tokio::test]
async fn after_a_docker_engine_restart_routes_are_rebuilt_and_never_cross_apps() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    for app in ["alpha", "beta"] {
        paasd.create_app(app).await;
        paasd
            .api(
                Method::PATCH,
                &format!("/apps/{app}/config-vars"),
                Some(json!({"WHO": app})),
            )
            .await;
        let repo = fixture_repo("router-probe");
        let out = paasd.push(repo.path(), app, "main");
        assert!(out.status.success(), "{}", support::stderr(&out));
    }
    paasd
        .api(
            Method::PATCH,
            "/apps/alpha/formation/web",
            Some(json!({"quantity": 2})),
        )
        .await;
    paasd.wait_dynos("alpha", 90, |d| web_up(d) == 2).await;
    paasd.wait_dynos("beta", 90, |d| web_up(d) == 1).await;
    let before = dyno_ips(&paasd.instance);
    assert_eq!(before.len(), 3, "{before:?}");

    // Clients of both apps ask all along; any answer must come from the app asked.
    let stop = CancellationToken::new();
    let askers: Vec<_> = ["alpha", "beta"]
        .into_iter()
        .map(|app| {
            let stop = stop.clone();
            let port = paasd.router_port;
            tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let (mut answered, mut crossed) = (0u32, Vec::new());
                while !stop.is_cancelled() {
                    match who(&client, port, app).await {
                        Some(w) if w == app => answered += 1,
                        Some(w) => crossed.push(w),
                        None => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
                (app, answered, crossed)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;

    // Stop the engine (it stops every container) and start it again.
    let restarted = Command::new("bash")
        .current_dir(support::workspace_root())
        .args([
            "-c",
            "set -euo pipefail; pid=$(cat /var/run/docker.pid); kill \"$pid\"; \
             for _ in $(seq 1 300); do kill -0 \"$pid\" 2>/dev/null || break; sleep 0.1; done; \
             source scripts/lib.sh; ensure_dockerd",
        ])
        .status()
        .unwrap();
    assert!(restarted.success(), "could not restart dockerd");

    // Both apps serve again, from dynos with live addresses.
    let deadline = Instant::now() + Duration::from_secs(120);
    let client = reqwest::Client::new();
    for app in ["alpha", "beta"] {
        while who(&client, paasd.router_port, app).await.as_deref() != Some(app) {
            assert!(
                Instant::now() < deadline,
                "{app} did not serve again after the engine restart\n{}",
                paasd.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    paasd.wait_dynos("alpha", 90, |d| web_up(d) == 2).await;
    paasd.wait_dynos("beta", 90, |d| web_up(d) == 1).await;
    let after = dyno_ips(&paasd.instance);
    assert_eq!(after.len(), 3, "{after:?}");
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    for asker in askers {
        let (app, answered, crossed) = asker.await.unwrap();
        assert!(answered > 10, "{app} answered {answered} times");
        assert!(crossed.is_empty(), "requests for {app} reached {crossed:?}");
    }
}
