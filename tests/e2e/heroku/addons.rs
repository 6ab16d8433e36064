//! The heroku CLI's `addons:*` commands against paasd: create (with `--wait`), list,
//! info, attach, detach, services, plans, destroy.

use super::Heroku;
use crate::support::{Paasd, free_port};

/// Whether the CLI marks app names with `⬢ ` depends on its terminal; compare without.
#[track_caller]
fn assert_contains(haystack: &str, needle: &str) {
    let haystack = haystack.replace("⬢ ", "");
    let needle = needle.replace("⬢ ", "");
    assert!(haystack.contains(&needle), "{needle:?} not in:\n{haystack}");
}

#[tokio::test]
async fn the_heroku_cli_creates_attaches_detaches_and_destroys_addons() {
    crate::support::require_stack_image();
    let tls_port = free_port();
    let paasd = Paasd::start_with(&[("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}"))]).await;
    let heroku = Heroku::new(&paasd, tls_port);
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    paasd.create_app("hk").await;
    paasd.create_app("hk-other").await;

    let (out, err) = heroku.ok(
        cwd,
        &["addons:create", "heroku-postgresql", "--wait", "-a", "hk"],
    );
    let all = format!("{out}{err}");
    assert_contains(&all, "Creating heroku-postgresql on ⬢ hk... free");
    assert_contains(&all, "as DATABASE_URL");
    let name = all
        .split_whitespace()
        .find(|w| w.starts_with("postgresql-"))
        .expect("the add-on's name is printed")
        .trim_end_matches(['.', ','])
        .to_owned();

    let (out, _) = heroku.ok(cwd, &["addons", "-a", "hk"]);
    assert_contains(&out, &format!("heroku-postgresql ({name})"));
    assert_contains(&out, "essential-0");
    assert_contains(&out, "free");
    assert_contains(&out, "created");
    let (out, _) = heroku.ok(cwd, &["addons:info", &name]);
    assert_contains(&out, &format!("=== {name}"));
    assert_contains(&out, "hk::DATABASE");

    let (_, err) = heroku.ok(
        cwd,
        &["addons:attach", &name, "--as", "SHARED", "-a", "hk-other"],
    );
    assert_contains(
        &err,
        "Setting SHARED config vars and restarting ⬢ hk-other... done, v2",
    );
    let (out, _) = heroku.ok(cwd, &["config:get", "SHARED_URL", "-a", "hk-other"]);
    assert!(out.trim().starts_with("postgres://"), "{out}");
    let (out, _) = heroku.ok(cwd, &["addons", "-a", "hk-other"]);
    assert_contains(&out, "as SHARED");
    let (_, err) = heroku.ok(cwd, &["addons:detach", "SHARED", "-a", "hk-other"]);
    assert_contains(
        &err,
        "Unsetting SHARED config vars and restarting ⬢ hk-other... done, v3",
    );

    let (out, _) = heroku.ok(cwd, &["addons:services"]);
    assert_contains(&out, "heroku-postgresql");
    assert_contains(&out, "heroku-redis");
    let (out, _) = heroku.ok(cwd, &["addons:plans", "heroku-postgresql"]);
    assert_contains(&out, "heroku-postgresql:essential-0");
    assert_contains(&out, "heroku-postgresql:standard-0");

    let (_, err) = heroku.ok(
        cwd,
        &["addons:destroy", &name, "-a", "hk", "--confirm", "hk"],
    );
    assert_contains(&err, &format!("Destroying {name} on ⬢ hk... done"));
    let (out, _) = heroku.ok(cwd, &["addons", "-a", "hk"]);
    assert_contains(&out, "No add-ons for app hk.");
}
