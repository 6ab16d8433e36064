//! The supervisor on a real Docker Swarm cluster: `scripts/swarm-cluster.sh` makes a
//! manager and two workers, each its own dockerd in a network namespace of its own, and
//! a registry on the manager. Each test labels its services with its own
//! `paas.instance` and removes them at the end; the tests run one at a time (the
//! `swarm` test group in `.config/nextest.toml`: one of them stops a worker).
//!
//! Traffic goes only to loopback (the router under test) and to the nodes' own
//! addresses on the private bridge (published dyno ports), never to an overlay address.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use paas_core::routes::RouteTable;
use paas_core::runtime::ObservedContainer;
use paas_core::{AppName, ConfigChange, ProcessType, Procfile, Quantity, ReleaseRef, ScaleChange};
use paas_store::{NewBuild, ReleaseStatus, Store};
use paas_supervisor::{Nudges, Supervisor, SupervisorSettings};
use paas_swarm::Swarm;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// What `scripts/swarm-cluster.sh env` prints.
struct Cluster {
    manager: String,
    registry: String,
}

/// Brings the cluster up (idempotent; the host engine makes the stack image first) and
/// builds the two test images on the manager, once per test process.
fn cluster() -> &'static Cluster {
    static CLUSTER: std::sync::OnceLock<Cluster> = std::sync::OnceLock::new();
    CLUSTER.get_or_init(|| {
        let out = Command::new("bash")
            .current_dir(ROOT)
            .args([
                "-c",
                "set -euo pipefail; source scripts/lib.sh; ensure_dockerd; ensure_stack_image; scripts/swarm-cluster.sh up 2",
            ])
            .output()
            .expect("bash");
        assert!(
            out.status.success(),
            "scripts/swarm-cluster.sh up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let env: HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let cluster = Cluster {
            manager: env["PAAS_SWARM_MANAGER"].clone(),
            registry: env["PAAS_REGISTRY"].clone(),
        };
        for variant in ["v1", "v2"] {
            build_image(&cluster, variant);
        }
        cluster
    })
}

/// A web server that answers `<dyno> <variant> <GREETING>`.
const SERVER: &str = r#"
import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s %s\n" % (os.environ.get("DYNO"), os.environ.get("VARIANT"), os.environ.get("GREETING", ""))).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"#;

const PROCFILE: &str = "web: python3 /app/server.py";

fn image(variant: &str) -> String {
    format!("paas-swarm-test/app:{variant}")
}

fn build_image(cluster: &Cluster, variant: &str) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("server.py"), SERVER).unwrap();
    std::fs::write(
        dir.path().join("Dockerfile"),
        format!("FROM paas/stack:bookworm\nCOPY server.py /app/server.py\nENV VARIANT={variant}\n"),
    )
    .unwrap();
    let status = Command::new("docker")
        .args(["-H", &cluster.manager, "build", "-q", "-t", &image(variant)])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "building {variant} on the manager failed");
}

