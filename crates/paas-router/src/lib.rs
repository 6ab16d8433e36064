//! The router: every visitor of every app goes through here.
//!
//! A hyper HTTP/1 (and, over TLS, HTTP/2) server in front of a per-thread pool of
//! HTTP/1.1 keep-alive connections to dynos ([`pool`]). Per request, in order
//! (pingora's phases, named in [`Router::handle`]):
//!
//! 1. `match_route`: Host header (port, case ignored) → app, from the latest
//!    [`Snapshot`](snapshot::Snapshot) of the supervisor's [`RouteTable`]; unknown → 404.
//! 2. `pick_backend`: power of two choices on outstanding requests over the app's
//!    dynos, skipping dynos that refused a connection in the last 5 s ([`balance`]);
//!    none → 503 `H14`. An app in maintenance mode gets a 503 maintenance page (`H80`)
//!    and its dynos nothing.
//! 3. `forward`: the request with forwarding headers ([`headers`]) on a pooled
//!    keep-alive connection; bodies stream both ways; a `101 Switching Protocols`
//!    answer splices the two upgraded connections.
//! 4. `on_error`: a refused (or timed-out) connection marks the dyno down and, when
//!    nothing of the request was sent, retries on another dyno; a bodiless idempotent
//!    request that a dyno dropped before answering is retried too; otherwise a 503
//!    page with a Heroku error code (`H12` no first byte within 30 s, `H13`, `H19`,
//!    `H21`).
//! 5. `log_request`: always runs, when the response body ends or is dropped
//!    ([`body::ResponseBody`]): one Heroku-style line to tracing (target `router`) and
//!    to the app's [`RequestLogSink`], the app's [`Metrics`], and the dyno's
//!    outstanding count released.
//!
//! Two listeners feed the same phases: plain HTTP/1.1, and TLS ([`Listeners::with_https`])
//! with the certificate chosen per handshake by SNI from a resolver (paas-tls's
//! `CertTable`, an `ArcSwap`ed map: no lock, no database), TLS 1.2 and 1.3 only, ALPN
//! `h2` and `http/1.1` to clients; dynos always get HTTP/1.1. On the plain listener an
//! ACME HTTP-01 challenge (`/.well-known/acme-challenge/<token>`) is answered before
//! any app is looked up ([`Router::with_acme_challenges`]); on the TLS listener, a
//! TLS-ALPN-01 validation (ALPN `acme-tls/1`, RFC 8737) gets the resolver's challenge
//! certificate and the connection ends after the handshake.
//!
//! Files: `serve.rs` (listeners, accept loops, connections, drain), `handle.rs` (the
//! phases of one request and its log line), `pool.rs` (connections to dynos).
//!
//! Shutdown: the accept loop stops, every connection finishes its in-flight request and
//! closes (idle keep-alive connections at once), bounded by `drain_timeout`, after which
//! whatever is left (slow bodies, WebSockets) is cut.

mod balance;
mod body;
mod handle;
mod headers;
mod log;
mod metrics;
mod pool;
mod serve;
mod snapshot;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use paas_core::routes::RouteTable;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use body::ResponseBody as Body;
pub use log::{NoSink, RequestLog, RequestLogSink};
pub use metrics::Metrics;
pub use rustls::server::ResolvesServerCert;
pub use serve::Listeners;

use crate::pool::Pool;
use crate::snapshot::Snapshot;

#[derive(Debug, Clone)]
pub struct RouterSettings {
    /// The router's public port, for `X-Forwarded-Port`.
    pub public_port: u16,
    /// The TLS listener's public port, for `X-Forwarded-Port` on requests that came
    /// over TLS.
    pub tls_public_port: u16,
    pub connect_timeout: Duration,
    /// Time to the first response byte before answering 503 (Heroku's H12).
    pub first_byte_timeout: Duration,
    /// Time a client has to send its request head; slower ones are disconnected.
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) a client may send; larger ones
    /// are answered 431. hyper's floor is 8 KiB.
    pub max_head_bytes: usize,
    /// Client connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Idle pooled connections to dynos are closed after this long.
    pub pool_idle_timeout: Duration,
    /// Idle connections kept per dyno by each router thread; more are closed when their
    /// request ends (the bench's nginx keeps 128 per worker).
    pub pool_max_idle_per_dyno: usize,
    /// On shutdown, how long in-flight requests get to finish.
    pub drain_timeout: Duration,
}

