//! The container runtime port: what the supervisor needs from a container engine, as
//! plain data and one trait.
//!
//! Two engines implement it: `paas_docker::Docker` (one Docker Engine) and
//! `paas_swarm::Swarm` (a Docker Swarm cluster, `PAAS_RUNTIME=swarm`); the trait is the
//! seam that keeps bollard (and any engine's types) out of `paas-supervisor` and names
//! the contract in one place. Its methods return `impl Future + Send` so
//! the supervisor can spawn what it calls. Labels are the record: everything the
//! supervisor knows about a running dyno comes back through [`ContainerRuntime::list_dynos`].

use std::future::Future;
use std::net::{IpAddr, SocketAddr};

use chrono::{DateTime, Utc};

use crate::dyno::{ContainerStatus, DynoIdentity};
use crate::{AppName, DynoName};

/// Resource limits of every dyno container (formation, one-off, release phase), from
/// paasd's settings: one type, so no start path hard-codes its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DynoLimits {
    pub memory_bytes: i64,
    pub pids: i64,
    /// The dyno's writable filesystem (`PAAS_DYNO_DISK`): the whole writable layer where
    /// the engine's storage driver can bound it, else `/tmp` (see `paas_docker`).
    pub disk_bytes: i64,
    /// What the engine keeps of a dyno's output on disk: files of this size
    /// (`PAAS_DYNO_LOG_SIZE`), this many of them (`PAAS_DYNO_LOG_FILES`), oldest dropped.
    pub log_file_bytes: i64,
    pub log_files: u32,
}

impl Default for DynoLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 512 << 20,
            pids: 512,
            disk_bytes: 1 << 30,
            log_file_bytes: 10 << 20,
            log_files: 3,
        }
    }
}

/// What to run for one dyno.
#[derive(Debug, Clone)]
pub struct DynoSpec {
    /// The installation this dyno belongs to (`paas.instance` label).
    pub instance: String,
    pub dyno: DynoIdentity,
    pub image: String,
    pub command: String,
    /// `KEY=value`, from [`crate::dyno::dyno_env`].
    pub env: Vec<String>,
    pub limits: DynoLimits,
    pub network: String,
    /// The HTTP path that must answer before this (web) dyno is ready, if any; kept as
    /// the `paas.health_path` label so each dyno is checked by its own release's rule.
    pub health_path: Option<String>,
    /// SIGTERM → SIGKILL grace of this dyno's app, for engines that fix it when the
    /// dyno is made (a Swarm service's stop grace period).
    pub grace_secs: i32,
}

/// A dyno container as the runtime reports it: its identity (decoded once from its
/// labels by the adapter) and its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedContainer {
    pub id: String,
    pub dyno: DynoIdentity,
    pub status: ContainerStatus,
    /// Where the dyno is reached: its own address on one engine, its node's address on
    /// a cluster (with [`ObservedContainer::port`]).
    pub ip: Option<IpAddr>,
    /// The port at `ip` that leads to the dyno's `$PORT`, when the engine maps one (a
    /// Swarm task's host-mode published port); `None`: `$PORT` itself.
    pub port: Option<u16>,
    /// The cluster node the dyno runs on; `None` on a single engine.
    pub node: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i64>,
    pub command: String,
    pub health_path: Option<String>,
}

impl ObservedContainer {
    pub fn running(&self) -> bool {
        self.status == ContainerStatus::Running
    }

    /// Where a web dyno listening on `web_port` (`$PORT`) answers, if it has an address.
    pub fn web_addr(&self, web_port: u16) -> Option<SocketAddr> {
        self.ip
            .map(|ip| SocketAddr::new(ip, self.port.unwrap_or(web_port)))
    }
}

/// A formation container of one installation changed state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoEvent {
    pub container: String,
    /// The app whose dyno it is, when the event says.
    pub app_id: Option<uuid::Uuid>,
    /// What happened: `start`, `die`, `oom`, `destroy`.
    pub action: String,
}

