//! A Docker Engine restart under paasd: the engine stops every container and, started
//! again, hands out addresses anew. The supervisor must bring the dynos back, the routes
//! must be rebuilt from live state, and no request may ever reach another app's dyno.
//! A Postgres add-on's rows, written before through its URL from the app's network,
//! are read back after (its container is started again on its kept volume).
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
use support::{Paasd, fixture_repo, ok};
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
                "docker ps -q --filter label=paas.instance={instance} --filter label=paas.kind=formation \
                 | xargs -r docker inspect \
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

/// `sql` by psql over TLS in a throwaway container on `app`'s network (where its dynos
/// and one-offs reach the add-on by its URL); its output when it succeeded.
fn psql(instance: &str, app: &str, url: &str, sql: &str) -> Option<String> {
    let out = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            &format!("paas-{instance}-{app}"),
            "--entrypoint",
            "psql",
            "paas/addon_postgresql:17",
            &format!("{url}?sslmode=require&connect_timeout=5"),
            "-v",
            "ON_ERROR_STOP=1",
            "-Atc",
            sql,
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[tokio::test]
async fn after_a_docker_engine_restart_routes_are_rebuilt_never_cross_apps_and_addon_data_is_kept()
{
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

    // beta's Postgres add-on holds rows written through its URL on beta's network.
    let dir = tempfile::tempdir().unwrap();
    ok(paasd.paas(dir.path(), &["addons:create", "postgresql", "-a", "beta"]));
    let config: Value = serde_json::from_str(&ok(
        paasd.paas(dir.path(), &["config", "-a", "beta", "--json"])
    ))
    .unwrap();
    let url = config["DATABASE_URL"].as_str().unwrap().to_owned();
    let written = psql(
        &paasd.instance,
        "beta",
        &url,
        "create table items (n int); insert into items select generate_series(1, 100); \
         select count(*) || '|' || sum(n) from items",
    );
    assert_eq!(
        written.as_deref().and_then(|out| out.lines().last()),
        Some("100|5050"),
        "{written:?}"
    );
    // The attachment is a release: beta rolls onto it (two web dynos for a moment).
    let deadline = Instant::now() + Duration::from_secs(90);
    let before = loop {
        let ips = dyno_ips(&paasd.instance);
        if ips.len() == 3 || Instant::now() > deadline {
            break ips;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
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

    // The add-on's rows are all there, read through the same URL.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let read = psql(
            &paasd.instance,
            "beta",
            &url,
            "select count(*) || '|' || sum(n) from items",
        );
        if read.as_deref() == Some("100|5050") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the add-on's rows did not come back after the engine restart: {read:?}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.cancel();
    for asker in askers {
        let (app, answered, crossed) = asker.await.unwrap();
        assert!(answered > 10, "{app} answered {answered} times");
        assert!(crossed.is_empty(), "requests for {app} reached {crossed:?}");
    }
}
