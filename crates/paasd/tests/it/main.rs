//! paasd as a process: embedded Postgres, tokens, signals, bad environment.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use paas_testkit::{data_dir, free_port, sigterm_and_wait};

const PAASD: &str = env!("CARGO_BIN_EXE_paasd");

fn paasd(data: &Path, port: u16) -> Command {
    let mut command = Command::new(PAASD);
    command
        .env_remove("DATABASE_URL")
        .env("PAAS_DATA_DIR", data)
        .env("PAAS_API_ADDR", format!("127.0.0.1:{port}"))
        // Its own router port and container label: never touch another paasd's dynos.
        .env("PAAS_ROUTER_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("PAAS_TLS_ADDR", "127.0.0.1:0")
        .env("PAAS_ROUTER_TLS_ADDR", "127.0.0.1:0")
        .env("PAAS_ACME_DIRECTORY", "off")
        .env("PAAS_INSTANCE", format!("paasd-it-{port}"))
        .env("PAAS_LOG_FORMAT", "json")
        .stdin(Stdio::null());
    command
}

async fn wait_healthy(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let url = format!("http://127.0.0.1:{port}/healthz");
    loop {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return;
        }
        if let Some(status) = child.try_wait().expect("try_wait") {
            panic!("paasd exited early with {status}");
        }
        assert!(Instant::now() < deadline, "paasd did not become healthy");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn embedded_postgres_is_created_reused_and_stopped_and_sigterm_exits_zero() {
    let data = data_dir("paasd-it-");
    let port = free_port();
    let mut daemon = paasd(data.path(), port)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn paasd");
    wait_healthy(port, &mut daemon).await;

    // An admin process against the same (running) cluster.
    let out = paasd(data.path(), port)
        .args(["tokens", "create", "--name", "it"])
        .output()
        .expect("tokens create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    assert!(
        token.starts_with("paas_") && !token.contains('\n'),
        "stdout is the token alone: {token:?}"
    );

    let client = reqwest::Client::new();
    let created = client
        .post(format!("http://127.0.0.1:{port}/apps"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"name": "kept"}))
        .send()
        .await
        .expect("create app");
    assert_eq!(created.status(), 201);

    assert!(
        sigterm_and_wait(&mut daemon).success(),
        "SIGTERM must exit 0"
    );
    let pid_file = data.path().join("postgres/postmaster.pid");
    assert!(
        !pid_file.exists(),
        "the cluster paasd started is stopped on exit"
    );

    // A second start reuses the cluster and its data.
    let mut daemon = paasd(data.path(), port)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn paasd");
    wait_healthy(port, &mut daemon).await;
    let app = client
        .get(format!("http://127.0.0.1:{port}/apps/kept"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get app");
    assert_eq!(app.status(), 200, "data survives a restart");
    assert!(sigterm_and_wait(&mut daemon).success());
}

/// A real build container that exited and was never removed, as a paasd killed during a
/// build leaves it; returns its id.
async fn leftover_build(docker: &paas_docker::Docker, instance: &str) -> String {
    let stack = std::env::var("PAAS_STACK_IMAGE").unwrap_or_else(|_| "paas/stack:bookworm".into());
    let spec = paas_docker::BuildContainer {
        instance,
        app: instance,
        build_id: "leftover",
        stack_image: &stack,
        script: "exit 3",
        env: Vec::new(),
        binds: Vec::new(),
        limits: &paas_docker::Limits::BUILD_DEFAULT,
        // An empty tar: two zero blocks.
        source_tar: vec![0; 1024],
    };
    let exit = docker
        .run_build_container(spec, |_| {})
        .await
        .expect("a build container (is the stack image built? scripts/stack-build.sh)");
    assert_eq!(exit.code, 3);
    exit.container_id
}

fn container_exists(id: &str) -> bool {
    Command::new("docker")
        .args(["container", "inspect", "--format", "{{.Id}}", id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("docker")
        .success()
}

#[tokio::test]
async fn build_containers_a_killed_paasd_left_behind_are_removed_at_start() {
    let port = free_port();
    let docker = paas_docker::Docker::connect().expect("docker client");
    // paasd() labels this paasd's containers paasd-it-<port>.
    let leftover = leftover_build(&docker, &format!("paasd-it-{port}")).await;
    let other_installations = leftover_build(&docker, &format!("paasd-it-other-{port}")).await;
    assert!(container_exists(&leftover));

    let data = data_dir("paasd-it-");
    let mut daemon = paasd(data.path(), port)
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn paasd");
    wait_healthy(port, &mut daemon).await;
    let removed = !container_exists(&leftover);
    let kept = container_exists(&other_installations);
    docker.remove_container(&leftover).await;
    docker.remove_container(&other_installations).await;
    assert!(sigterm_and_wait(&mut daemon).success());
    assert!(
        removed,
        "a started paasd removes its installation's leftover build containers"
    );
    assert!(kept, "and leaves other installations' alone");
}

#[test]
fn a_malformed_variable_stops_paasd_with_one_line_naming_it() {
    for (name, value) in [
        ("PAAS_API_ADDR", "not-an-address"),
        ("PAAS_DOMAIN", "two words"),
        ("DATABASE_URL", "mysql://x"),
    ] {
        let out = Command::new(PAASD)
            .env(name, value)
            .stdin(Stdio::null())
            .output()
            .expect("run paasd");
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(name), "{stderr}");
    }
}

#[test]
fn a_path_setting_that_points_at_nothing_stops_paasd_naming_it() {
    let cwd = tempfile::tempdir().unwrap();
    for (name, value) in [
        ("PAAS_BUILDPACKS_DIR", "no-such-buildpacks"),
        ("PAAS_DATA_DIR", "no/such/parent/data"),
    ] {
        let out = Command::new(PAASD)
            .current_dir(cwd.path())
            .env(name, value)
            .stdin(Stdio::null())
            .output()
            .expect("run paasd");
        assert_eq!(out.status.code(), Some(2), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        // Named with the variable and the absolute path it resolved to.
        assert!(stderr.contains(name), "{stderr}");
        assert!(
            stderr.contains(&cwd.path().join(value).display().to_string()),
            "{stderr}"
        );
    }
}

/// A build (and a release phase) cut off by a kill of the previous paasd is failed at the
/// next start, before anything is served, and never released.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_start_fails_the_builds_the_previous_paasd_left_pending(pool: sqlx::PgPool) {
    let (app_id, build_id): (sqlx::types::Uuid, sqlx::types::Uuid) = sqlx::query_as(
        "with a as (insert into app (app_id, name) values (gen_random_uuid(), 'cut-off')
                    returning app_id)
         insert into build (build_id, app_id, source_version)
         select gen_random_uuid(), app_id, 'abcdef0' from a returning app_id, build_id",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let database: String = sqlx::query_scalar("select current_database()")
        .fetch_one(&pool)
        .await
        .unwrap();
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL names the test server");
    let (server, _) = server.rsplit_once('/').expect("a URL with a database");
    let data = data_dir("paasd-it-");
    let port = free_port();
    let mut daemon = paasd(data.path(), port)
        .env("DATABASE_URL", format!("{server}/{database}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn paasd");
    wait_healthy(port, &mut daemon).await;
    let store = paas_store::Store::from_pool(pool);
    let build = store.build(app_id, build_id).await.unwrap();
    assert!(sigterm_and_wait(&mut daemon).success());
    assert_eq!(build.status, paas_store::BuildStatus::Failed);
    assert!(
        build
            .output
            .contains("interrupted by a restart of the platform"),
        "{:?}",
        build.output
    );
    assert_eq!(store.release_of_build(build_id).await.unwrap(), None);
    assert_eq!(store.releases(app_id).await.unwrap().len(), 0);
}

async fn metrics(port: u16, token: &str) -> String {
    reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn metric(text: &str, name: &str) -> i64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in:\n{text}"))
}

/// `PAAS_BACKUP_SCHEDULE`: backups are written into `PAAS_BACKUP_DIR`, each verifies,
/// only `PAAS_BACKUP_KEEP` stay, `paas_backup_last_success_timestamp` follows them; a
/// backup that cannot be written is an error line in the log and counted, and the
/// success timestamp stops moving.
#[tokio::test]
async fn scheduled_backups_are_written_verified_pruned_and_failures_are_logged() {
    let data = data_dir("paasd-it-");
    let backups = tempfile::tempdir().unwrap();
    let port = free_port();
    let log = data.path().join("paasd.log");
    let mut daemon = paasd(data.path(), port)
        .env("PAAS_BACKUP_SCHEDULE", "2s")
        .env("PAAS_BACKUP_KEEP", "2")
        .env("PAAS_BACKUP_DIR", backups.path())
        .stdout(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn paasd");
    wait_healthy(port, &mut daemon).await;
    let out = paasd(data.path(), port)
        .args(["tokens", "create", "--name", "it"])
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    let list = || -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(backups.path())
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut written = std::collections::BTreeSet::new();
    while written.len() < 4 {
        written.extend(
            list()
                .into_iter()
                .filter(|p| p.extension().is_some_and(|e| e == "tar")),
        );
        assert!(
            Instant::now() < deadline,
            "scheduled backups: {written:?}\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let kept: Vec<_> = list()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "tar"))
        .collect();
    assert!(kept.len() <= 2, "PAAS_BACKUP_KEEP=2 keeps two: {kept:?}");
    let newest = kept.last().unwrap();
    let out = paasd(data.path(), port)
        .args(["backup", "--verify", newest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = metrics(port, &token).await;
    let last = metric(&text, "paas_backup_last_success_timestamp");
    assert!((chrono::Utc::now().timestamp() - last).abs() < 30, "{text}");
    assert_eq!(metric(&text, "paas_backup_failures_total"), 0, "{text}");

    // The backup disk goes away: the next backups fail, loudly.
    let gone = backups.path().to_owned();
    drop(backups);
    std::fs::write(&gone, "not a directory").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = metrics(port, &token).await;
        if metric(&text, "paas_backup_failures_total") > 0 {
            assert!(
                metric(&text, "paas_backup_last_success_timestamp") <= last + 4,
                "{text}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no failure counted:\n{text}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged
            .lines()
            .any(|l| l.contains(r#""level":"ERROR""#)
                && l.contains("scheduled platform backup failed")),
        "{logged}"
    );
    assert!(sigterm_and_wait(&mut daemon).success());
    let _ = std::fs::remove_file(&gone);
}
