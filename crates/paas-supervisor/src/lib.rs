//! The supervisor: a level-triggered reconcile loop that runs every app's formation.
//!
//! Each pass reads the desired state from Postgres (current release, image, config,
//! formation) and the observed state from the runtime's labels (never from a cache, so
//! a restarted paasd adopts what runs), asks [`paas_core::reconcile::plan`] what to do,
//! and does it; the plan takes every decision, this crate only observes, acts and
//! records, the way a kube-rs controller keeps `reconcile` short.
//!
//! - `controller`: the loop: when to pass, over which apps (a nudge names its app; the
//!   periodic resync covers all), and the runtime's event watch;
//! - `pass`: one pass over some apps: fan-out, the route table, stopping what left it;
//! - `observe` (with `probe`): containers → the plan's `ObservedDyno`s, probes of
//!   starting web dynos side by side;
//! - `act`: starting, retiring, stopping and removing dynos, failing a rollout;
//! - `routes`, `report`, `housekeeping`: the route table, the `dyno` rows, exited
//!   one-offs and networks of deleted apps;
//! - `state`: the only in-memory state, behind the methods of one type.
//!
//! Web dynos count as ready once they accept TCP on their port (and answer their health
//! path, when the release names one); only ready dynos are published in the route
//! table, and a retiring dyno leaves the table before it gets SIGTERM. Dynos are never
//! stopped when paasd stops.

mod act;
mod controller;
mod housekeeping;
mod observe;
mod pass;
mod probe;
mod report;
mod routes;
mod state;

use std::sync::Arc;
use std::time::Duration;

use paas_core::logline::{Discard, LogSink};
use paas_core::routes::RouteTable;
use paas_core::runtime::DynoLimits;
use paas_store::{Store, StoreError};
use tokio::sync::watch;

pub use controller::Nudges;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runtime(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone)]
pub struct SupervisorSettings {
    /// Apps answer at `<app>.<domain>`.
    pub domain: String,
    /// Memory and pids of each dyno.
    pub limits: DynoLimits,
    /// SIGTERM → SIGKILL grace when a dyno is retired.
    pub grace_secs: i32,
    /// How long a new web dyno may take to accept connections.
    pub health_timeout: Duration,
    /// How often every app is reconciled (the safety net behind nudges and the
    /// runtime's events). A runtime that reports no per-dyno events (a Swarm) needs a
    /// short one; the Docker Engine's events make a rare one enough.
    pub resync: Duration,
    /// The port web dynos listen on inside their container (`$PORT`).
    pub web_port: u16,
    /// Labels this paasd's containers, so two installations (or test runs) sharing one
    /// Docker engine never touch each other's dynos.
    pub instance: String,
    /// An exited one-off dyno nobody removed (its client or paasd went away) is removed
    /// this long after it exited.
    pub one_off_ttl: Duration,
    /// A network of an app this pass does not know is removed only when older than this.
    pub network_min_age: Duration,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        Self {
            domain: "localhost".into(),
            limits: DynoLimits::default(),
            grace_secs: 30,
            health_timeout: Duration::from_secs(60),
            resync: Duration::from_secs(60),
            web_port: 5000,
            instance: "paas".into(),
            one_off_ttl: Duration::from_secs(300),
            network_min_age: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
pub struct Supervisor<R> {
    store: Store,
    runtime: R,
    settings: SupervisorSettings,
    routes: watch::Sender<Arc<RouteTable>>,
    state: Arc<state::State>,
    /// Dyno state changes go to the apps' log streams (`heroku[web.1]`).
    logs: Arc<dyn LogSink>,
}

impl<R> Supervisor<R> {
    /// The supervisor and the receiving end of its route table.
    pub fn new(
        store: Store,
        runtime: R,
        settings: SupervisorSettings,
    ) -> (Self, watch::Receiver<Arc<RouteTable>>) {
        let (routes, rx) = watch::channel(Arc::new(RouteTable::default()));
        let supervisor = Self {
            store,
            runtime,
            settings,
            routes,
            state: Arc::default(),
            logs: Arc::new(Discard),
        };
        (supervisor, rx)
    }

    /// Dyno state changes go to these streams.
    pub fn with_logs(mut self, logs: Arc<dyn LogSink>) -> Self {
        self.logs = logs;
        self
    }
}

fn runtime_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> SupervisorError {
    SupervisorError::Runtime(Box::new(e))
}
