//! The supervisor against real Docker and a real Postgres. Each test labels its dynos
//! with its own `paas.instance`, so tests running side by side never touch each other's
//! containers; a guard removes them at the end.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_core::{AppName, ConfigChange, ProcessType, Procfile, Quantity, ScaleChange};
use paas_docker::{Docker, ObservedContainer};
use paas_store::{NewBuild, ReleaseStatus, Store};
use paas_supervisor::Nudges;
use paas_supervisor::{Supervisor, SupervisorSettings};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod limits;

struct Harness {
    store: Store,
    docker: Docker,
    instance: String,
    app: String,
    app_id: Uuid,
    settings: SupervisorSettings,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let ids = Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=paas.instance={}", self.instance),
            ])
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rm")
                .arg("-f")
                .args(&ids)
                .output();
        }
        let _ = Command::new("docker")
            .args([
                "network",
                "rm",
                &format!("paas-{}-{}", self.instance, self.app),
            ])
            .output();
    }
}

/// Starts dockerd unless an engine answers and makes the stack image unless it exists
/// (`scripts/lib.sh`), once per test run: these tests fail, never skip, without Docker.
fn ensure_docker_and_stack_image() {
    static READY: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    READY.get_or_init(|| {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let status = Command::new("bash")
            .current_dir(root)
            .args([
                "-c",
                "set -euo pipefail; source scripts/lib.sh; ensure_dockerd; ensure_stack_image",
            ])
            .status()
            .expect("bash");
        assert!(
            status.success(),
            "could not start dockerd or make the stack image"
        );
    });
}

fn stack_image() -> String {
    ensure_docker_and_stack_image();
    let out = Command::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            "paas/stack:bookworm",
        ])
        .output()
        .expect("docker");
    assert!(
        out.status.success(),
        "the stack image is missing: run scripts/test (it makes it)"
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

const WEB: &str = "python3 -m http.server $PORT --bind 0.0.0.0";

impl Harness {
    async fn new(pool: PgPool, procfile: &str) -> Self {
        ensure_docker_and_stack_image();
        let store = Store::from_pool(pool);
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        let app = format!("sup-{suffix}");
        let app_id = store
            .create_app(&AppName::parse(&app).unwrap())
            .await
            .unwrap()
            .app_id;
        let settings = SupervisorSettings {
            grace_secs: 2,
            health_timeout: Duration::from_secs(4),
            resync: Duration::from_millis(200),
            limits: paas_docker::DynoLimits {
                memory_bytes: 256 << 20,
                ..Default::default()
            },
            instance: format!("test-{suffix}"),
            ..SupervisorSettings::default()
        };
        let harness = Self {
            store,
            docker: Docker::connect().unwrap(),
            instance: settings.instance.clone(),
            app,
            app_id,
            settings,
        };
        harness.deploy(procfile).await;
        harness
    }

    async fn deploy(&self, procfile: &str) {
        let build = self
            .store
            .create_build(
                self.app_id,
                NewBuild {
                    source_version: "0123456789",
                    buildpacks: &[],
                },
            )
            .await
            .unwrap();
        let procfile = Procfile::parse(procfile).unwrap();
        self.store
            .finish_build(build.build_id, Ok((&stack_image(), &procfile)), "")
            .await
            .unwrap();
        self.store
            .create_deploy_release(self.app_id, build.build_id, ReleaseStatus::Succeeded)
            .await
            .unwrap();
    }

    fn supervisor(
        &self,
    ) -> (
        Supervisor<Docker>,
        tokio::sync::watch::Receiver<Arc<paas_core::routes::RouteTable>>,
    ) {
        Supervisor::new(
            self.store.clone(),
            self.docker.clone(),
            self.settings.clone(),
        )
    }

    async fn set_config(&self, pairs: &[(&str, &str)]) -> i32 {
        let change = ConfigChange::parse(pairs.iter().map(|(k, v)| (*k, Some(*v)))).unwrap();
        let (_, release) = self
            .store
            .update_config(self.app_id, &change)
            .await
            .unwrap();
        release.unwrap().version
    }

    /// Runs the supervisor's own loop (nudges, Docker events, resync) until the returned
    /// token is cancelled.
    fn spawn_loop(
        &self,
        sup: Supervisor<Docker>,
    ) -> (CancellationToken, Arc<Nudges>, tokio::task::JoinHandle<()>) {
        let nudge = Arc::new(Nudges::default());
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(Arc::new(sup).run(nudge.clone(), shutdown.clone()));
        (shutdown, nudge, task)
    }

    /// Waits (without reconciling) until `done` holds for the app's dynos.
    async fn wait_for(
        &self,
        secs: u64,
        done: impl Fn(&[ObservedContainer]) -> bool,
    ) -> Vec<ObservedContainer> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let dynos = self.dynos().await;
            if done(&dynos) {
                return dynos;
            }
            assert!(Instant::now() < deadline, "not within {secs}s: {dynos:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn scale(&self, kind: &str, n: i64) {
        self.store
            .scale(
                self.app_id,
                &[(
                    ProcessType::parse(kind).unwrap(),
                    ScaleChange::To(Quantity::new(n).unwrap()),
                )],
            )
            .await
            .unwrap();
    }

    async fn dynos(&self) -> Vec<ObservedContainer> {
        self.docker.list_dynos(&self.instance, None).await.unwrap()
    }

    /// Reconciles until `done` holds for the app's running dynos (or panics after `secs`).
    async fn converge(
        &self,
        sup: &Supervisor<Docker>,
        secs: u64,
        done: impl Fn(&[ObservedContainer]) -> bool,
    ) -> Vec<ObservedContainer> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            sup.reconcile_once().await.unwrap();
            let dynos = self.dynos().await;
            if done(&dynos) {
                return dynos;
            }
            assert!(
                Instant::now() < deadline,
                "did not converge in {secs}s: {dynos:#?}"
            );
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }
}

