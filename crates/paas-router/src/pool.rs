//! Keep-alive HTTP/1.1 connections to dynos, built directly on hyper's
//! `client::conn::http1` (a handshake gives a `SendRequest`; its `Connection` runs as a
//! task of its own).
//!
//! One [`Pool`] per [`Router`](crate::Router), so with `Router::serve_per_core` one per
//! thread: a thread only ever reuses connections it opened, the lock around the idle
//! lists is never contended, and no request wakes another thread. This replaced
//! hyper-util's legacy client, whose pool (checkout futures, waiter channels, a key of
//! scheme and authority hashed per request) cost more user CPU per request than the rest
//! of the proxying (bench/router/README.md).
//!
//! What the pool keeps of the legacy client's behaviour:
//!
//! - A request handed to a reused connection that turns out to be closed (the dyno
//!   closed it while it sat idle) and that hyper gives back unsent goes out again, on
//!   the next idle connection or a new one; a request that failed on a fresh connection
//!   is the caller's to handle (`Router::proxy`'s on_error).
//! - A connection goes back to its idle list once it can take the next request: at once
//!   when the response has been read whole with its head, else when hyper says it is
//!   ready again (after the body), from a small task; an upgraded (`101`) connection
//!   never does.
//! - Idle connections are taken most recently used first and closed after
//!   `pool_idle_timeout` (give or take the second of [`Pool::maintain`]'s tick).
//!
//! And what it adds: at most `pool_max_idle_per_dyno` idle connections per dyno (the
//! legacy pool had no bound), and idle lists only for the dynos of the current route
//! table: [`Pool::maintain`] drops those of dynos that left it (and expired connections)
//! as the table changes; a connection to a dyno no longer in the table is closed when its
//! request ends instead of being kept.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use paas_core::routes::RouteTable;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::body::RequestBody;

/// Why a dyno did not answer a request.
#[derive(Debug)]
pub enum UpstreamError {
    /// No connection could be opened (refused, or not within the connect timeout):
    /// nothing of the request was sent.
    Connect(io::Error),
    /// The connection failed after the request was handed to it.
    Request(hyper::Error),
}

impl std::fmt::Display for UpstreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            UpstreamError::Connect(_) => f.write_str("could not connect to the dyno"),
            UpstreamError::Request(_) => f.write_str("the dyno connection failed"),
        }
    }
}

impl std::error::Error for UpstreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UpstreamError::Connect(e) => Some(e),
            UpstreamError::Request(e) => Some(e),
        }
    }
}

/// One router's connections to dynos; see the module doc.
#[derive(Debug)]
pub struct Pool {
    /// Idle connections per dyno address, most recently used last. Its keys are the
    /// dynos of the current route table ([`Pool::retain_table`]).
    idle: Mutex<HashMap<SocketAddr, Vec<Idle>>>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_idle: usize,
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<RequestBody>,
    since: Instant,
}

impl Pool {
    pub fn new(
        table: &RouteTable,
        connect_timeout: Duration,
        idle_timeout: Duration,
        max_idle: usize,
    ) -> Self {
        let pool = Self {
            idle: Mutex::new(HashMap::new()),
            connect_timeout,
            idle_timeout,
            max_idle,
        };
        pool.retain_table(table);
        pool
    }

