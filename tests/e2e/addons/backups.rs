//! Manual backups of a Postgres add-on: captured and verified, shown by `pg:info`,
//! downloaded, restored (capturing what they replace first); a damaged one fails
//! verification loudly and cannot be restored; deleted, and gone with their add-on.

use super::{app_with_postgres, confirmed, destroy, json, sql, start};
use crate::support::{fails, ok};

#[tokio::test]
async fn backups_are_verified_downloaded_and_restored_and_a_damaged_one_is_failed() {
    let (paasd, dir) = start().await;
    let dir = dir.path();
    let (name, url) = app_with_postgres(&paasd, dir, "vault").await;
    sql(
        &paasd,
        "vault",
        &url,
        "create table items (name text); insert into items values ('a'), ('b'), ('c');",
    );

    let info = ok(paasd.paas(dir, &["pg:info", "-a", "vault"]));
    assert!(
        info.contains(&format!("=== {name}"))
            && info.contains("PG Version:           17.")
            && info.contains("Tables:               1\n")
            && info.contains("Last verified backup: none"),
        "{info}"
    );
    let captured = ok(paasd.paas(dir, &["pg:backups:capture", "-a", "vault"]));
    assert!(
        captured.contains(&format!("b001 of {name}: verified (1 tables")),
        "{captured}"
    );
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "vault"]));
    assert!(list.contains("b001") && list.contains("verified"), "{list}");
    let info = json(paasd.paas(dir, &["pg:info", "-a", "vault", "--json"]));
    assert!(info["last_verified_backup_at"].is_string(), "{info}");
    assert!(info["size_bytes"].as_i64().unwrap() > 0, "{info}");
    let file = paasd
        .data
        .path()
        .join("backups")
        .join("addons")
        .join(&name)
        .join("b001.dump");
    assert!(file.is_file(), "the dump is under PAAS_BACKUP_DIR/addons");

    // The data changes; the download is the dump of before.
    sql(
        &paasd,
        "vault",
        &url,
        "delete from items; insert into items values ('after');",
    );
    let downloaded = dir.join("b001.dump");
    ok(paasd.paas(
        dir,
        &[
            "pg:backups:download",
            "b001",
            "-o",
            downloaded.to_str().unwrap(),
            "-a",
            "vault",
        ],
    ));
    let bytes = std::fs::read(&downloaded).unwrap();
    assert!(bytes.starts_with(b"PGDMP"), "a pg_dump custom-format file");
    assert_eq!(bytes, std::fs::read(&file).unwrap());

    // A restore needs the confirmation, captures what it replaces, then restores.
    let restored = confirmed(&paasd, dir, &["pg:backups:restore", "b001", "-a", "vault"]);
    assert!(
        restored.contains("Restored b001") && restored.contains("backup b002"),
        "{restored}"
    );
    assert_eq!(
        sql(
            &paasd,
            "vault",
            &url,
            "select string_agg(name, ',' order by name) from items"
        ),
        "a,b,c"
    );

    // b002 holds the replaced data; damaged on disk, it no longer verifies.
    let b002 = file.with_file_name("b002.dump");
    let whole = std::fs::read(&b002).unwrap();
    std::fs::write(&b002, &whole[..whole.len() / 2]).unwrap();
    let verified = ok(paasd.paas(dir, &["pg:backups:verify", "b002", "-a", "vault"]));
    assert!(
        verified.contains("b002: failed: restoring it"),
        "{verified}"
    );
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "vault"]));
    assert!(list.contains("failed"), "{list}");
    // The failure is a platform event in the app's log stream, not only a status.
    let logs = ok(paasd.paas(dir, &["logs", "-n", "200", "-a", "vault"]));
    assert!(
        logs.contains(&format!(
            "app[api]: Error: backup b002 of {name} FAILED: restoring it"
        )),
        "{logs}"
    );
    let refused = fails(paasd.paas(
        dir,
        &[
            "pg:backups:restore",
            "b002",
            "--confirm",
            "vault",
            "-a",
            "vault",
        ],
    ));
    assert!(refused.contains("not verified"), "{refused}");
    // The good one still verifies (the check is not always "failed").
    let verified = ok(paasd.paas(dir, &["pg:backups:verify", "b001", "-a", "vault"]));
    assert!(verified.contains("b001: verified"), "{verified}");

    ok(paasd.paas(
        dir,
        &[
            "pg:backups:delete",
            "b001",
            "--confirm",
            "vault",
            "-a",
            "vault",
        ],
    ));
    assert!(!file.exists());
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "vault"]));
    assert!(!list.contains("b001"), "{list}");

    destroy(&paasd, dir, &name, "vault");
    assert!(
        !paasd
            .data
            .path()
            .join("backups/addons")
            .join(&name)
            .exists(),
        "a destroyed add-on's backups go with it"
    );
}
