//! Authorizations: `heroku authorizations`, `:create`, `:info`, `:revoke`, `auth:token`, and
//! `heroku login -i` on a terminal.

use super::{Heroku, assert_contains};
use crate::support::{Paasd, free_port, stderr, stdout};

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

    // `heroku login -i` on a terminal: email, then the token as password. The CLI makes
    // itself a 30-day authorization with them and keeps it in ~/.netrc, which every
    // later command uses (no HEROKU_API_KEY).
    let (logged_in, screen) = heroku.login_interactive(cwd, "me@example.com", &paasd.token);
    assert!(logged_in, "heroku login -i:\n{screen}");
    // (On a terminal the email is coloured: the two parts are checked apart.)
    assert_contains(&screen, "Logged in as ");
    assert_contains(&screen, "Heroku-CLI-login-from-");
    let netrc = std::fs::read_to_string(heroku.home.path().join(".netrc")).unwrap();
    assert_contains(&netrc, &format!("machine 127.0.0.1:{}", paasd.port));
    let out = heroku
        .command(&heroku.bin, cwd)
        .env_remove("HEROKU_API_KEY")
        .args(["auth:whoami"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_contains(&stdout(&out), "Heroku-CLI-login-from-");
    let listed = stdout(&paasd.paasd(&["tokens", "list"]));
    let line = listed
        .lines()
        .find(|l| l.starts_with("Heroku CLI login from"))
        .unwrap_or_else(|| panic!("no login token in:\n{listed}"));
    assert!(!line.ends_with("never"), "a 30-day token: {line}");
}
