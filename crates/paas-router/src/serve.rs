//! Listening: the accept loops (one runtime, or one per core), each connection's
//! TLS handshake and HTTP/1.1 or HTTP/2, following the route table, and draining on
//! shutdown.

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

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::snapshot::Snapshot;
use crate::{Conn, ResolvesServerCert, Router, Shared};

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
        // `acme-tls/1` last: only an ACME CA validating TLS-ALPN-01 (RFC 8737) offers
        // it, and then alone; the resolver answers it with the challenge certificate.
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
        self.https = Some((listener, TlsAcceptor::from(Arc::new(config))));
        Ok(self)
    }
}

impl Router {
    /// Serves until `shutdown`, then drains (see the module doc) and returns.
    pub async fn serve(
        self: Arc<Self>,
        listeners: impl Into<Listeners>,
        shutdown: CancellationToken,
    ) {
        self.tasks
            .spawn(follow_routes(self.shared.clone(), shutdown.clone()));
        self.tasks.spawn(
            self.pool
                .clone()
                .maintain(self.shared.routes.clone(), shutdown.clone()),
        );
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
            // A token of the thread's own: every poll of a connection checks it, and a
            // token shared by all threads is one lock all of them take on every poll.
            let shutdown = shutdown.child_token();
            let (finished, finished_rx) = tokio::sync::oneshot::channel::<()>();
            std::thread::Builder::new()
                .name(format!("router-{i}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        router.tasks.spawn(
                            router
                                .pool
                                .clone()
                                .maintain(router.shared.routes.clone(), shutdown.clone()),
                        );
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
        let alpn = stream.get_ref().1.alpn_protocol();
        if alpn == Some(ACME_TLS_ALPN) {
            // RFC 8737 §3: the handshake was the answer; no application data follows.
            let mut stream = stream;
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut stream).await;
            return;
        }
        if alpn == Some(b"h2") {
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
}

/// The ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC 8737 §6.2).
const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

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
