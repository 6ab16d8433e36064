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

use paas_core::{AppName, ConfigChange};
use paas_docker::{Docker, ObservedContainer};
use paas_store::Store;
use paas_supervisor::Nudges;
use paas_supervisor::{Supervisor, SupervisorSettings};
use paas_testkit::docker::{ensure_docker_and_stack_image, stack_image_id as stack_image};
use paas_testkit::ledger;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

mod crashes;
mod formation;
mod limits;
mod rollout;

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
        paas_testkit::docker::remove_instance(&self.instance);
    }
}

const WEB: &str = "python3 -m http.server $PORT --bind 0.0.0.0";

impl Harness {
    async fn new(pool: PgPool, procfile: &str) -> Self {
        ensure_docker_and_stack_image();
        let store = Store::from_pool(pool);
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        let app = format!("sup-{suffix}");
        let app_id = ledger::create_app(&store, &app).await;
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
        ledger::deploy(&self.store, self.app_id, &stack_image(), procfile).await;
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
        ledger::set_config(&self.store, self.app_id, pairs).await
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
        ledger::scale(&self.store, self.app_id, kind, n).await;
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
