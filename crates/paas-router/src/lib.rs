//! The router: every visitor of every app goes through here.
//!
//! A hyper HTTP/1 server in front of a pooled hyper-util client. Per request, in order
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
//! any app is looked up ([`Router::with_acme_challenges`]).
//!
//! Shutdown: the accept loop stops, every connection finishes its in-flight request and
//! closes (idle keep-alive connections at once), bounded by `drain_timeout`, after which
//! whatever is left (slow bodies, WebSockets) is cut.

/// Serves a hyper connection until it ends; on `shutdown`, lets it finish the request
/// in flight (an idle keep-alive connection closes at once) until `hard_stop`.
macro_rules! serve_until_drained {
    ($conn:ident, $shutdown:ident, $hard_stop:ident) => {
        tokio::pin!($conn);
        tokio::select! {
            _ = $conn.as_mut() => return,
            _ = $shutdown.cancelled() => {}
        }
        $conn.as_mut().graceful_shutdown();
        tokio::select! {
            _ = $conn => {}
            _ = $hard_stop.cancelled() => {}
        }
    };
}

mod balance;
mod body;
mod connect;
mod headers;
mod log;
mod metrics;
mod snapshot;

use std::convert::Infallible;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use paas_core::routes::RouteTable;
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use body::ResponseBody as Body;
pub use log::{NoSink, RequestLog, RequestLogSink};
pub use metrics::Metrics;
pub use rustls::server::ResolvesServerCert;

use crate::balance::Outstanding;
use crate::body::{BodySource, Finish, RequestBody, ResponseBody};
use crate::connect::{ConnectTiming, TimedConnector};
use crate::log::{Ctx, H12, H13, H14, H19, H21, H80, H99, Protocol, RouterError};
use crate::metrics::AppMetrics;
use crate::snapshot::{App, Snapshot};

/// At most this many dynos are tried for one request.
const MAX_ATTEMPTS: usize = 3;

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
    client: Client<TimedConnector, RequestBody>,
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

/// What the router listens on: plain HTTP, and optionally TLS.
pub struct Listeners {
    pub http: TcpListener,
    https: Option<(TcpListener, TlsAcceptor)>,
}

impl From<TcpListener> for Listeners {
    fn from(http: TcpListener) -> Self {
        Self { http, https: None }
    }
}

