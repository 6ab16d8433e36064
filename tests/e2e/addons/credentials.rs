//! Credentials: `pg:psql` in a one-off dyno (stdin or `-c`) under each attachment's
//! name; a rotated Postgres password is a release in every attached app and the old one
//! is refused; `redis:cli` gets its password by its environment, and cannot be rotated.

use super::{app_with_postgres, attach, config_var, confirmed, psql, sql, start};
use crate::support::{fails, ok};

#[tokio::test]
async fn pg_psql_reads_stdin_and_a_rotated_password_is_a_release_everywhere_and_the_old_one_is_refused()
 {
    let (paasd, dir) = start().await;
    let dir = dir.path();
    let (name, _) = app_with_postgres(&paasd, dir, "ledger").await;
    paasd.create_app("report").await;
    attach(&paasd, dir, &name, "LEDGER_DB", "report");

    // psql in a one-off dyno of the add-on's image (the stack has no psql), the script
    // on its stdin; an app with no deployed code still gets one.
    let out = paasd.paas_with_stdin(
        dir,
        &["pg:psql", "-a", "ledger"],
        "create table t (x int);\ninsert into t values (41);\nselect x + 1 as answer from t;\n",
    );
    let printed = ok(out);
    assert!(
        printed.contains("answer") && printed.contains("42"),
        "{printed}"
    );
    // The other app reaches it under its own attachment name; psql's status is paas's.
    let out = paasd.paas_with_stdin(
        dir,
        &["pg:psql", "LEDGER_DB", "-a", "report"],
        "\\set ON_ERROR_STOP on\nselect count(*) as n from t;\nselect * from missing_table;\n",
    );
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1"),
        "{out:?}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("missing_table"),
        "psql's error reaches the terminal: {out:?}"
    );

    let urls = || {
        (
            config_var(&paasd, dir, "ledger", "DATABASE_URL"),
            config_var(&paasd, dir, "report", "LEDGER_DB_URL"),
        )
    };
    let (old_ledger, old_report) = urls();
    assert_eq!(old_ledger, old_report);
    let rotated = confirmed(&paasd, dir, &["pg:credentials:rotate", "-a", "ledger"]);
    assert!(
        rotated.contains("ledger: v") && rotated.contains("report: v"),
        "{rotated}"
    );
    let (new_ledger, new_report) = urls();
    assert_eq!(new_ledger, new_report);
    assert_ne!(new_ledger, old_ledger);
    for app in ["ledger", "report"] {
        let releases = ok(paasd.paas(dir, &["releases", "-a", app]));
        assert!(releases.contains("credentials"), "{app}: {releases}");
    }
    // The new URL works, the old password is refused.
    assert_eq!(sql(&paasd, "ledger", &new_ledger, "select x from t"), "41");
    let old = psql(&paasd, "ledger", &old_ledger, "require", "select x from t");
    assert!(!old.status.success(), "the old password still works");
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("password authentication failed"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    // pg:psql follows the rotation (-c: the SQL instead of stdin, Heroku's flag).
    let printed = ok(paasd.paas(
        dir,
        &["pg:psql", "-c", "select 'still here'", "-a", "ledger"],
    ));
    assert!(printed.contains("still here"), "{printed}");

    // redis:cli: the password reaches redis-cli by its environment.
    paasd.create_app("cache").await;
    ok(paasd.paas(dir, &["addons:create", "redis", "-a", "cache"]));
    let printed = ok(paasd.paas_with_stdin(
        dir,
        &["redis:cli", "-a", "cache"],
        "set greeting hello\nget greeting\n",
    ));
    assert!(
        printed.contains("OK") && printed.contains("hello"),
        "{printed}"
    );
    let refused = fails(paasd.paas(
        dir,
        &[
            "pg:credentials:rotate",
            "REDIS",
            "--confirm",
            "cache",
            "-a",
            "cache",
        ],
    ));
    assert!(refused.contains("only Postgres"), "{refused}");
}
