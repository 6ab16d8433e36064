//! Authorizations: `heroku authorizations`, `:create`, `:info`, `:revoke` and `auth:token`.

use super::{Heroku, assert_contains};
use crate::support::{Paasd, free_port};

/// `heroku authorizations`, `:create`, `:info`, `:revoke` and `auth:token` on paasd's
/// tokens.
#[tokio::test]
async fn the_heroku_cli_manages_authorizations() {
    let tls_port = free_port();
    let paasd = Paasd::start_with(&[("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}"))]).await;
    let heroku = Heroku::new(&paasd, tls_port);
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();

    let (out, _) = heroku.ok(
        cwd,
        &[
            "authorizations:create",
            "-d",
            "ci deploys",
            "-e",
            "3600",
            "--json",
        ],
    );
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = created["id"].as_str().unwrap().to_owned();
    let secret = created["access_token"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("paas_"), "{out}");
    let (out, _) = heroku.ok(cwd, &["authorizations"]);
    assert_contains(&out, "ci deploys");
    assert_contains(&out, &id);
    assert_contains(&out, "global");
    let (out, _) = heroku.ok(cwd, &["authorizations:info", &id]);
    assert_contains(&out, "ci deploys");
    let (out, _) = heroku.ok(cwd, &["auth:token"]);
    assert_eq!(out.trim(), paasd.token);
    let (_, err) = heroku.ok(cwd, &["authorizations:revoke", &id]);
    assert_contains(&err, "revoked authorization from ci deploys");
    let refused = reqwest::Client::new()
        .get(format!("{}/account", paasd.url()))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}