/// An exited one-off container (see [`ContainerRuntime::exited_one_offs`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitedOneOff {
    pub id: String,
    pub app_name: AppName,
    /// `run.7`
    pub dyno: DynoName,
    /// When it exited (or, never started, when it was made).
    pub finished_at: Option<DateTime<Utc>>,
    /// Started by `run:detached`: nobody will collect it.
    pub detached: bool,
}

/// A source of output that belongs in app log streams: a dyno container (formation or
/// one-off) on one engine; on a cluster, a formation dyno's service (whose output comes
/// from whichever node runs it) or a one-off container; and an add-on's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSource {
    /// Opaque to the caller, stable for the source's life (the read position is kept
    /// under it, [`ContainerRuntime::follow_output`] takes it back).
    pub id: String,
    pub printer: Printer,
}

/// Who prints a [`LogSource`]'s output, so whose stream it goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Printer {
    /// A dyno: its app's stream, as `app[web.1]`.
    Dyno {
        app_name: AppName,
        /// `web.1`, `run.3`.
        dyno: DynoName,
    },
    /// An add-on's server: the streams of the apps attached to it at the time of each
    /// line, as `app[postgres]` / `app[redis]`.
    Addon {
        addon_id: uuid::Uuid,
        service: crate::addons::Service,
    },
}

/// One line of a dyno's output, with the time its engine received it (nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputLine {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// An app's network, as the runtime labelled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppNetwork {
    pub id: String,
    pub app_name: String,
    /// When it was made (Unix seconds), if known.
    pub created_secs: Option<u64>,
}

/// A machine that runs dynos, as `paasd nodes` and `GET /nodes` list it: a Swarm node,
/// or the single engine itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSummary {
    /// The node's hostname (what `paas ps` shows for its dynos).
    pub name: String,
    /// The address its published dyno ports are reached at, if it has one of its own.
    pub addr: Option<IpAddr>,
    /// `ready`, `down`, `disconnected`, `unknown`.
    pub state: String,
    /// `active`, `pause`, `drain`.
    pub availability: String,
    pub manager: bool,
    /// Formation dynos of this installation running there.
    pub dynos: usize,
}

/// The nodes of a runtime, for callers that are not generic over it (the API): any
/// [`ContainerRuntime`] is one.
pub trait NodeList: Send + Sync + std::fmt::Debug {
    fn list<'a>(
        &'a self,
        instance: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<NodeSummary>, String>> + Send + 'a>>;
}

impl<R: ContainerRuntime + std::fmt::Debug> NodeList for R {
    fn list<'a>(
        &'a self,
        instance: &'a str,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<Vec<NodeSummary>, String>> + Send + 'a>> {
        Box::pin(async move { self.nodes(instance).await.map_err(|e| e.to_string()) })
    }
}

/// Each app's dynos share a network of their own: `paas-<instance>-<app>`, so two
/// installations on one engine never share one.
pub fn app_network_name(instance: &str, app_name: &str) -> String {
    format!("paas-{instance}-{app_name}")
}