    /// Sends `request` to the dyno at `addr` on an idle connection or a new one; returns
    /// the response head and the time spent opening a connection for it (zero on a
    /// reused one).
    pub async fn send(
        self: &Arc<Self>,
        addr: SocketAddr,
        mut request: Request<RequestBody>,
    ) -> Result<(Response<Incoming>, Duration), UpstreamError> {
        loop {
            let (mut sender, connect) = match self.checkout(addr) {
                Some(sender) => (sender, None),
                None => {
                    let started = Instant::now();
                    let sender = self.connect(addr).await?;
                    (sender, Some(started.elapsed()))
                }
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
                        self.check_in(addr, sender);
                    }
                    return Ok((response, connect.unwrap_or(Duration::ZERO)));
                }
                Err(mut e) => match e.take_message() {
                    // A reused connection that was closed before the request went out.
                    Some(unsent) if connect.is_none() => request = unsent,
                    _ => return Err(UpstreamError::Request(e.into_error())),
                },
            }
        }
    }

    /// The most recently used idle connection to `addr` that can take a request.
    fn checkout(&self, addr: SocketAddr) -> Option<SendRequest<RequestBody>> {
        let mut idle = self.lock();
        let list = idle.get_mut(&addr)?;
        while let Some(entry) = list.pop() {
            if entry.sender.is_ready() {
                return Some(entry.sender);
            }
            // Closed by the dyno while idle: dropped.
        }
        None
    }

    async fn connect(&self, addr: SocketAddr) -> Result<SendRequest<RequestBody>, UpstreamError> {
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| {
                UpstreamError::Connect(io::Error::new(io::ErrorKind::TimedOut, "connect timed out"))
            })?
            .map_err(UpstreamError::Connect)?;
        // Heads go out as soon as they are written, as the legacy client's connector did.
        let _ = stream.set_nodelay(true);
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(UpstreamError::Request)?;
        tokio::spawn(async move {
            if let Err(e) = connection.with_upgrades().await {
                tracing::debug!(error = %e, "dyno connection failed");
            }
        });
        Ok(sender)
    }

    /// Puts `sender` back once it can take the next request (see the module doc).
    fn check_in(self: &Arc<Self>, addr: SocketAddr, mut sender: SendRequest<RequestBody>) {
        if sender.is_ready() {
            self.put(addr, sender);
        } else if !sender.is_closed() {
            // The body is still on its way: the connection is free after it.
            let pool = Arc::downgrade(self);
            tokio::spawn(async move {
                if sender.ready().await.is_ok()
                    && let Some(pool) = Weak::upgrade(&pool)
                {
                    pool.put(addr, sender);
                }
            });
        }
    }

    fn put(&self, addr: SocketAddr, sender: SendRequest<RequestBody>) {
        let mut idle = self.lock();
        // A dyno that left the table keeps no connections.
        if let Some(list) = idle.get_mut(&addr)
            && list.len() < self.max_idle
        {
            list.push(Idle {
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Keeps idle lists for exactly the dynos of `table`: those of dynos that left are
    /// dropped (closing their connections), dynos that joined get an empty one; expired
    /// and closed connections go too.
    fn retain_table(&self, table: &RouteTable) {
        let mut live: HashMap<SocketAddr, Vec<Idle>> = HashMap::new();
        for (_, routes) in table.apps() {
            for backend in &routes.backends {
                live.entry(backend.addr).or_default();
            }
        }
        let mut idle = self.lock();
        for (addr, list) in idle.drain() {
            if let Entry::Occupied(mut kept) = live.entry(addr) {
                *kept.get_mut() = list;
            }
        }
        *idle = live;
        drop(idle);
        self.expire();
    }

    /// Closes connections idle for longer than the idle timeout, and drops closed ones.
    fn expire(&self) {
        for list in self.lock().values_mut() {
            list.retain(|e| e.since.elapsed() < self.idle_timeout && e.sender.is_ready());
        }
    }

    /// Follows the route table and closes idle connections past the idle timeout (checked
    /// every second, so at most a second late) until `shutdown`; one task per pool, on
    /// the pool's thread.
    ///
    /// The one-second tick also keeps the thread's timer wheel from ever being empty:
    /// tokio wakes its driver (an eventfd write) whenever a new timer is due before the
    /// earliest one it is parked for, which without a timer due within the second was
    /// most requests' head-read and first-byte timers.
    pub async fn maintain(
        self: Arc<Self>,
        mut routes: watch::Receiver<Arc<RouteTable>>,
        shutdown: CancellationToken,
    ) {
        let mut expiry = tokio::time::interval(Duration::from_secs(1));
        expiry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut following = true;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => return,
                // The table's sender gone: the last table stands; expiry goes on.
                changed = routes.changed(), if following => {
                    following = changed.is_ok();
                    let table = routes.borrow_and_update().clone();
                    self.retain_table(&table);
                }
                _ = expiry.tick() => self.expire(),
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<SocketAddr, Vec<Idle>>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    #[cfg(test)]
    fn idle_count(&self, addr: SocketAddr) -> Option<usize> {
        self.lock().get(&addr).map(Vec::len)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a panic in a test is a failed test")]

    use std::sync::atomic::{AtomicUsize, Ordering};

    use paas_core::routes::{AppRoutes, Backend};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    fn table(addrs: &[SocketAddr]) -> RouteTable {
        let mut t = RouteTable::default();
        t.insert(
            "demo.localhost",
            AppRoutes {
                maintenance: false,
                app: "demo".into(),
                backends: addrs
                    .iter()
                    .enumerate()
                    .map(|(i, addr)| Backend {
                        dyno: format!("web.{}", i + 1),
                        addr: *addr,
                        version: 1,
                    })
                    .collect(),
            },
        );
        t
    }

    fn pool(addrs: &[SocketAddr], max_idle: usize) -> Arc<Pool> {
        Arc::new(Pool::new(
            &table(addrs),
            Duration::from_secs(1),
            Duration::from_secs(30),
            max_idle,
        ))
    }

    fn get() -> Request<RequestBody> {
        Request::builder()
            .uri("/")
            .header("host", "demo.localhost")
            .body(RequestBody::Empty)
            .unwrap()
    }

    /// A dyno that answers `ok` after `delay` to every request on a connection, and
    /// closes each connection after `per_connection` answers (without saying so, as a
    /// dyno's keep-alive timeout does). Counts the connections it accepted.
    async fn dyno(per_connection: usize, delay: Duration) -> (SocketAddr, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    for _ in 0..per_connection {
                        let mut head = Vec::new();
                        while !head.ends_with(b"\r\n\r\n") {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        tokio::time::sleep(delay).await;
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    async fn ok(pool: &Arc<Pool>, addr: SocketAddr) -> Duration {
        let (response, connect) = pool.send(addr, get()).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        assert_eq!(body.unwrap().to_bytes(), "ok");
        connect
    }

    #[tokio::test]
    async fn sequential_requests_reuse_one_connection() {
        let (addr, accepted) = dyno(usize::MAX, Duration::ZERO).await;
        let pool = pool(&[addr], 8);
        for _ in 0..20 {
            ok(&pool, addr).await;
            tokio::task::yield_now().await;
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 1);
        assert_eq!(pool.idle_count(addr), Some(1));
    }

    #[tokio::test]
    async fn a_connection_the_dyno_closed_while_idle_fails_no_request() {
        // One answer per connection: every pooled connection is dead when reused.
        let (addr, accepted) = dyno(1, Duration::ZERO).await;
        let pool = pool(&[addr], 8);
        for _ in 0..20 {
            ok(&pool, addr).await;
            tokio::time::sleep(Duration::from_millis(2)).await; // idle a while
        }
        assert_eq!(accepted.load(Ordering::Relaxed), 20);
    }

    #[tokio::test]
    async fn idle_connections_per_dyno_are_bounded() {
        let (addr, accepted) = dyno(usize::MAX, Duration::from_millis(50)).await;
        let pool = pool(&[addr], 2);
        let concurrent = futures::future::join_all((0..5).map(|_| ok(&pool, addr))).await;
        assert_eq!(accepted.load(Ordering::Relaxed), 5);
        assert!(
            concurrent.iter().all(|c| *c > Duration::ZERO),
            "each opened one"
        );
        assert_eq!(pool.idle_count(addr), Some(2));
        assert_eq!(
            ok(&pool, addr).await,
            Duration::ZERO,
            "and a kept one is reused"
        );
    }

    #[tokio::test]
    async fn dynos_that_leave_the_table_keep_no_connections() {
        let (a, _) = dyno(usize::MAX, Duration::ZERO).await;
        let (b, b_accepted) = dyno(usize::MAX, Duration::ZERO).await;
        let pool = pool(&[a, b], 8);
        ok(&pool, a).await;
        ok(&pool, b).await;
        assert_eq!((pool.idle_count(a), pool.idle_count(b)), (Some(1), Some(1)));
        pool.retain_table(&table(&[a]));
        assert_eq!((pool.idle_count(a), pool.idle_count(b)), (Some(1), None));
        // A request still in flight to b when it left: its connection is not kept.
        ok(&pool, b).await;
        assert_eq!(pool.idle_count(b), None);
        assert_eq!(b_accepted.load(Ordering::Relaxed), 2);
    }
}