/// `docker` against node `n` of the cluster (1 is the manager).
fn node_docker(n: u32, args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(["-H", &format!("unix:///run/paas-swarm/n{n}/docker.sock")])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn node_number(hostname: &str) -> u32 {
    hostname.trim_start_matches("psw-n").parse().unwrap()
}

struct Harness {
    store: Store,
    swarm: Swarm,
    instance: String,
    app: String,
    app_id: Uuid,
    settings: SupervisorSettings,
}

impl Drop for Harness {
    fn drop(&mut self) {
        let ids = node_docker(
            1,
            &[
                "service",
                "ls",
                "-q",
                "--filter",
                &format!("label=paas.instance={}", self.instance),
            ],
        );
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["service", "rm"];
            args.extend(ids);
            node_docker(1, &args);
        }
        let network = format!("paas-{}-{}", self.instance, self.app);
        for _ in 0..20 {
            if node_docker(1, &["network", "rm", &network]).contains(&network) {
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Harness {
    async fn new(pool: PgPool) -> Self {
        let cluster = cluster();
        let store = Store::from_pool(pool);
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        let app = format!("sw-{suffix}");
        let app_id = store
            .create_app(&AppName::parse(&app).unwrap())
            .await
            .unwrap()
            .app_id;
        let settings = SupervisorSettings {
            grace_secs: 3,
            health_timeout: Duration::from_secs(60),
            resync: Duration::from_millis(500),
            instance: format!("sw{suffix}"),
            ..SupervisorSettings::default()
        };
        let docker = paas_docker::Docker::connect_to(&cluster.manager).unwrap();
        let swarm = Swarm::connect(docker, Some(&cluster.manager), &cluster.registry).unwrap();
        Self {
            store,
            swarm,
            instance: settings.instance.clone(),
            app,
            app_id,
            settings,
        }
    }

    /// A release of `variant`'s image; returns its version.
    async fn deploy(&self, variant: &str) -> i32 {
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
        let procfile = Procfile::parse(PROCFILE).unwrap();
        self.store
            .finish_build(build.build_id, Ok((&image(variant), &procfile)), "")
            .await
            .unwrap();
        self.store
            .create_deploy_release(self.app_id, build.build_id, ReleaseStatus::Succeeded)
            .await
            .unwrap()
            .version
    }

    async fn scale(&self, n: i64) {
        self.store
            .scale(
                self.app_id,
                &[(
                    ProcessType::parse("web").unwrap(),
                    ScaleChange::To(Quantity::new(n).unwrap()),
                )],
            )
            .await
            .unwrap();
    }

    async fn set_config(&self, key: &str, value: &str) -> i32 {
        let change = ConfigChange::parse([(key, Some(value))]).unwrap();
        let (_, release) = self
            .store
            .update_config(self.app_id, &change)
            .await
            .unwrap();
        release.unwrap().version
    }

    /// The supervisor's own loop on the cluster, and a router on loopback fed by it.
    async fn start(&self) -> Running {
        let (sup, routes) = Supervisor::new(
            self.store.clone(),
            self.swarm.clone(),
            self.settings.clone(),
        );
        let shutdown = CancellationToken::new();
        let nudges = Arc::new(Nudges::default());
        let task = tokio::spawn(Arc::new(sup).run(nudges, shutdown.clone()));
        let router = Arc::new(paas_router::Router::new(
            routes.clone(),
            paas_router::RouterSettings::default(),
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let router_addr = listener.local_addr().unwrap();
        tokio::spawn(router.serve(listener, shutdown.clone()));
        Running {
            shutdown,
            task,
            routes,
            url: format!("http://{router_addr}/"),
            host: format!("{}.{}", self.app, self.settings.domain),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        }
    }

    async fn dynos(&self) -> Vec<ObservedContainer> {
        self.swarm.list_dynos(&self.instance, None).await.unwrap()
    }

    /// Waits until `done` holds for the app's dynos and the router's table.
    async fn wait_for(
        &self,
        running: &Running,
        secs: u64,
        what: &str,
        done: impl Fn(&[ObservedContainer], &RouteTable) -> bool,
    ) -> Vec<ObservedContainer> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let dynos = self.dynos().await;
            let table = running.routes.borrow().clone();
            if done(&dynos, &table) {
                return dynos;
            }
            assert!(
                Instant::now() < deadline,
                "not within {secs}s: {what}: {dynos:#?}"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

struct Running {
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    routes: watch::Receiver<Arc<RouteTable>>,
    url: String,
    host: String,
    client: reqwest::Client,
}

impl Running {
    fn backends(&self, table: &RouteTable) -> Vec<(String, i32)> {
        table.lookup(&self.host).map_or(Vec::new(), |r| {
            r.backends
                .iter()
                .map(|b| (b.dyno.clone(), b.version))
                .collect()
        })
    }

    /// One request through the router: the body, or why it failed.
    async fn get(&self) -> Result<String, String> {
        let response = self
            .client
            .get(&self.url)
            .header("host", &self.host)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = response.text().await.map_err(|e| e.to_string())?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(format!("{status}: {body}"))
        }
    }

    /// Steady load through the router until `stop`: (requests, failures, bodies seen).
    fn load(self: &Arc<Self>, stop: CancellationToken) -> tokio::task::JoinHandle<Load> {
        let me = self.clone();
        tokio::spawn(async move {
            let sent = AtomicUsize::new(0);
            let mut failures = Vec::new();
            let mut bodies = BTreeSet::new();
            while !stop.is_cancelled() {
                sent.fetch_add(1, Ordering::Relaxed);
                match me.get().await {
                    Ok(body) => {
                        bodies.insert(body.trim().to_owned());
                    }
                    Err(e) => failures.push(e),
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Load {
                sent: sent.into_inner(),
                failures,
                bodies,
            }
        })
    }

    /// Stops the loop as a SIGKILL would: no shutdown path runs.
    fn kill(self) {
        self.task.abort();
        self.shutdown.cancel();
    }
}

struct Load {
    sent: usize,
    failures: Vec<String>,
    bodies: BTreeSet<String>,
}

fn nodes_of(dynos: &[ObservedContainer]) -> BTreeSet<String> {
    dynos
        .iter()
        .filter(|d| d.running())
        .filter_map(|d| d.node.clone())
        .collect()
}

fn running_on_version(dynos: &[ObservedContainer], version: i32) -> usize {
    dynos
        .iter()
        .filter(|d| d.running() && d.dyno.version.get() == version)
        .count()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn web_dynos_spread_over_nodes_and_a_config_change_rolls_across_them_without_a_failed_request(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy("v1").await;
    h.scale(4).await;
    let running = Arc::new(h.start().await);
    let dynos = h
        .wait_for(&running, 240, "web=4 ready and routed", |d, t| {
            running_on_version(d, v1) == 4 && running.backends(t).len() == 4
        })
        .await;
    let nodes = nodes_of(&dynos);
    assert!(nodes.len() >= 2, "web=4 on one node only: {dynos:#?}");
    // `paas ps` reads each dyno's node from its row.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = h.store.dynos(h.app_id).await.unwrap();
        let row_nodes: BTreeSet<String> = rows.iter().filter_map(|r| r.node.clone()).collect();
        if row_nodes == nodes && rows.len() == 4 {
            break;
        }
        assert!(Instant::now() < deadline, "{nodes:?} vs {rows:#?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Routed at node addresses and published ports, never at overlay addresses.
    for d in &dynos {
        let ip = d.ip.unwrap().to_string();
        assert!(ip.starts_with("10.213.0."), "{d:#?}");
        assert!(d.port.is_some(), "{d:#?}");
    }

    // The router balances over all four.
    let mut seen = BTreeSet::new();
    for _ in 0..40 {
        let body = running.get().await.unwrap();
        seen.insert(body.split_whitespace().next().unwrap().to_owned());
    }
    assert_eq!(seen.len(), 4, "the router answered from {seen:?} only");

    // A config change under steady load rolls over every node, no request failing.
    let stop = CancellationToken::new();
    let loads: Vec<_> = (0..2).map(|_| running.load(stop.clone())).collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let v2 = h.set_config("GREETING", "rolled").await;
    let started = Instant::now();
    let after = h
        .wait_for(&running, 240, "the rollout to the new release", |d, t| {
            running_on_version(d, v2) == 4
                && d.len() == 4
                && running.backends(t).iter().all(|(_, v)| *v == v2)
                && running.backends(t).len() == 4
        })
        .await;
    let rollout = started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.cancel();
    let mut sent = 0;
    let mut bodies = BTreeSet::new();
    for load in loads {
        let load = load.await.unwrap();
        sent += load.sent;
        assert!(
            load.failures.is_empty(),
            "{} of {} requests failed during the rollout: {:?}",
            load.failures.len(),
            load.sent,
            &load.failures[..load.failures.len().min(5)]
        );
        bodies.extend(load.bodies);
    }
    assert!(bodies.iter().any(|b| b.ends_with("rolled")), "{bodies:?}");
    assert!(bodies.iter().any(|b| !b.ends_with("rolled")), "{bodies:?}");
    assert!(nodes_of(&after).len() >= 2, "{after:#?}");
    eprintln!(
        "rollout of web=4 across {} nodes: {:.1}s, {sent} requests, none failed",
        nodes_of(&after).len(),
        rollout.as_secs_f32()
    );
    Arc::into_inner(running).unwrap().kill();
}

/// Starts node `n`'s dockerd again when dropped, whatever the test did.
struct NodeBack(u32);

impl Drop for NodeBack {
    fn drop(&mut self) {
        let _ = Command::new(format!("{ROOT}/scripts/swarm-cluster.sh"))
            .args(["start-node", &self.0.to_string()])
            .status();
    }
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn losing_a_worker_moves_its_dynos_to_live_nodes_and_nothing_is_duplicated_when_it_returns(
    pool: PgPool,
) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy("v1").await;
    h.scale(4).await;
    let running = Arc::new(h.start().await);
    let dynos = h
        .wait_for(&running, 240, "web=4 ready and routed", |d, t| {
            running_on_version(d, v1) == 4 && running.backends(t).len() == 4
        })
        .await;
    // The worker with the most of the app's dynos goes away.
    let mut per_node: HashMap<u32, usize> = HashMap::new();
    for d in dynos.iter().filter(|d| d.running()) {
        *per_node
            .entry(node_number(d.node.as_deref().unwrap()))
            .or_default() += 1;
    }
    let (&lost, &had) = per_node
        .iter()
        .filter(|(n, _)| **n != 1)
        .max_by_key(|(_, count)| **count)
        .expect("no dyno on a worker");
    let lost_host = format!("psw-n{lost}");
    let _back = NodeBack(lost);
    let stopped = Instant::now();
    let status = Command::new(format!("{ROOT}/scripts/swarm-cluster.sh"))
        .args(["stop-node", &lost.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let moved = h
        .wait_for(
            &running,
            120,
            "the lost node's dynos running elsewhere",
            |d, t| {
                let live: Vec<_> = d
                    .iter()
                    .filter(|d| d.running() && d.node.as_deref() != Some(lost_host.as_str()))
                    .collect();
                live.len() == 4 && d.len() == 4 && running.backends(t).len() == 4
            },
        )
        .await;
    let move_secs = stopped.elapsed().as_secs_f32();
    let lost_addr = format!("10.213.0.{}", 10 + lost);
    assert!(
        moved.iter().all(|d| d.ip.unwrap().to_string() != lost_addr),
        "{moved:#?}"
    );
    for _ in 0..8 {
        running.get().await.unwrap();
    }
    eprintln!("{had} dynos of node {lost} moved to live nodes in {move_secs:.1}s");

    // The node comes back: its old tasks are shut down, nothing runs twice.
    drop(_back);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let mine = node_docker(
            lost,
            &["ps", "-q", "--filter", &format!("name={}-web-", h.app)],
        );
        let ready = h
            .swarm
            .cluster_nodes()
            .await
            .unwrap()
            .iter()
            .any(|n| n.hostname == lost_host && n.ready);
        if ready && mine.trim().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "node {lost} still runs {mine:?} (ready: {ready})"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = h.dynos().await;
    assert_eq!(after.len(), 4, "{after:#?}");
    assert_eq!(
        after.iter().filter(|d| d.running()).count(),
        4,
        "{after:#?}"
    );
    Arc::into_inner(running).unwrap().kill();
}

/// The image references (`repo@sha256:…`) node `n` holds.
fn digests_on(n: u32) -> String {
    node_docker(
        n,
        &[
            "image",
            "ls",
            "--digests",
            "--format",
            "{{.Repository}}@{{.Digest}}",
        ],
    )
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_rollback_pulls_the_older_image_by_digest_on_a_node_that_never_ran_it(pool: PgPool) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy("v1").await;
    let running = Arc::new(h.start().await);
    let first = h
        .wait_for(&running, 240, "web.1 of the first release", |d, t| {
            running_on_version(d, v1) == 1 && running.backends(t).len() == 1
        })
        .await;
    let reference = node_docker(
        1,
        &[
            "service",
            "inspect",
            "--format",
            "{{.Spec.TaskTemplate.ContainerSpec.Image}}",
            &first[0].id,
        ],
    )
    .trim()
    .to_owned();
    assert!(
        reference.contains("@sha256:") && reference.starts_with(&cluster().registry),
        "services must name their image by digest in the registry: {reference}"
    );
    let (repo, digest) = reference.split_once('@').unwrap();
    let v1_ref = format!("{repo}@{digest}");

    let v2 = h.deploy("v2").await;
    h.scale(3).await;
    h.wait_for(&running, 240, "web=3 of the second release", |d, t| {
        running_on_version(d, v2) == 3 && d.len() == 3 && running.backends(t).len() == 3
    })
    .await;
    let never_ran: Vec<u32> = [2, 3]
        .into_iter()
        .filter(|n| !digests_on(*n).contains(&v1_ref))
        .collect();
    assert!(!never_ran.is_empty(), "every worker already holds {v1_ref}");

    let rollback = h
        .store
        .rollback(
            h.app_id,
            &ReleaseRef::Version(paas_core::ReleaseVersion::new(v1).unwrap()),
        )
        .await
        .unwrap()
        .version;
    let rolled = h
        .wait_for(&running, 240, "web=3 of the rollback", |d, t| {
            running_on_version(d, rollback) == 3
                && d.len() == 3
                && running.backends(t).iter().all(|(_, v)| *v == rollback)
        })
        .await;
    let body = running.get().await.unwrap();
    assert!(body.contains(" v1 "), "{body}");
    let pulled: Vec<u32> = rolled
        .iter()
        .map(|d| node_number(d.node.as_deref().unwrap()))
        .filter(|n| never_ran.contains(n))
        .collect();
    assert!(
        !pulled.is_empty(),
        "no dyno of the rollback landed on a node that never ran it ({never_ran:?}): {rolled:#?}"
    );
    for n in pulled {
        assert!(digests_on(n).contains(&v1_ref), "node {n} lacks {v1_ref}");
    }
    Arc::into_inner(running).unwrap().kill();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_killed_supervisor_is_replaced_by_one_that_adopts_every_service(pool: PgPool) {
    let h = Harness::new(pool).await;
    let v1 = h.deploy("v1").await;
    h.scale(3).await;
    let running = h.start().await;
    let before = h
        .wait_for(&running, 240, "web=3 ready and routed", |d, t| {
            running_on_version(d, v1) == 3 && running.backends(t).len() == 3
        })
        .await;
    running.kill();

    // A new paasd: a new client (nothing cached) and a new supervisor.
    let cluster = cluster();
    let docker = paas_docker::Docker::connect_to(&cluster.manager).unwrap();
    let mut h = h;
    h.swarm = Swarm::connect(docker, Some(&cluster.manager), &cluster.registry).unwrap();
    let running = h.start().await;
    h.wait_for(&running, 60, "the adopted dynos routed", |_, t| {
        running.backends(t).len() == 3
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = h.dynos().await;
    let ids = |d: &[ObservedContainer]| d.iter().map(|d| d.id.clone()).collect::<BTreeSet<_>>();
    assert_eq!(
        ids(&before),
        ids(&after),
        "services were replaced: {after:#?}"
    );
    assert!(after.iter().all(|d| d.running()), "{after:#?}");
    running.kill();
}
