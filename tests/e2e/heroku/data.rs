//! The heroku CLI's data-host commands against paasd (`HEROKU_DATA_HOST`, served under
//! `/client/v11`): `pg:info`, `pg:backups:capture` (verified, so `succeeded`) and
//! `pg:backups`.

use super::Heroku;
use crate::support::{Paasd, free_port};

#[track_caller]
fn assert_contains(haystack: &str, needle: &str) {
    let haystack = haystack.replace("⬢ ", "");
    assert!(haystack.contains(needle), "{needle:?} not in:\n{haystack}");
}

#[tokio::test]
async fn the_heroku_cli_shows_pg_info_captures_a_verified_backup_and_lists_it() {
    crate::support::require_stack_image();
    let tls_port = free_port();
    let paasd = Paasd::start_with(&[("PAAS_TLS_ADDR", &format!("127.0.0.1:{tls_port}"))]).await;
    let heroku = Heroku::new(&paasd, tls_port);
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    paasd.create_app("hkdata").await;
    let (out, err) = heroku.ok(
        cwd,
        &[
            "addons:create",
            "heroku-postgresql",
            "--wait",
            "-a",
            "hkdata",
        ],
    );
    let name = format!("{out}{err}")
        .split_whitespace()
        .find(|w| w.starts_with("postgresql-"))
        .expect("the add-on's name is printed")
        .trim_end_matches(['.', ','])
        .to_owned();

    let (out, _) = heroku.ok(cwd, &["pg:info", "-a", "hkdata"]);
    assert_contains(&out, "=== DATABASE_URL");
    assert_contains(&out, "Plan:");
    assert_contains(&out, "Essential 0");
    assert_contains(&out, "PG Version:");
    assert_contains(&out, "17.");
    assert_contains(&out, "Connections:");
    assert_contains(&out, "/20");
    assert_contains(&out, "Tables:");
    assert!(
        out.lines()
            .any(|l| l.contains("Last Verified Backup:") && l.trim_end().ends_with("none")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains("Add-on:") && l.contains(&name)),
        "{out}"
    );

    let (out, _) = heroku.ok(cwd, &["pg:backups", "-a", "hkdata"]);
    assert_contains(&out, "No backups. Capture one with");

    let (out, err) = heroku.ok(cwd, &["pg:backups:capture", "-a", "hkdata"]);
    let all = format!("{out}{err}");
    assert_contains(&all, "Backing up DATABASE to b001... done");

    let (out, _) = heroku.ok(cwd, &["pg:backups", "-a", "hkdata"]);
    assert_contains(&out, "b001");
    assert_contains(&out, "Completed");
    assert_contains(&out, "DATABASE");
    let (out, _) = heroku.ok(cwd, &["pg:info", "-a", "hkdata"]);
    assert!(
        out.lines()
            .any(|l| l.contains("Last Verified Backup:") && l.trim_end().ends_with("UTC")),
        "{out}"
    );

    heroku.ok(
        cwd,
        &[
            "addons:destroy",
            &name,
            "-a",
            "hkdata",
            "--confirm",
            "hkdata",
        ],
    );
}
