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

mod failover;
mod images;
mod isolation;
mod logs;
mod one_offs;
mod rollout;

use std::collections::{BTreeSet, HashMap};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use paas_core::ReleaseRef;
use paas_core::routes::RouteTable;
use paas_core::runtime::ObservedContainer;
use paas_store::Store;
use paas_supervisor::{Nudges, Supervisor, SupervisorSettings};
use paas_swarm::Swarm;
use paas_testkit::ledger;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

/// What `scripts/swarm-cluster.sh env` prints.
struct Cluster {
    manager: String,
    registry: String,
    /// Each node's socket as its tasks mount it (`PAAS_SWARM_NODE_SOCKET`).
    node_socket: String,
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
            node_socket: env["PAAS_SWARM_NODE_SOCKET"].clone(),
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

/// One of `scripts/swarm-cluster.sh`'s names as its environment sets them: two clusters
/// on one machine differ by `PAAS_SWARM_RUN`, `PAAS_SWARM_NS` and `PAAS_SWARM_NET`.
fn cluster_setting(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

/// Node `n`'s hostname (its Swarm node name): `psw-n<n>` by default.
fn node_host(n: u32) -> String {
    format!("{}-n{n}", cluster_setting("PAAS_SWARM_NS", "psw"))
}

/// Node `n`'s address on the cluster's bridge: `10.213.0.<10 + n>` by default.
fn node_addr(n: u32) -> String {
    format!(
        "{}.{}",
        cluster_setting("PAAS_SWARM_NET", "10.213.0"),
        10 + n
    )
}

/// `docker` against node `n` of the cluster (1 is the manager).
fn node_docker(n: u32, args: &[&str]) -> String {
    let run = cluster_setting("PAAS_SWARM_RUN", "/run/paas-swarm");
    let out = Command::new("docker")
        .args(["-H", &format!("unix://{run}/n{n}/docker.sock")])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn node_number(hostname: &str) -> u32 {
    let prefix = format!("{}-n", cluster_setting("PAAS_SWARM_NS", "psw"));
    hostname
        .trim_start_matches(prefix.as_str())
        .parse()
        .unwrap()
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
        // Every app network of this instance (a test may add apps beside `self.app`).
        let networks = node_docker(
            1,
            &[
                "network",
                "ls",
                "--format",
                "{{.Name}}",
                "--filter",
                &format!("name=paas-{}-", self.instance),
            ],
        );
        for network in networks.split_whitespace() {
            for _ in 0..20 {
                if node_docker(1, &["network", "rm", network]).contains(network) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    }
}

impl Harness {
    async fn new(pool: PgPool) -> Self {
        let cluster = cluster();
        let store = Store::from_pool(pool);
        let suffix = &Uuid::new_v4().simple().to_string()[..8];
        let app = format!("sw-{suffix}");
        let app_id = ledger::create_app(&store, &app).await;
        let settings = SupervisorSettings {
            grace_secs: 3,
            health_timeout: Duration::from_secs(60),
            resync: Duration::from_millis(500),
            instance: format!("sw{suffix}"),
            ..SupervisorSettings::default()
        };
        let docker = paas_docker::Docker::connect_to(&cluster.manager).unwrap();
        let swarm = Swarm::connect(docker, Some(&cluster.manager), &cluster.registry)
            .unwrap()
            .with_image_collector("paas/stack:bookworm", &cluster.node_socket);
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
        self.deploy_procfile(variant, PROCFILE).await
    }

    /// A release of `variant`'s image with this Procfile; returns its version.
    async fn deploy_procfile(&self, variant: &str, procfile: &str) -> i32 {
        ledger::deploy(&self.store, self.app_id, &image(variant), procfile).await
    }

    async fn scale(&self, n: i64) {
        ledger::scale(&self.store, self.app_id, "web", n).await;
    }

    async fn set_config(&self, key: &str, value: &str) -> i32 {
        ledger::set_config(&self.store, self.app_id, &[(key, value)]).await
    }

    /// Release `v1` at web=4 with the supervisor and router running (`start`), once all
    /// four dynos run it and are routed: the running loop and the dynos.
    async fn four_web_dynos(&self) -> (Arc<Running>, Vec<ObservedContainer>) {
        let v1 = self.deploy("v1").await;
        self.scale(4).await;
        let running = Arc::new(self.start().await);
        let dynos = self
            .wait_for(&running, 240, "web=4 ready and routed", |d, t| {
                running_on_version(d, v1) == 4 && running.backends(t).len() == 4
            })
            .await;
        (running, dynos)
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