impl Default for RouterSettings {
    fn default() -> Self {
        Self {
            public_port: 8080,
            tls_public_port: 8443,
            connect_timeout: Duration::from_secs(5),
            first_byte_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 64 * 1024,
            max_connections: 10_000,
            pool_idle_timeout: Duration::from_secs(30),
            pool_max_idle_per_dyno: 128,
            drain_timeout: Duration::from_secs(25),
        }
    }
}

/// The router. One per runtime: [`Router::serve`] runs it on the current one;
/// [`Router::serve_per_core`] runs one per thread, each on its own single-threaded
/// runtime with its own pool of dyno connections (no wake-ups across threads on the
/// request path, the way nginx workers run), all sharing the route snapshot, the log
/// sink and the metrics.
pub struct Router {
    shared: Arc<Shared>,
    /// This router's (this thread's) connections to dynos.
    pool: Arc<Pool>,
    /// Connections and spliced upgrades, waited for on shutdown.
    tasks: TaskTracker,
}

/// What every thread's router shares.
struct Shared {
    routes: watch::Receiver<Arc<RouteTable>>,
    snapshot: ArcSwap<Snapshot>,
    settings: RouterSettings,
    sink: Arc<dyn RequestLogSink>,
    metrics: Arc<Metrics>,
    /// Cancelled when the drain deadline passes: cuts what is still open.
    hard_stop: CancellationToken,
    /// ACME HTTP-01: token → key authorization, answered on the plain listener.
    challenges: Option<Arc<ChallengeFn>>,
}

/// Looks up an ACME HTTP-01 token (the last path segment) → its key authorization.
pub type ChallengeFn = dyn Fn(&str) -> Option<String> + Send + Sync;

/// How one client connection reached the router.
#[derive(Debug, Clone, Copy)]
pub struct Conn {
    pub peer: SocketAddr,
    pub tls: bool,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router")
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl Router {
    /// A router reading route tables from `routes` (the supervisor's channel); request
    /// lines go to paasd's log only until [`Router::with_log_sink`].
    pub fn new(routes: watch::Receiver<Arc<RouteTable>>, settings: RouterSettings) -> Self {
        let metrics = Arc::new(Metrics::default());
        let snapshot = Snapshot::build(&routes.borrow(), &Snapshot::default(), &metrics);
        let shared = Shared {
            routes,
            snapshot: ArcSwap::from_pointee(snapshot),
            settings,
            sink: Arc::new(NoSink),
            metrics,
            hard_stop: CancellationToken::new(),
            challenges: None,
        };
        Self::sharing(Arc::new(shared))
    }

    /// Another router with its own connection pool and tasks, sharing `shared`.
    fn sharing(shared: Arc<Shared>) -> Self {
        let settings = &shared.settings;
        let pool = Pool::new(
            &shared.routes.borrow(),
            settings.connect_timeout,
            settings.pool_idle_timeout,
            settings.pool_max_idle_per_dyno,
        );
        Self {
            pool: Arc::new(pool),
            shared,
            tasks: TaskTracker::new(),
        }
    }

    /// Request lines also go to `sink` (the app's log stream). Call before serving.
    pub fn with_log_sink(mut self, sink: impl RequestLogSink) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.sink = Arc::new(sink);
        }
        self
    }

    /// Answers ACME HTTP-01 challenges on the plain listener with `lookup` (token →
    /// key authorization) before any app routing. Call before serving.
    pub fn with_acme_challenges(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.challenges = Some(Arc::new(lookup));
        }
        self
    }

    /// Per-app request counters and latency histograms; `metrics().render()` is the
    /// Prometheus text for `GET /metrics`.
    pub fn metrics(&self) -> Arc<Metrics> {
        self.shared.metrics.clone()
    }
}
