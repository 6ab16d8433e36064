//! Add-ons end to end: a Postgres add-on is created and attached as a release, a pushed
//! app's release phase migrates it and its web dyno and one-offs read it over TLS (plain
//! connections refused); its data survives a paasd SIGKILL, a `docker restart` and a
//! crash of its container; only attached apps' networks reach it; destroying it leaves
//! no container and no volume. Redis requires its password.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, Paasd, fails, fixture_repo, ok};

fn json(out: std::process::Output) -> Value {
    serde_json::from_str(&ok(out)).expect("--json prints JSON")
}

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Creates a Postgres add-on for `app` (its first) and returns the add-on's name.
fn create_postgres(paasd: &Paasd, dir: &std::path::Path, app: &str) -> String {
    ok(paasd.paas(dir, &["addons:create", "postgresql", "-a", app]));
    let addons = json(paasd.paas(dir, &["addons", "-a", app, "--json"]));
    addons[0]["name"].as_str().unwrap().to_owned()
}

/// Runs `paas ARGS`, which ends in `-a APP`: refused without `--confirm APP` (the refusal
/// says so), then run with it; its output.
fn confirmed(paasd: &Paasd, dir: &std::path::Path, args: &[&str]) -> String {
    let [.., "-a", app] = args else {
        panic!("{args:?} does not end in -a APP")
    };
    let refused = fails(paasd.paas(dir, args));
    assert!(refused.contains(&format!("--confirm {app}")), "{refused}");
    let with_confirm: Vec<&str> = args.iter().copied().chain(["--confirm", app]).collect();
    ok(paasd.paas(dir, &with_confirm))
}

/// GET `path` of `app` through the router.
async fn get(paasd: &Paasd, app: &str, path: &str) -> String {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}{path}", paasd.router_port))
        .header("host", format!("{app}.localhost"))
        .send()
        .await
        .expect("GET through the router")
        .text()
        .await
        .expect("body")
}