/// A container engine that runs dynos.
pub trait ContainerRuntime: Clone + Send + Sync + 'static {
    type Error: std::error::Error + Send + Sync + 'static;

    /// Creates the network of `app_name` unless it exists; returns its name
    /// ([`app_network_name`]).
    fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// The app networks `instance` created.
    fn app_networks(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<AppNetwork>, Self::Error>> + Send;

    /// Removes a network; `false` when containers still use it.
    fn remove_network(&self, id: &str) -> impl Future<Output = Result<bool, Self::Error>> + Send;

    /// Forgets a deleted app's release images where the runtime keeps copies of its own
    /// (a cluster's registry and nodes); returns how many registry manifests it removed.
    /// Work it leaves running on the nodes (a Swarm job) is `instance`'s, removed by
    /// [`ContainerRuntime::reap_jobs`] once done. One engine keeps none: the builder
    /// removes the app's images with the app (`Builder::forget_app`).
    fn forget_app_images(
        &self,
        instance: &str,
        app_name: &AppName,
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send {
        let _ = (instance, app_name);
        async { Ok(0) }
    }

    /// Removes `instance`'s housekeeping jobs (those [`ContainerRuntime::forget_app_images`]
    /// started) that have finished on every node, or that ran too long; returns how many
    /// it removed. One engine starts none.
    fn reap_jobs(&self, instance: &str) -> impl Future<Output = Result<usize, Self::Error>> + Send {
        let _ = instance;
        async { Ok(0) }
    }

    /// Creates and starts a dyno, or adopts the container that already holds its name;
    /// returns the container id.
    fn run_dyno(&self, spec: &DynoSpec)
    -> impl Future<Output = Result<String, Self::Error>> + Send;

    /// Every formation container of `instance` (of one app when `app_id` is given), in
    /// any state. Containers whose labels do not make a dyno record are left out.
    fn list_dynos(
        &self,
        instance: &str,
        app_id: Option<uuid::Uuid>,
    ) -> impl Future<Output = Result<Vec<ObservedContainer>, Self::Error>> + Send;

    /// SIGTERM, SIGKILL after `grace_secs`, then removal; a missing container is fine.
    /// Returns the process's exit status when it is known (143 after SIGTERM, 137 after
    /// SIGKILL).
    fn stop_and_remove(
        &self,
        id: &str,
        grace_secs: i32,
    ) -> impl Future<Output = Result<Option<i64>, Self::Error>> + Send;

    /// Removes a container at once, running or not; a missing container is fine.
    fn remove_now(&self, id: &str) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The last `lines` lines a container printed.
    fn tail(
        &self,
        id: &str,
        lines: usize,
    ) -> impl Future<Output = Result<Vec<String>, Self::Error>> + Send;

    /// Calls `on_event` for each state change of `instance`'s formation containers until
    /// the connection to the engine ends (`Ok`) or fails.
    fn watch_dynos<F: FnMut(DynoEvent) + Send>(
        &self,
        instance: &str,
        on_event: F,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The machines dynos run on, with how many of `instance`'s formation dynos run on
    /// each.
    fn nodes(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<NodeSummary>, Self::Error>> + Send;

    /// One-off containers of `instance` that have exited.
    fn exited_one_offs(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<ExitedOneOff>, Self::Error>> + Send;

    /// Every source of dyno output of `instance` (formation and one-off, in any state)
    /// the engine still holds output of.
    fn log_sources(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<LogSource>, Self::Error>> + Send;

    /// Calls `on_source` for each log source of `instance` that starts (or is made)
    /// from now on, until the connection to the engine ends (`Ok`) or fails.
    fn watch_log_sources<F: FnMut(LogSource) + Send>(
        &self,
        instance: &str,
        on_source: F,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Calls `on_line` for each line (stdout and stderr) source `id` printed from
    /// `since_secs` (Unix seconds; 0: all the engine holds) on, in the order of each
    /// stream, following it until it stops printing for good (`Ok`: the container
    /// stopped, or the service is gone) or the connection fails.
    fn follow_output<F: FnMut(OutputLine) + Send>(
        &self,
        id: &str,
        since_secs: i64,
        on_line: F,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Tells the supervisor an app's desired state changed (a release, a scale, a
/// restart), so it reconciles that app now rather than at its next resync. The API
/// holds it as `Arc<dyn Nudge>`; the supervisor implements it.
pub trait Nudge: Send + Sync + std::fmt::Debug {
    fn app_changed(&self, app: uuid::Uuid);
}

/// A [`Nudge`] that nobody listens to (tests of the API alone).
#[derive(Debug, Default)]
pub struct NoNudge;

impl Nudge for NoNudge {
    fn app_changed(&self, _app: uuid::Uuid) {}
}