impl Listeners {
    /// Also serve TLS on `listener`, the certificate chosen by `certs` per handshake
    /// (by SNI), TLS 1.2/1.3, ALPN `h2` then `http/1.1`.
    pub fn with_https(
        mut self,
        listener: TcpListener,
        certs: Arc<dyn ResolvesServerCert>,
    ) -> Result<Self, rustls::Error> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        self.https = Some((listener, TlsAcceptor::from(Arc::new(config))));
        Ok(self)
    }
}

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
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(shared.settings.pool_idle_timeout)
            .pool_timer(TokioTimer::new())
            .build(TimedConnector::new(shared.settings.connect_timeout));
        Self {
            shared,
            client,
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

    /// Serves until `shutdown`, then drains (see the module doc) and returns.
    pub async fn serve(
        self: Arc<Self>,
        listeners: impl Into<Listeners>,
        shutdown: CancellationToken,
    ) {
        self.tasks
            .spawn(follow_routes(self.shared.clone(), shutdown.clone()));
        let slots = self.shared.settings.max_connections;
        self.accept_and_drain(listeners.into(), slots, shutdown)
            .await;
        tracing::info!("router stopped");
    }

    /// Serves on `threads` threads, each running its own router on a single-threaded
    /// runtime; this task accepts and hands each connection to the thread with the
    /// fewest open ones. Returns when all have drained (see the module doc).
    pub async fn serve_per_core(
        self,
        listeners: impl Into<Listeners>,
        threads: usize,
        shutdown: CancellationToken,
    ) -> std::io::Result<()> {
        let threads = threads.max(1);
        let follower = tokio::spawn(follow_routes(self.shared.clone(), shutdown.clone()));
        let mut workers = Vec::new();
        let mut done = Vec::new();
        for i in 0..threads {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let router = Arc::new(Router::sharing(self.shared.clone()));
            let (tx, mut rx) = mpsc::unbounded_channel::<Handoff>();
            let open = Arc::new(AtomicUsize::new(0));
            workers.push((tx, open.clone()));
            let shutdown = shutdown.clone();
            let (finished, finished_rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("router-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        while let Some((stream, peer, permit, tls)) = rx.recv().await {
                            let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
                                continue;
                            };
                            let (router2, shutdown, open) =
                                (router.clone(), shutdown.clone(), open.clone());
                            router.tasks.spawn(async move {
                                let _permit = permit;
                                router2.serve_connection(stream, peer, tls, shutdown).await;
                                open.fetch_sub(1, Ordering::Relaxed);
                            });
                        }
                        router.drain().await;
                    });
                    let _ = finished.send(());
                })?;
            done.push(finished_rx);
        }
        let slots = Arc::new(Semaphore::new(self.shared.settings.max_connections));
        let listeners = listeners.into();
        while let Some((stream, peer, permit, tls)) = accept(&listeners, &slots, &shutdown).await {
            let Ok(stream) = stream.into_std() else {
                continue;
            };
            let least = workers
                .iter()
                .min_by_key(|(_, open)| open.load(Ordering::Relaxed));
            if let Some((tx, open)) = least {
                open.fetch_add(1, Ordering::Relaxed);
                let _ = tx.send((stream, peer, permit, tls));
            }
        }
        drop(listeners);
        drop(workers);
        for finished in done {
            let _ = finished.await;
        }
        let _ = follower.await;
        tracing::info!(threads, "router stopped");
        Ok(())
    }

    async fn accept_and_drain(
        self: Arc<Self>,
        listeners: Listeners,
        slots: usize,
        shutdown: CancellationToken,
    ) {
        let slots = Arc::new(Semaphore::new(slots));
        while let Some((stream, peer, permit, tls)) = accept(&listeners, &slots, &shutdown).await {
            let router = self.clone();
            let shutdown = shutdown.clone();
            self.tasks.spawn(async move {
                let _permit = permit;
                router.serve_connection(stream, peer, tls, shutdown).await;
            });
        }
        drop(listeners);
        self.drain().await;
    }

    /// Waits for this router's connections to finish, up to the drain deadline, then
    /// cuts what is left.
    async fn drain(&self) {
        self.tasks.close();
        tracing::info!(
            connections = self.tasks.len(),
            "router draining in-flight requests"
        );
        if tokio::time::timeout(self.shared.settings.drain_timeout, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                left = self.tasks.len(),
                "router drain deadline passed: closing what is still open"
            );
            self.shared.hard_stop.cancel();
            self.tasks.wait().await;
        }
    }

    /// Serves one client connection: plain HTTP/1.1, or TLS (handshake first, bounded
    /// by the header read timeout) with HTTP/2 when the client chose `h2` by ALPN.
    async fn serve_connection(
        self: Arc<Self>,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        tls: Option<TlsAcceptor>,
        shutdown: CancellationToken,
    ) {
        let _ = stream.set_nodelay(true);
        let Some(acceptor) = tls else {
            let conn = Conn { peer, tls: false };
            return self.serve_http1(TokioIo::new(stream), conn, shutdown).await;
        };
        let timeout = self.shared.settings.header_read_timeout;
        let handshake = tokio::select! {
            handshake = tokio::time::timeout(timeout, acceptor.accept(stream)) => handshake,
            () = shutdown.cancelled() => return,
        };
        let stream = match handshake {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => return,
        };
        let conn = Conn { peer, tls: true };
        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
            self.serve_http2(TokioIo::new(stream), conn, shutdown).await;
        } else {
            self.serve_http1(TokioIo::new(stream), conn, shutdown).await;
        }
    }

    async fn serve_http1<I>(self: Arc<Self>, io: I, conn: Conn, shutdown: CancellationToken)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(self.shared.settings.header_read_timeout)
            .max_buf_size(self.shared.settings.max_head_bytes.max(8192));
        let hard_stop = self.shared.hard_stop.clone();
        let service = hyper::service::service_fn(move |req| {
            let router = self.clone();
            async move { Ok::<_, Infallible>(router.handle(req, conn).await) }
        });
        let connection = builder.serve_connection(io, service).with_upgrades();
        serve_until_drained!(connection, shutdown, hard_stop);
    }

    async fn serve_http2<I>(self: Arc<Self>, io: I, conn: Conn, shutdown: CancellationToken)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder.timer(TokioTimer::new()).max_header_list_size(
            u32::try_from(self.shared.settings.max_head_bytes).unwrap_or(u32::MAX),
        );
        let hard_stop = self.shared.hard_stop.clone();
        let service = hyper::service::service_fn(move |req| {
            let router = self.clone();
            async move { Ok::<_, Infallible>(router.handle(req, conn).await) }
        });
        let connection = builder.serve_connection(io, service);
        serve_until_drained!(connection, shutdown, hard_stop);
    }

    /// One request through the phases; the response's body runs `log_request` at its end.
    pub async fn handle(&self, req: Request<Incoming>, conn: Conn) -> Response<Body> {
        let started = Instant::now();
        let protocol = match (conn.tls, req.version()) {
            (false, _) => Protocol::Http,
            (true, hyper::Version::HTTP_2) => Protocol::Http2,
            (true, _) => Protocol::Https,
        };
        let mut ctx = Ctx {
            method: req.method().clone(),
            path: req
                .uri()
                .path_and_query()
                .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
            host: req
                .headers()
                .get(HOST)
                .and_then(|h| h.to_str().ok())
                .or_else(|| req.uri().authority().map(|a| a.as_str()))
                .unwrap_or_default()
                .to_owned(),
            request_id: headers::request_id(req.headers()),
            fwd: headers::forwarded_for(req.headers(), conn.peer.ip()),
            protocol,
            dyno: None,
            connect: Duration::ZERO,
            error: None,
        };
        // ACME HTTP-01, on the plain listener, before any app is looked up.
        if !conn.tls
            && let Some(token) = ctx.path.strip_prefix(ACME_CHALLENGE_PATH)
            && let Some(answer) = self.shared.challenges.as_ref().and_then(|f| f(token))
        {
            let finish = self.finisher(ctx, started, None, None, 200);
            let mut response = Response::new(ResponseBody::page(Bytes::from(answer), finish));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            return response;
        }
        // match_route
        let app = self.shared.snapshot.load().lookup(&ctx.host).cloned();
        let Some(app) = app else {
            let finish = self.finisher(ctx, started, None, None, 404);
            return page(
                StatusCode::NOT_FOUND,
                "No such app",
                "There is no app at this address.",
                finish,
            );
        };
        if app.maintenance {
            ctx.error = Some(H80);
            let finish = self.finisher(ctx, started, Some(app), None, 503);
            return page(
                StatusCode::SERVICE_UNAVAILABLE,
                "Offline for maintenance",
                "This app is undergoing maintenance right now. Please check back later.",
                finish,
            );
        }
        match self.proxy(req, &app, &mut ctx).await {
            Ok((response, outstanding)) => {
                let status = response.status().as_u16();
                let (mut parts, body) = response.into_parts();
                if status != 101 {
                    headers::strip_hop_by_hop(&mut parts.headers, false);
                }
                headers::append_via(&mut parts.headers);
                let finish = self.finisher(ctx, started, Some(app), Some(outstanding), status);
                Response::from_parts(parts, ResponseBody::upstream(body, finish))
            }
            Err(error) => {
                ctx.error = Some(error);
                let text = format!(
                    "The app could not answer this request ({}: {}). Request id: {}",
                    error.code, error.desc, ctx.request_id
                );
                let finish = self.finisher(ctx, started, Some(app), None, 503);
                page(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Application error",
                    &text,
                    finish,
                )
            }
        }
    }

    /// pick_backend → forward → on_error, until a dyno answers or no retry is left.
    async fn proxy(
        &self,
        mut req: Request<Incoming>,
        app: &App,
        ctx: &mut Ctx,
    ) -> Result<(Response<Incoming>, Outstanding), RouterError> {
        if app.backends.is_empty() {
            return Err(H14);
        }
        let upgrade = headers::wants_upgrade(req.headers());
        let mut client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut req));
        let (parts, body) = req.into_parts();
        let source = BodySource::new(body);
        let resendable = source.is_empty() && !upgrade && headers::is_idempotent(&parts.method);
        let mut tried = [SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)); MAX_ATTEMPTS];
        let mut attempts = 0;
        loop {
            // pick_backend
            let Some(backend) = balance::pick(&app.backends, &tried[..attempts]) else {
                return Err(H14);
            };
            tried[attempts] = backend.addr();
            attempts += 1;
            ctx.dyno = Some(backend.backend.dyno.clone());
            // forward
            let request = headers::upstream_request(
                &parts,
                source.body(),
                backend,
                ctx,
                if ctx.protocol == Protocol::Http {
                    self.shared.settings.public_port
                } else {
                    self.shared.settings.tls_public_port
                },
            )
            .map_err(|e| {
                tracing::warn!(error = %e, "could not build the upstream request");
                H99
            })?;
            let outstanding = backend.start();
            let sent = Instant::now();
            let result = tokio::time::timeout(
                self.shared.settings.first_byte_timeout,
                self.client.request(request),
            )
            .await;
            let error = match result {
                Ok(Ok(mut response)) => {
                    ctx.connect = response
                        .extensions()
                        .get::<ConnectTiming>()
                        .map_or(Duration::ZERO, ConnectTiming::take);
                    if response.status() == StatusCode::SWITCHING_PROTOCOLS
                        && let Some(client) = client_upgrade.take()
                    {
                        self.splice(client, hyper::upgrade::on(&mut response));
                    }
                    return Ok((response, outstanding));
                }
                Ok(Err(e)) => e,
                Err(_) => {
                    ctx.connect = sent.elapsed();
                    return Err(H12);
                }
            };
            // on_error
            ctx.connect = sent.elapsed();
            let (code, retry) = if error.is_connect() {
                backend.mark_down();
                let code = if sent.elapsed() >= self.shared.settings.connect_timeout {
                    H19
                } else {
                    H21
                };
                (code, source.untouched())
            } else {
                (H13, resendable)
            };
            let retry = retry && attempts < MAX_ATTEMPTS.min(app.backends.len());
            tracing::warn!(
                target: "router",
                app = %app.name,
                dyno = %backend.backend.dyno,
                code = code.code,
                retry,
                error = %error_chain(&error),
                "dyno failed the request"
            );
            if !retry {
                return Err(code);
            }
        }
    }

    /// Copies bytes both ways between an upgraded client and dyno connection (WebSocket).
    fn splice(&self, client: hyper::upgrade::OnUpgrade, dyno: hyper::upgrade::OnUpgrade) {
        let hard_stop = self.shared.hard_stop.clone();
        self.tasks.spawn(async move {
            let (client, dyno) = match tokio::try_join!(client, dyno) {
                Ok(pair) => pair,
                Err(e) => {
                    tracing::debug!(error = %e, "upgrade did not complete");
                    return;
                }
            };
            let (mut client, mut dyno) = (TokioIo::new(client), TokioIo::new(dyno));
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut client, &mut dyno) => {}
                _ = hard_stop.cancelled() => {}
            }
        });
    }

    fn finisher(
        &self,
        ctx: Ctx,
        started: Instant,
        app: Option<Arc<App>>,
        outstanding: Option<Outstanding>,
        status: u16,
    ) -> Box<dyn Finish> {
        Box::new(LogRequest {
            ctx,
            started,
            status,
            app: app.map(|a| (a.name.clone(), a.metrics.clone())),
            outstanding,
            sink: self.shared.sink.clone(),
            metrics: self.shared.metrics.clone(),
        })
    }
}