fn running(dynos: &[ObservedContainer], kind: &str) -> BTreeSet<(u32, String)> {
    dynos
        .iter()
        .filter(|d| d.running() && d.dyno.name.process_type.as_str() == kind)
        .map(|d| (d.dyno.name.index, d.id.clone()))
        .collect()
}

fn ready_web_count(table: &paas_core::routes::RouteTable, host: &str) -> usize {
    table.lookup(host).map_or(0, |r| r.backends.len())
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn scaling_starts_and_retires_only_the_difference(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}\nworker: sleep 100000")).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h.converge(&sup, 60, |d| running(d, "web").len() == 1).await;
    let first = running(&dynos, "web");
    assert!(running(&dynos, "worker").is_empty(), "worker starts at 0");

    h.scale("web", 3).await;
    h.scale("worker", 1).await;
    let dynos = h
        .converge(&sup, 60, |d| {
            running(d, "web").len() == 3 && running(d, "worker").len() == 1
        })
        .await;
    let web = running(&dynos, "web");
    assert!(first.is_subset(&web), "web.1 was left alone");
    assert_eq!(web.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1, 2, 3]);
    h.converge(&sup, 30, |_| ready_web_count(&routes.borrow(), &host) == 3)
        .await;

    h.scale("web", 1).await;
    let dynos = h
        .converge(&sup, 60, |d| {
            running(d, "web").len() == 1
                && d.iter()
                    .filter(|c| c.dyno.name.process_type.as_str() == "web")
                    .count()
                    == 1
        })
        .await;
    assert_eq!(
        running(&dynos, "web"),
        first,
        "the highest numbers went, web.1 stayed"
    );
    assert_eq!(running(&dynos, "worker").len(), 1);
    assert_eq!(ready_web_count(&routes.borrow(), &host), 1);
    let recorded = h.store.dynos(h.app_id).await.unwrap();
    let names: Vec<&str> = recorded.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, ["web.1", "worker.1"]);
    assert!(recorded.iter().all(|d| d.state == "up"), "{recorded:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_config_change_rolls_out_with_a_web_dyno_serving_at_every_instant(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.scale("web", 2).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    h.converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 2)
        .await;
    let before: BTreeSet<String> = h.dynos().await.into_iter().map(|d| d.id).collect();

    let sup = Arc::new(sup);
    let nudge = Arc::new(Nudges::default());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let loop_task = tokio::spawn(sup.clone().run(nudge.clone(), shutdown.clone()));
    // A steady client: every 50 ms, some routed backend must answer.
    let probe_routes = routes.clone();
    let probe_host = host.clone();
    let stop_probe = shutdown.child_token();
    let probe = tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let (mut ok, mut failures) = (0, Vec::new());
        while !stop_probe.is_cancelled() {
            let backends = probe_routes
                .borrow()
                .lookup(&probe_host)
                .map(|r| r.backends.clone())
                .unwrap_or_default();
            match backends.first() {
                None => failures.push("no backend in the route table".to_owned()),
                Some(b) => match client.get(format!("http://{}/", b.addr)).send().await {
                    Ok(r) if r.status().is_success() => ok += 1,
                    other => failures.push(format!("{} answered {other:?}", b.dyno)),
                },
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (ok, failures)
    });

    h.store
        .update_config(
            h.app_id,
            &ConfigChange::parse([("GREETING", Some("hi"))]).unwrap(),
        )
        .await
        .unwrap();
    nudge.app(h.app_id);
    let version = h.store.current_release(h.app_id).await.unwrap().version;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let dynos = h.dynos().await;
        let web: Vec<_> = dynos
            .iter()
            .filter(|d| d.dyno.name.process_type.as_str() == "web")
            .collect();
        if web.len() == 2
            && web
                .iter()
                .all(|d| d.dyno.version.get() == version && d.running())
            && ready_web_count(&routes.borrow(), &host) == 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not finish: {dynos:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    shutdown.cancel();
    let (ok, failures) = probe.await.unwrap();
    loop_task.await.unwrap();
    assert!(
        failures.is_empty(),
        "requests failed during the rollout: {failures:?}"
    );
    assert!(ok > 10, "the probe ran ({ok} requests)");
    let after: BTreeSet<String> = h.dynos().await.into_iter().map(|d| d.id).collect();
    assert!(before.is_disjoint(&after), "every dyno was replaced");
    // The new dynos got the new config.
    let id = after.iter().next().unwrap();
    let env = Command::new("docker")
        .args(["inspect", "--format", "{{json .Config.Env}}", id])
        .output()
        .unwrap();
    let env = String::from_utf8_lossy(&env.stdout);
    assert!(
        env.contains("GREETING=hi") && env.contains("PORT=5000") && env.contains("DYNO=web."),
        "{env}"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_crashing_dyno_is_restarted_with_a_growing_delay(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}\nworker: echo boom; exit 3")).await;
    h.scale("worker", 1).await;
    let (sup, _routes) = h.supervisor();
    let mut containers = BTreeSet::new();
    let mut saw_crashed = false;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        sup.reconcile_once().await.unwrap();
        for d in h
            .dynos()
            .await
            .into_iter()
            .filter(|d| d.dyno.name.process_type.as_str() == "worker")
        {
            containers.insert(d.id);
        }
        let recorded = h.store.dynos(h.app_id).await.unwrap();
        saw_crashed |= recorded
            .iter()
            .any(|d| d.name == "worker.1" && d.state == "crashed" && d.exit_code == Some(3));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_crashed, "the crash is recorded with its exit status");
    // Restarts at once, then after 1, 2, 4 s: about five in 10 s; without a back-off
    // this loop would have made dozens.
    assert!(
        (3..=7).contains(&containers.len()),
        "{} worker containers in 10 s",
        containers.len()
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_new_supervisor_adopts_running_dynos_and_recreates_a_removed_one(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.scale("web", 2).await;
    let (first, _) = h.supervisor();
    let dynos = h
        .converge(&first, 60, |d| running(d, "web").len() == 2)
        .await;
    let ids = running(&dynos, "web");
    drop(first); // paasd killed: nothing is stopped.

    let (second, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .converge(&second, 30, |_| {
            ready_web_count(&routes.borrow(), &host) == 2
        })
        .await;
    assert_eq!(
        running(&dynos, "web"),
        ids,
        "adopted: same containers, none added"
    );

    let (_, victim) = ids.iter().next().unwrap().clone();
    assert!(
        Command::new("docker")
            .args(["rm", "-f", &victim])
            .output()
            .unwrap()
            .status
            .success()
    );
    let dynos = h
        .converge(&second, 60, |d| {
            running(d, "web").len() == 2 && !d.iter().any(|c| c.id == victim)
        })
        .await;
    assert_eq!(
        running(&dynos, "web")
            .iter()
            .map(|(i, _)| *i)
            .collect::<Vec<_>>(),
        [1, 2]
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_release_whose_web_dyno_never_listens_leaves_the_old_one_serving(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1)
        .await;
    let old = running(&dynos, "web");

    h.deploy("web: sleep 100000").await;
    let started = Instant::now();
    let mut attempts = BTreeSet::new();
    while started.elapsed() < Duration::from_secs(10) {
        sup.reconcile_once().await.unwrap();
        assert_eq!(
            ready_web_count(&routes.borrow(), &host),
            1,
            "the old dyno keeps serving"
        );
        for d in h.dynos().await {
            if !old.iter().any(|(_, id)| *id == d.id) {
                attempts.insert(d.id);
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dynos = h.dynos().await;
    assert!(
        old.is_subset(&running(&dynos, "web")),
        "the old web dyno still runs"
    );
    assert!(!attempts.is_empty(), "the new release was tried");
    // The ledger says so: the new release failed (with the reason), the old one is
    // current again, and nothing more is tried.
    let releases = h.store.releases(h.app_id).await.unwrap();
    let newest = releases.last().unwrap();
    assert_eq!(newest.status, "failed", "{releases:?}");
    assert!(
        newest
            .status_reason
            .as_deref()
            .unwrap_or_default()
            .contains("did not accept connections")
    );
    assert!(releases[releases.len() - 2].current);
    for _ in 0..10 {
        sup.reconcile_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let dynos = h.dynos().await;
    assert_eq!(running(&dynos, "web"), old);
    assert_eq!(dynos.len(), 1, "{dynos:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_config_change_whose_web_dyno_never_listens_is_failed_and_its_config_undone(
    pool: PgPool,
) {
    let h = Harness::new(
        pool,
        &format!("web: if [ -n \"$BREAK\" ]; then exec sleep 100000; fi; {WEB}"),
    )
    .await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    h.converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1)
        .await;
    h.store
        .update_config(
            h.app_id,
            &ConfigChange::parse([("BREAK", Some("1"))]).unwrap(),
        )
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        sup.reconcile_once().await.unwrap();
        assert_eq!(
            ready_web_count(&routes.borrow(), &host),
            1,
            "the old dyno keeps serving"
        );
        let releases = h.store.releases(h.app_id).await.unwrap();
        if releases.last().unwrap().status == "failed" {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{releases:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The config is the current release's again, so the next change does not carry the
    // breaking var along.
    let config = h.store.config_vars(h.app_id).await.unwrap();
    assert!(!config.as_map().contains_key("BREAK"), "{config:?}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn dynos_run_unprivileged_with_limits_on_their_apps_network(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    let (sup, _) = h.supervisor();
    let dynos = h.converge(&sup, 60, |d| running(d, "web").len() == 1).await;
    let id = &dynos[0].id;
    let format = "{{json .HostConfig.CapDrop}}|{{json .HostConfig.SecurityOpt}}|{{.HostConfig.Memory}}|{{.HostConfig.PidsLimit}}|{{.HostConfig.Privileged}}|{{json .HostConfig.Binds}}|{{.HostConfig.NetworkMode}}|{{.Config.User}}|{{.Name}}";
    let out = Command::new("docker")
        .args(["inspect", "--format", format, id])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let fields: Vec<&str> = text.split('|').collect();
    assert_eq!(fields[0], r#"["ALL"]"#, "{text}");
    assert_eq!(fields[1], r#"["no-new-privileges"]"#, "{text}");
    assert_eq!(fields[2], (256u64 << 20).to_string(), "{text}");
    assert_eq!(fields[3], "512", "{text}");
    assert_eq!(fields[4], "false", "{text}");
    assert_eq!(fields[5], "null", "no host mounts: {text}");
    assert_eq!(
        fields[6],
        format!("paas-{}-{}", h.instance, h.app),
        "{text}"
    );
    assert_eq!(
        fields[7], "1000:1000",
        "the image's unprivileged user: {text}"
    );
    assert_eq!(fields[8], format!("/{}.web.1.v2", h.app), "{text}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn dockers_events_wake_the_loop_for_crashes_and_removed_dynos(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}\nworker: sleep 2; exit 3")).await;
    // A resync far beyond the test: only a nudge or a Docker event can wake the loop.
    h.settings.resync = Duration::from_secs(600);
    h.scale("worker", 1).await;
    let (sup, routes) = h.supervisor();
    let (shutdown, _nudge, task) = h.spawn_loop(sup);
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .wait_for(60, |d| {
            running(d, "web").len() == 1 && running(d, "worker").len() == 1
        })
        .await;
    let first_worker = running(&dynos, "worker").into_iter().next().unwrap().1;

    // The worker exits after 2 s; its replacement starts at once (first crash: no
    // back-off), long before any resync.
    let dynos = h
        .wait_for(10, |d| {
            d.iter().any(|c| {
                c.dyno.name.process_type.as_str() == "worker" && c.running() && c.id != first_worker
            })
        })
        .await;

    // A web dyno removed behind the supervisor's back comes back at once.
    let web = running(&dynos, "web").into_iter().next().unwrap().1;
    let removed = Instant::now();
    assert!(
        Command::new("docker")
            .args(["rm", "-f", &web])
            .status()
            .unwrap()
            .success()
    );
    h.wait_for(10, |d| {
        d.iter()
            .any(|c| c.dyno.name.process_type.as_str() == "web" && c.running() && c.id != web)
    })
    .await;
    let recreated = removed.elapsed();
    assert!(
        recreated < Duration::from_secs(5),
        "recreated in {recreated:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while ready_web_count(&routes.borrow(), &host) != 1 {
        assert!(Instant::now() < deadline, "the new web dyno is routed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    shutdown.cancel();
    task.await.unwrap();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn an_apps_health_path_gates_its_web_dynos(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let dynos = h
        .converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1)
        .await;
    let old = running(&dynos, "web");

    // The server answers 404 there: the new dyno listens but never gets ready, so the
    // rollout fails within the app's own 2 s limit and the old dyno keeps serving.
    let failing = h
        .set_config(&[
            ("PAAS_HEALTH_PATH", "/not-there"),
            ("PAAS_HEALTH_TIMEOUT", "2"),
        ])
        .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        sup.reconcile_once().await.unwrap();
        assert_eq!(ready_web_count(&routes.borrow(), &host), 1);
        let releases = h.store.releases(h.app_id).await.unwrap();
        let newest = releases.last().unwrap();
        if newest.version == failing && newest.status == "failed" {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout did not fail");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(running(&h.dynos().await, "web"), old);

    // A path that answers 200 lets the next release roll out.
    let good = h.set_config(&[("PAAS_HEALTH_PATH", "/")]).await;
    let dynos = h
        .converge(&sup, 60, |d| {
            d.iter()
                .filter(|c| c.dyno.name.process_type.as_str() == "web")
                .all(|c| c.dyno.version.get() == good && c.running())
                && ready_web_count(&routes.borrow(), &host) == 1
        })
        .await;
    assert!(running(&dynos, "web").is_disjoint(&old));
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn an_apps_grace_period_bounds_how_long_a_retired_dyno_may_ignore_sigterm(pool: PgPool) {
    let mut h = Harness::new(
        pool,
        &format!("web: {WEB}\nworker: trap '' TERM; while true; do sleep 1; done"),
    )
    .await;
    h.settings.grace_secs = 30;
    h.set_config(&[("PAAS_DYNO_GRACE", "1")]).await;
    h.scale("worker", 1).await;
    let (sup, _) = h.supervisor();
    h.converge(&sup, 60, |d| running(d, "worker").len() == 1)
        .await;
    h.scale("worker", 0).await;
    let retired = Instant::now();
    h.converge(&sup, 20, |d| {
        !d.iter()
            .any(|c| c.dyno.name.process_type.as_str() == "worker")
    })
    .await;
    let took = retired.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "SIGKILL after the app's 1 s grace, not paasd's 30 s: {took:?}"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn exited_one_offs_nobody_collected_are_removed_and_running_ones_kept(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.settings.one_off_ttl = Duration::from_secs(1);
    let release = h.store.current_release(h.app_id).await.unwrap();
    let one_off = |name: &str, command: &str, detached: bool| paas_docker::OneOffSpec {
        instance: h.instance.clone(),
        dyno: paas_docker::OneOffLabels {
            app_name: AppName::parse(&h.app).unwrap(),
            name: paas_core::DynoName::parse(name).unwrap(),
            release_id: Some(release.release_id),
            version: paas_core::ReleaseVersion::new(release.version).ok(),
            command: command.into(),
            detached,
        },
        image: stack_image(),
        env: vec![],
        limits: paas_docker::DynoLimits {
            memory_bytes: 64 << 20,
            pids: 64,
            ..Default::default()
        },
        tty: false,
    };
    // Attached, its client never came: it waits, created, until reaped.
    let never_attached = h
        .docker
        .run_one_off(&one_off("run.1", "echo bye", false))
        .await
        .unwrap();
    // Attached, its client went away before it exited.
    let done = h
        .docker
        .run_one_off(&one_off("run.2", "echo bye", false))
        .await
        .unwrap();
    drop(h.docker.attach_one_off(&done).await.unwrap());
    let busy = h
        .docker
        .run_one_off(&one_off("run.3", "sleep 100000", true))
        .await
        .unwrap();
    let exists = |id: &str| {
        Command::new("docker")
            .args(["inspect", id])
            .output()
            .unwrap()
            .status
            .success()
    };
    let (sup, _) = h.supervisor();
    let deadline = Instant::now() + Duration::from_secs(20);
    while exists(&done) || exists(&never_attached) {
        assert!(
            Instant::now() < deadline,
            "the exited or never attached one-off was not reaped"
        );
        sup.reconcile_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(exists(&busy), "a running one-off is left alone");
}

/// The supervisor reaches Docker only through `paas_core::runtime::ContainerRuntime`:
/// neither bollard nor `paas-docker` is among its normal dependencies.
#[test]
fn the_supervisor_depends_on_no_container_engine_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "-p",
            "paas-supervisor",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    for forbidden in ["bollard ", "paas-docker "] {
        assert!(!tree.contains(forbidden), "{forbidden}in:\n{tree}");
    }
    assert!(tree.contains("paas-core "), "{tree}");
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_container_of_another_installation_holding_a_dynos_name_is_left_alone(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    // Another paasd on the same engine runs an app of the same name.
    let name = format!("{}.web.1.v2", h.app);
    let out = Command::new("docker")
        .args([
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            "paas.managed=1",
            "--label",
            "paas.kind=formation",
            "--label",
            &format!("paas.instance=other-{}", h.instance),
            &stack_image(),
            "sleep",
            "100000",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let foreign = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let (sup, routes) = h.supervisor();
    let host = format!("{}.localhost", h.app);
    let converged = tokio::time::timeout(
        Duration::from_secs(60),
        h.converge(&sup, 60, |_| ready_web_count(&routes.borrow(), &host) == 1),
    )
    .await;
    let foreign_state = Command::new("docker")
        .args(["inspect", "--format", "{{.State.Running}}", &foreign])
        .output()
        .unwrap();
    let _ = Command::new("docker").args(["rm", "-f", &foreign]).output();
    let dynos = converged.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&foreign_state.stdout).trim(),
        "true"
    );
    let ours = running(&dynos, "web");
    assert_eq!(ours.len(), 1);
    assert!(!ours.iter().any(|(_, id)| *id == foreign), "not adopted");
    let (_, id) = ours.iter().next().unwrap();
    let our_name = Command::new("docker")
        .args(["inspect", "--format", "{{.Name}}", id])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&our_name.stdout).trim(),
        format!("/{name}.{}", h.instance)
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_deleted_apps_dynos_and_network_are_removed(pool: PgPool) {
    let mut h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.settings.network_min_age = Duration::ZERO;
    let network_exists = |name: &str| {
        Command::new("docker")
            .args(["network", "inspect", name])
            .output()
            .unwrap()
            .status
            .success()
    };
    let network = format!("paas-{}-{}", h.instance, h.app);
    let (sup, _) = h.supervisor();
    h.converge(&sup, 60, |d| running(d, "web").len() == 1).await;
    assert!(network_exists(&network));

    h.store.delete_app(h.app_id).await.unwrap();
    h.converge(&sup, 60, |d| d.is_empty()).await;
    // A supervisor started afterwards (paasd restarted) finds the network orphaned.
    let (fresh, _) = h.supervisor();
    let deadline = Instant::now() + Duration::from_secs(20);
    while network_exists(&network) {
        assert!(
            Instant::now() < deadline,
            "the network of the deleted app is left"
        );
        fresh.reconcile_once().await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// paasd killed between creating a dyno's container and starting it (the rollout of a
/// config change was under way) left it made but never started; the restarted
/// supervisor must finish the rollout, not wait on that container forever.
#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_rollout_interrupted_between_create_and_start_is_finished_after_a_restart(pool: PgPool) {
    let h = Harness::new(pool, &format!("web: {WEB}")).await;
    h.scale("web", 2).await;
    let (sup, _routes) = h.supervisor();
    h.converge(&sup, 30, |d| running(d, "web").len() == 2).await;
    drop(sup);

    let version = h.set_config(&[("GREETING", "interrupted")]).await;
    let release = h.store.current_release(h.app_id).await.unwrap();
    let name = paas_core::DynoName::parse("web.2").unwrap();
    let spec = paas_core::runtime::DynoSpec {
        instance: h.instance.clone(),
        dyno: paas_core::DynoIdentity {
            app_id: h.app_id,
            app_name: AppName::parse(&h.app).unwrap(),
            release_id: release.release_id,
            version: paas_core::ReleaseVersion::new(release.version).unwrap(),
            name: name.clone(),
            generation: 0,
        },
        image: stack_image(),
        command: WEB.into(),
        env: paas_core::dyno_env(&Default::default(), &name, Some(5000)),
        limits: h.settings.limits,
        network: paas_core::runtime::app_network_name(&h.instance, &h.app),
        health_path: None,
        grace_secs: h.settings.grace_secs,
    };
    let created = h.docker.create_dyno(&spec).await.unwrap();

    // A restarted paasd: a new supervisor with nothing in memory.
    let (fresh, _routes) = h.supervisor();
    let dynos = h
        .converge(&fresh, 40, |d| {
            let web: Vec<_> = d
                .iter()
                .filter(|c| c.dyno.name.process_type.as_str() == "web")
                .collect();
            web.len() == 2
                && web
                    .iter()
                    .all(|c| c.dyno.version.get() == version && c.running())
        })
        .await;
    assert!(
        dynos.iter().any(|c| c.id == created),
        "the interrupted dyno was adopted and started: {dynos:#?}"
    );
}