/// Polls `path` until its body contains `want`.
async fn wait_for(paasd: &Paasd, app: &str, path: &str, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let body = get(paasd, app, path).await;
        if body.contains(want) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{app}{path} never said {want:?}; last: {body}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// psql in a throwaway container of the add-on image on `app`'s network.
fn psql_from_network(paasd: &Paasd, app: &str, url: &str, sslmode: &str) -> std::process::Output {
    let network = format!("paas-{}-{app}", paasd.instance);
    let conninfo = format!("{url}?sslmode={sslmode}&connect_timeout=5");
    docker(&[
        "run",
        "--rm",
        "--network",
        &network,
        "--entrypoint",
        "psql",
        "paas/addon_postgresql:17",
        &conninfo,
        "-Atc",
        "select count(*) from items",
    ])
}

fn apps_on(container: &str) -> String {
    docker_ok(&[
        "inspect",
        "--format",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
        container,
    ])
}

#[tokio::test]
async fn a_postgres_addon_serves_an_app_over_tls_survives_restarts_and_is_destroyed_without_a_trace()
 {
    support::require_stack_image();
    let mut paasd = Paasd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    paasd.create_app("shop").await;

    // Created and attached: the URL is set as a release once it accepts connections.
    let created = ok(paasd.paas(dir, &["addons:create", "postgresql", "-a", "shop"]));
    assert!(created.contains("as DATABASE_URL"), "{created}");
    let addons = json(paasd.paas(dir, &["addons", "-a", "shop", "--json"]));
    let addon = &addons.as_array().unwrap()[0];
    let name = addon["name"].as_str().unwrap().to_owned();
    let id = addon["id"].as_str().unwrap().to_owned();
    assert!(name.starts_with("postgresql-"), "{name}");
    assert_eq!(addon["state"], "provisioned");
    assert_eq!(addon["plan"]["name"], "heroku-postgresql:essential-0");
    let releases = ok(paasd.paas(dir, &["releases", "-a", "shop"]));
    assert!(
        releases.contains(&format!("Attach DATABASE ({name})")),
        "{releases}"
    );
    let config = json(paasd.paas(dir, &["config", "-a", "shop", "--json"]));
    let url = config["DATABASE_URL"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with("postgres://") && url.contains(&format!("@{name}:5432/")),
        "{url}"
    );
    let container = format!("paas-{}-addon-{name}", paasd.instance);
    assert_eq!(
        docker_ok(&[
            "inspect",
            "--format",
            "{{.HostConfig.Memory}} {{index .Config.Labels \"paas.addon\"}}",
            &container
        ]),
        format!("{} {id}", 256 << 20)
    );

    // The var is the attachment's: a hand edit is refused and changes nothing.
    let refused = fails(paasd.paas(
        dir,
        &[
            "config:set",
            "DATABASE_URL=postgres://elsewhere",
            "-a",
            "shop",
        ],
    ));
    assert!(
        refused.contains(&format!("owned by the add-on {name}")),
        "{refused}"
    );
    let refused = fails(paasd.paas(dir, &["config:unset", "DATABASE_URL", "-a", "shop"]));
    assert!(refused.contains("owned by the add-on"), "{refused}");
    assert_eq!(
        json(paasd.paas(dir, &["config", "-a", "shop", "--json"]))["DATABASE_URL"],
        url.as_str()
    );

    // The release phase migrates; the web dyno reads the rows over TLS.
    let repo = fixture_repo("python-postgres");
    let push = paasd.push(repo.path(), "shop", "main");
    assert!(push.status.success(), "{}", support::stderr(&push));
    assert!(
        support::stderr(&push).contains("migrated: 1 rows"),
        "{}",
        support::stderr(&push)
    );
    let body = wait_for(&paasd, "shop", "/", "rows=1", 120).await;
    assert!(body.contains("ssl=True names=migrated"), "{body}");
    // A plain connection is refused by the server (pg_hba has hostssl lines only).
    let plain = get(&paasd, "shop", "/?tls=0").await;
    assert!(
        plain.contains("error") && plain.contains("no encryption"),
        "{plain}"
    );
    // A one-off dyno reaches it too.
    let one_off = ok(paasd.paas(
        dir,
        &[
            "run",
            "-a",
            "shop",
            "--",
            "python",
            "-c",
            "import db; print('count', db.connect().run('select count(*) from items')[0][0])",
        ],
    ));
    assert!(one_off.contains("count 1"), "{one_off}");

    // paasd killed: the new one adopts the add-on (same container) and the data is there.
    let before = docker_ok(&["inspect", "--format", "{{.Id}}", &container]);
    paasd.sigkill_and_restart().await;
    wait_for(&paasd, "shop", "/", "rows=1", 60).await;
    assert_eq!(
        docker_ok(&["inspect", "--format", "{{.Id}}", &container]),
        before,
        "adopted, not recreated"
    );
    // `docker restart` of the add-on: the data is on its volume.
    docker_ok(&["restart", &container]);
    wait_for(&paasd, "shop", "/", "rows=1 ssl=True", 60).await;
    // A crash: the supervisor starts it again.
    docker_ok(&["kill", &container]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while docker_ok(&["inspect", "--format", "{{.State.Running}}", &container]) != "true" {
        assert!(
            Instant::now() < deadline,
            "a killed add-on was not started again:\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    wait_for(&paasd, "shop", "/", "rows=1 ssl=True", 60).await;

    // Only attached apps' networks reach it. Attached to a second app: reachable from its
    // network over TLS, refused in the clear.
    paasd.create_app("admin").await;
    let attached = ok(paasd.paas(
        dir,
        &["addons:attach", &name, "--as", "SHOP_DB", "-a", "admin"],
    ));
    assert!(attached.contains("SHOP_DB_URL"), "{attached}");
    let admin_config = json(paasd.paas(dir, &["config", "-a", "admin", "--json"]));
    assert_eq!(admin_config["SHOP_DB_URL"], url.as_str());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !apps_on(&container).contains(&format!("paas-{}-admin", paasd.instance)) {
        assert!(Instant::now() < deadline, "never joined admin's network");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let tls = psql_from_network(&paasd, "admin", &url, "require");
    assert_eq!(
        String::from_utf8_lossy(&tls.stdout).trim(),
        "1",
        "{}",
        String::from_utf8_lossy(&tls.stderr)
    );
    let plain = psql_from_network(&paasd, "admin", &url, "disable");
    assert!(!plain.status.success());
    assert!(
        String::from_utf8_lossy(&plain.stderr).contains("no encryption"),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    // Detached: the var goes as a release and the network no longer reaches it.
    ok(paasd.paas(dir, &["addons:detach", "SHOP_DB", "-a", "admin"]));
    let admin_config = json(paasd.paas(dir, &["config", "-a", "admin", "--json"]));
    assert!(admin_config.get("SHOP_DB_URL").is_none(), "{admin_config}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while apps_on(&container).contains(&format!("paas-{}-admin", paasd.instance)) {
        assert!(Instant::now() < deadline, "never left admin's network");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let unattached = psql_from_network(&paasd, "admin", &url, "require");
    assert!(
        !unattached.status.success(),
        "an unattached app's network reached the add-on"
    );

    // Destroyed: detached as a release, no container, no volume.
    let refused = fails(paasd.paas(dir, &["addons:destroy", &name, "-a", "shop"]));
    assert!(refused.contains("--confirm"), "{refused}");
    ok(paasd.paas(
        dir,
        &["addons:destroy", &name, "--confirm", &name, "-a", "shop"],
    ));
    let label = format!("label=paas.addon={id}");
    assert_eq!(docker_ok(&["ps", "-aq", "--filter", &label]), "");
    assert_eq!(docker_ok(&["volume", "ls", "-q", "--filter", &label]), "");
    let config = json(paasd.paas(dir, &["config", "-a", "shop", "--json"]));
    assert!(config.get("DATABASE_URL").is_none(), "{config}");
    let releases = ok(paasd.paas(dir, &["releases", "-a", "shop"]));
    assert!(
        releases.contains(&format!("Detach DATABASE ({name})")),
        "{releases}"
    );
    assert!(
        ok(paasd.paas(dir, &["addons", "-a", "shop"])).contains("No add-ons"),
        "listed after destroy"
    );
}

#[tokio::test]
async fn a_redis_addon_requires_its_password_and_goes_with_its_app() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    paasd.create_app("cache").await;
    let created = ok(paasd.paas(
        dir,
        &["addons:create", "redis", "--as", "CACHE", "-a", "cache"],
    ));
    assert!(created.contains("as CACHE_URL"), "{created}");
    let config = json(paasd.paas(dir, &["config", "-a", "cache", "--json"]));
    let url = config["CACHE_URL"].as_str().unwrap().to_owned();
    let addons = json(paasd.paas(dir, &["addons", "-a", "cache", "--json"]));
    let id = addons[0]["id"].as_str().unwrap().to_owned();
    let host = addons[0]["name"].as_str().unwrap().to_owned();
    let network = format!("paas-{}-cache", paasd.instance);
    let cli = |args: &[&str]| {
        let mut all = vec![
            "run",
            "--rm",
            "--network",
            &network,
            "--entrypoint",
            "redis-cli",
            "paas/addon_redis:8",
        ];
        all.extend_from_slice(args);
        docker(&all)
    };
    let with_password = cli(&["-u", &url, "ping"]);
    assert_eq!(
        String::from_utf8_lossy(&with_password.stdout).trim(),
        "PONG"
    );
    let without = cli(&["-h", &host, "ping"]);
    assert!(
        String::from_utf8_lossy(&without.stdout).contains("NOAUTH"),
        "{}",
        String::from_utf8_lossy(&without.stdout)
    );

    // apps:destroy destroys the add-ons the app owns.
    ok(paasd.paas(dir, &["apps:destroy", "--confirm", "cache", "-a", "cache"]));
    let label = format!("label=paas.addon={id}");
    assert_eq!(docker_ok(&["ps", "-aq", "--filter", &label]), "");
    assert_eq!(docker_ok(&["volume", "ls", "-q", "--filter", &label]), "");
    let all = paasd.api(reqwest::Method::GET, "/addons", None).await;
    assert_eq!(all, serde_json::json!([]));
}

/// psql in a throwaway container on `app`'s network, over TLS, running `sql`.
fn sql(paasd: &Paasd, app: &str, url: &str, sql: &str) -> String {
    let network = format!("paas-{}-{app}", paasd.instance);
    let conninfo = format!("{url}?sslmode=require&connect_timeout=5");
    docker_ok(&[
        "run",
        "--rm",
        "--network",
        &network,
        "--entrypoint",
        "psql",
        "paas/addon_postgresql:17",
        &conninfo,
        "-v",
        "ON_ERROR_STOP=1",
        "-Atc",
        sql,
    ])
}

#[tokio::test]
async fn backups_are_verified_downloaded_and_restored_and_a_damaged_one_is_failed() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    paasd.create_app("vault").await;
    let name = create_postgres(&paasd, dir, "vault");
    let config = json(paasd.paas(dir, &["config", "-a", "vault", "--json"]));
    let url = config["DATABASE_URL"].as_str().unwrap().to_owned();
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

    ok(paasd.paas(
        dir,
        &["addons:destroy", &name, "--confirm", &name, "-a", "vault"],
    ));
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

/// `paas logs` of `app` until they contain `want` (panics after `secs`).
async fn wait_for_log(
    paasd: &Paasd,
    dir: &std::path::Path,
    app: &str,
    want: &str,
    secs: u64,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let logs = ok(paasd.paas(dir, &["logs", "-n", "500", "-a", app]));
        if logs.contains(want) {
            return logs;
        }
        assert!(
            Instant::now() < deadline,
            "{app}'s logs never said {want:?}:\n{logs}\n{}",
            paasd.log()
        );
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// `HH:MM` (UTC) of the start of the minute at least 70 s from now: a schedule set for
/// it is due within 10 to 70 s.
fn a_minute_ahead() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let at = (now + 70) / 60 * 60;
    format!("{:02}:{:02}", (at % 86_400) / 3600, (at % 3600) / 60)
}

#[tokio::test]
async fn scheduled_backups_run_at_their_time_a_missed_one_is_announced_and_run_and_old_ones_are_pruned()
 {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    paasd.create_app("daily").await;
    let daily = create_postgres(&paasd, dir, "daily");
    paasd.create_app("stalled").await;
    let stalled = create_postgres(&paasd, dir, "stalled");
    let config = json(paasd.paas(dir, &["config", "-a", "daily", "--json"]));
    let url = config["DATABASE_URL"].as_str().unwrap().to_owned();
    sql(
        &paasd,
        "daily",
        &url,
        "create table items (name text); insert into items values ('a'), ('b');",
    );
    // A manual capture: never pruned by the schedule.
    ok(paasd.paas(dir, &["pg:backups:capture", "-a", "daily"]));

    let bad = fails(paasd.paas(
        dir,
        &[
            "pg:backups:schedule",
            "--at",
            "02:00 Mars/Olympus",
            "-a",
            "daily",
        ],
    ));
    assert!(bad.contains("unknown time zone"), "{bad}");
    let bad = fails(paasd.paas(
        dir,
        &["pg:backups:schedule", "--at", "25:00", "-a", "daily"],
    ));
    assert!(bad.contains("not a time of day"), "{bad}");

    // Both scheduled for the coming minute; the second add-on cannot be backed up then
    // (its container is paused: the supervisor leaves a paused container alone).
    let at = a_minute_ahead();
    for app in ["daily", "stalled"] {
        let set = ok(paasd.paas(
            dir,
            &[
                "pg:backups:schedule",
                "--at",
                &format!("{at} UTC"),
                "--keep",
                "1",
                "-a",
                app,
            ],
        ));
        assert!(
            set.contains(&format!("every day at {at} UTC, keeping 1")),
            "{set}"
        );
    }
    let listed = ok(paasd.paas(dir, &["pg:backups:schedules", "-a", "daily"]));
    assert!(
        listed.contains(&daily)
            && listed.contains(&format!("{at} UTC"))
            && !listed.contains(&stalled),
        "{listed}"
    );
    let stalled_container = format!("paas-{}-addon-{stalled}", paasd.instance);
    docker_ok(&["pause", &stalled_container]);

    let logs = wait_for_log(
        &paasd,
        dir,
        "daily",
        &format!("Scheduled backup a002 of {daily} verified"),
        180,
    )
    .await;
    assert!(!logs.contains("FAILED"), "{logs}");
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "daily"]));
    assert!(list.contains("a002") && list.contains("b001"), "{list}");
    let files = paasd.data.path().join("backups/addons").join(&daily);
    assert!(files.join("a002.dump").is_file());
    // The failure is loud in the stalled app's stream, and recorded.
    let logs = wait_for_log(
        &paasd,
        dir,
        "stalled",
        &format!("app[api]: Error: scheduled backup of {stalled} FAILED"),
        120,
    )
    .await;
    assert!(!logs.contains("verified"), "{logs}");
    docker_ok(&["unpause", &stalled_container]);

    // paasd was "down" across the next due time: the schedule (now in another zone)
    // was set two days ago for an hour ago and never ran since. The next pass says it
    // was missed, captures at once, and prunes the older scheduled backup (keep 1);
    // the manual one stays.
    let store = paasd.store().await;
    sqlx::query(
        "update addon_backup_schedule
            set timezone = 'Asia/Kolkata',
                at_time = ((now() - interval '1 hour') at time zone 'Asia/Kolkata')::time,
                created_at = now() - interval '2 days', last_due_at = now() - interval '1 day 1 hour'
          where addon_id = (select addon_id from addon where name = $1)",
    )
    .bind(&daily)
    .execute(store.pool())
    .await
    .unwrap();
    let logs = wait_for_log(
        &paasd,
        dir,
        "daily",
        &format!("Scheduled backup a003 of {daily} verified"),
        120,
    )
    .await;
    assert!(
        logs.contains(&format!(
            "app[api]: Error: the scheduled backup of {daily} due at"
        )) && logs.contains("was MISSED"),
        "{logs}"
    );
    let list = ok(paasd.paas(dir, &["pg:backups", "-a", "daily"]));
    assert!(
        list.contains("a003") && list.contains("b001") && !list.contains("a002"),
        "{list}"
    );
    assert!(
        !files.join("a002.dump").exists(),
        "a pruned backup's file goes too"
    );
    let verified = ok(paasd.paas(dir, &["pg:backups:verify", "a003", "-a", "daily"]));
    assert!(verified.contains("a003: verified"), "{verified}");

    ok(paasd.paas(dir, &["pg:backups:unschedule", "-a", "daily"]));
    let listed = ok(paasd.paas(dir, &["pg:backups:schedules", "-a", "daily"]));
    assert!(listed.contains("No backup schedules"), "{listed}");
}

#[tokio::test]
async fn pg_psql_reads_stdin_and_a_rotated_password_is_a_release_everywhere_and_the_old_one_is_refused()
 {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    paasd.create_app("ledger").await;
    paasd.create_app("report").await;
    let name = create_postgres(&paasd, dir, "ledger");
    ok(paasd.paas(
        dir,
        &["addons:attach", &name, "--as", "LEDGER_DB", "-a", "report"],
    ));

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

    let before = |app: &str, var: &str| {
        let config = json(paasd.paas(dir, &["config", "-a", app, "--json"]));
        config[var].as_str().unwrap().to_owned()
    };
    let (old_ledger, old_report) = (
        before("ledger", "DATABASE_URL"),
        before("report", "LEDGER_DB_URL"),
    );
    assert_eq!(old_ledger, old_report);
    let rotated = confirmed(&paasd, dir, &["pg:credentials:rotate", "-a", "ledger"]);
    assert!(
        rotated.contains("ledger: v") && rotated.contains("report: v"),
        "{rotated}"
    );
    let (new_ledger, new_report) = (
        before("ledger", "DATABASE_URL"),
        before("report", "LEDGER_DB_URL"),
    );
    assert_eq!(new_ledger, new_report);
    assert_ne!(new_ledger, old_ledger);
    for app in ["ledger", "report"] {
        let releases = ok(paasd.paas(dir, &["releases", "-a", app]));
        assert!(releases.contains("credentials"), "{app}: {releases}");
    }
    // The new URL works, the old password is refused.
    assert_eq!(sql(&paasd, "ledger", &new_ledger, "select x from t"), "41");
    let old = psql_from_network(&paasd, "ledger", &old_ledger, "require");
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

/// The value of the first `/metrics` line that starts with `series` (name and labels).
fn metric(text: &str, series: &str) -> Option<i64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
}

async fn metrics_text(paasd: &Paasd) -> String {
    match paasd.api(reqwest::Method::GET, "/metrics", None).await {
        Value::String(text) => text,
        other => panic!("/metrics is not text: {other}"),
    }
}

/// Polls `paas logs` of `app` until it contains every one of `want`.
fn wait_for_log_line(paasd: &Paasd, dir: &std::path::Path, app: &str, want: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = ok(paasd.paas(dir, &["logs", "-n", "1500", "-a", app]));
        if logs.lines().any(|l| want.iter().all(|w| l.contains(w))) {
            return logs;
        }
        assert!(
            Instant::now() < deadline,
            "{app}'s log never had a line with {want:?}:\n{logs}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[tokio::test]
async fn a_postgres_servers_log_reaches_its_attached_apps_and_metrics_show_its_figures() {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    paasd.create_app("owner").await;
    paasd.create_app("guest").await;
    let name = create_postgres(&paasd, dir, "owner");
    ok(paasd.paas(
        dir,
        &["addons:attach", &name, "--as", "SHOP_DB", "-a", "guest"],
    ));
    let config = json(paasd.paas(dir, &["config", "-a", "owner", "--json"]));
    let url = config["DATABASE_URL"].as_str().unwrap().to_owned();

    // A failing query is the server's error line, in both attached apps' streams under
    // each one's attachment name.
    let query = |table: &str| {
        let network = format!("paas-{}-owner", paasd.instance);
        let conninfo = format!("{url}?sslmode=require&connect_timeout=5");
        let out = docker(&[
            "run",
            "--rm",
            "--network",
            &network,
            "--entrypoint",
            "psql",
            "paas/addon_postgresql:17",
            &conninfo,
            "-Atc",
            &format!("select * from {table}"),
        ]);
        assert!(!out.status.success(), "select from {table} worked");
    };
    query("missing_before_detach");
    let error = "ERROR:  relation \"missing_before_detach\" does not exist";
    wait_for_log_line(
        &paasd,
        dir,
        "owner",
        &["app[postgres]: [DATABASE] [", error],
    );
    wait_for_log_line(&paasd, dir, "guest", &["app[postgres]: [SHOP_DB] [", error]);

    // Detached, guest stops getting the server's lines; owner still does.
    ok(paasd.paas(dir, &["addons:detach", "SHOP_DB", "-a", "guest"]));
    tokio::time::sleep(Duration::from_secs(3)).await;
    query("missing_after_detach");
    wait_for_log_line(
        &paasd,
        dir,
        "owner",
        &["app[postgres]: [DATABASE] [", "\"missing_after_detach\""],
    );
    let only = ok(paasd.paas(
        dir,
        &["logs", "-n", "1500", "--dyno", "postgres", "-a", "owner"],
    ));
    assert!(
        only.contains("missing_after_detach")
            && only
                .lines()
                .all(|l| l.contains(" app[postgres]: [DATABASE] ")),
        "{only}"
    );
    let guest = ok(paasd.paas(dir, &["logs", "-n", "1500", "-a", "guest"]));
    assert!(
        guest.contains("missing_before_detach") && !guest.contains("missing_after_detach"),
        "{guest}"
    );

    // /metrics: the database's size, its connections within the plan's limit, and the
    // last verified backup's time once there is one.
    let labels = format!("{{addon=\"{name}\",service=\"postgresql\",app=\"owner\"}}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        let text = metrics_text(&paasd).await;
        if metric(&text, &format!("paas_addon_up{labels}")) == Some(1) {
            break text;
        }
        assert!(Instant::now() < deadline, "no add-on figures:\n{text}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let size = metric(&text, &format!("paas_addon_database_size_bytes{labels}")).unwrap();
    assert!((1 << 20..1 << 30).contains(&size), "{text}");
    let connections = metric(&text, &format!("paas_addon_connections{labels}")).unwrap();
    assert!((1..=20).contains(&connections), "{text}");
    assert_eq!(
        metric(&text, &format!("paas_addon_connection_limit{labels}")),
        Some(20),
        "{text}"
    );
    let backup_series = format!("paas_addon_last_verified_backup_timestamp_seconds{labels}");
    assert_eq!(metric(&text, &backup_series), Some(0), "{text}");
    ok(paasd.paas(dir, &["pg:backups:capture", "-a", "owner"]));
    let captured_at = chrono::Utc::now().timestamp();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = metrics_text(&paasd).await;
        if let Some(at) = metric(&text, &backup_series).filter(|t| *t > 0) {
            assert!(
                (captured_at - 120..=captured_at + 5).contains(&at),
                "{text}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the backup never showed:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    ok(paasd.paas(
        dir,
        &["addons:destroy", &name, "--confirm", &name, "-a", "owner"],
    ));
}