/// Where ACME HTTP-01 challenges are fetched (RFC 8555 §8.3).
const ACME_CHALLENGE_PATH: &str = "/.well-known/acme-challenge/";

/// A connection handed to a router thread, with its connection slot and, when it came
/// in on the TLS listener, the acceptor for its handshake.
type Handoff = (
    std::net::TcpStream,
    SocketAddr,
    OwnedSemaphorePermit,
    Option<TlsAcceptor>,
);

/// The next connection on either listener, once a connection slot is free; `None` on
/// shutdown.
async fn accept(
    listeners: &Listeners,
    slots: &Arc<Semaphore>,
    shutdown: &CancellationToken,
) -> Option<(
    tokio::net::TcpStream,
    SocketAddr,
    OwnedSemaphorePermit,
    Option<TlsAcceptor>,
)> {
    loop {
        let permit = tokio::select! {
            _ = shutdown.cancelled() => return None,
            permit = slots.clone().acquire_owned() => permit.ok()?,
        };
        let https = async {
            match &listeners.https {
                Some((listener, acceptor)) => (listener.accept().await, Some(acceptor.clone())),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = shutdown.cancelled() => return None,
            accepted = listeners.http.accept() => match accepted {
                Ok((stream, peer)) => return Some((stream, peer, permit, None)),
                Err(e) => {
                    // Out of file descriptors and the like: back off, don't spin.
                    tracing::warn!(error = %e, "router accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            (accepted, acceptor) = https => match accepted {
                Ok((stream, peer)) => return Some((stream, peer, permit, acceptor)),
                Err(e) => {
                    // Out of file descriptors and the like: back off, don't spin.
                    tracing::warn!(error = %e, "router accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Keeps the snapshot in step with the supervisor's table.
async fn follow_routes(shared: Arc<Shared>, shutdown: CancellationToken) {
    let mut routes = shared.routes.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = routes.changed() => if changed.is_err() { return },
        }
        let table = routes.borrow_and_update().clone();
        let next = Snapshot::build(&table, &shared.snapshot.load(), &shared.metrics);
        tracing::debug!(
            hosts = next.host_count(),
            dynos = next.backend_count(),
            "router table updated"
        );
        shared.snapshot.store(Arc::new(next));
    }
}

/// The last phase's state: everything the request line needs.
struct LogRequest {
    ctx: Ctx,
    started: Instant,
    status: u16,
    app: Option<(String, Arc<AppMetrics>)>,
    outstanding: Option<Outstanding>,
    sink: Arc<dyn RequestLogSink>,
    metrics: Arc<Metrics>,
}

impl Finish for LogRequest {
    /// log_request
    fn finish(self: Box<Self>, bytes: u64, interrupted: Option<RouterError>) {
        let LogRequest {
            mut ctx,
            started,
            status,
            app,
            outstanding,
            sink,
            metrics,
        } = *self;
        drop(outstanding);
        let took = started.elapsed();
        if ctx.error.is_none() {
            ctx.error = interrupted;
        }
        match &app {
            Some((_, app_metrics)) => app_metrics.record(status, took),
            None => metrics.record_unmatched(),
        }
        let to_sink = app.is_some() && sink.enabled();
        let traced =
            ctx.error.is_some() || tracing::enabled!(target: "router", tracing::Level::INFO);
        if !(to_sink || traced) {
            return; // nobody reads the line: don't format it
        }
        let line = log::line(&ctx, took.saturating_sub(ctx.connect), status, bytes);
        let app_name = app.as_ref().map_or("", |(name, _)| name.as_str());
        if ctx.error.is_some() {
            tracing::warn!(target: "router", app = app_name, "{line}");
        } else {
            tracing::info!(target: "router", app = app_name, "{line}");
        }
        if let Some((app, _)) = app.filter(|_| to_sink) {
            sink.send(RequestLog { app, status, line });
        }
    }
}

fn page(status: StatusCode, title: &str, text: &str, finish: Box<dyn Finish>) -> Response<Body> {
    let html = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{}</p></body></html>\n",
        escape_html(text)
    );
    let mut response = Response::new(ResponseBody::page(Bytes::from(html), finish));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        hyper::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    response
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
