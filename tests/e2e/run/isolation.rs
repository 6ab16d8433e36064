//! Isolation: a dyno reaches neither another app's dynos nor the control API.

use super::up;
use crate::support::{self, Paasd, fixture_repo};

#[tokio::test]
async fn a_dyno_cannot_reach_another_apps_dynos_or_the_control_api() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    for app in ["alpha", "beta"] {
        paasd.create_app(app).await;
        let repo = fixture_repo("procfile-shell");
        assert!(paasd.push(repo.path(), app, "main").status.success());
    }
    paasd.wait_dynos("beta", 90, |d| up(d, "web") == 1).await;
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "-q",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            "label=paas.app_name=beta",
        ])
        .output()
        .unwrap();
    let beta = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let ip = std::process::Command::new("docker")
        .args([
            "inspect",
            "--format",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &beta,
        ])
        .output()
        .unwrap();
    let beta_ip = String::from_utf8_lossy(&ip.stdout).trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let probe = |target: String| {
        format!(
            "python3 -c \"import socket,sys\ntry:\n socket.create_connection(('{}', {}), 3); print('REACHED')\nexcept OSError as e: print('BLOCKED', e)\"",
            target.split(':').next().unwrap(),
            target.split(':').nth(1).unwrap()
        )
    };
    // From a dyno of alpha: beta's web dyno, and the control API (on the host's loopback).
    for target in [
        format!("{beta_ip}:5000"),
        format!("127.0.0.1:{}", paasd.port),
    ] {
        let out = paasd.paas(
            dir.path(),
            &[
                "run",
                "-a",
                "alpha",
                "--",
                "sh",
                "-c",
                &probe(target.clone()),
            ],
        );
        let stdout = support::stdout(&out);
        assert!(
            stdout.contains("BLOCKED"),
            "alpha reached {target}: {stdout} {}",
            support::stderr(&out)
        );
    }
    // The same probe does reach beta from the host, so the probe itself works.
    assert!(std::net::TcpStream::connect(format!("{beta_ip}:5000")).is_ok());
}
