//! The router in front of real HTTP servers on loopback (stand-ins for web dynos).
//! Every load here is bounded in count and time.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

mod failures;
mod routing;
mod serving;
mod streaming;
mod tls;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::body::Frame;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_router::{RequestLog, Router, RouterSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

type TestBody = BoxBody<Bytes, hyper::Error>;

/// Opens a WebSocket to `url` over `stream` (plain or TLS) and checks that `rounds`
/// messages (`hello <i> <label>`) come back as they were sent, then closes it.
async fn ws_echoes<S>(stream: S, url: &str, rounds: usize, label: &str)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (mut socket, response) = tokio_tungstenite::client_async(url, stream).await.unwrap();
    assert_eq!(response.status(), 101);
    for i in 0..rounds {
        let text = format!("hello {i} {label}");
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(text.clone()))
            .await
            .unwrap();
        let echoed = socket.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    socket.close(None).await.unwrap();
}

/// A dyno stand-in on a loopback port. Paths:
/// - `/` answers `{"dyno": name, "headers": {…}}`
/// - `/echo` streams the request body back as it arrives
/// - `/slow?ms=N` answers `ok` after N ms
/// - `/big?bytes=N` streams N bytes of `b'x'`
/// - an `Upgrade` request is switched and then echoed byte for byte.
///
/// `kill` closes the listener and cuts every open connection, like a dyno that died.
struct Dyno {
    addr: SocketAddr,
    served: Arc<AtomicUsize>,
    kill: CancellationToken,
}

async fn dyno(name: &'static str) -> Dyno {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let kill = CancellationToken::new();
    let served = Arc::new(AtomicUsize::new(0));
    let (k, s) = (kill.clone(), served.clone());
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = k.cancelled() => return,
                accepted = listener.accept() => accepted.unwrap().0,
            };
            let (k, s) = (k.clone(), s.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    s.fetch_add(1, Ordering::Relaxed);
                    dyno_handle(name, req)
                });
                let conn = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades();
                tokio::select! {
                    _ = conn => {}
                    _ = k.cancelled() => {}
                }
            });
        }
    });
    Dyno { addr, served, kill }
}

async fn dyno_handle(
    name: &'static str,
    mut req: Request<hyper::body::Incoming>,
) -> Result<Response<TestBody>, Infallible> {
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    if req.headers().contains_key("upgrade") {
        let upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let mut io = TokioIo::new(upgrade.await.unwrap());
            let mut buf = [0u8; 1024];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        let response = Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "echo")
            .body(full(""))
            .unwrap();
        return Ok(response);
    }
    match req.uri().path() {
        "/echo" => Ok(Response::new(req.into_body().boxed())),
        "/slow" => {
            let ms = query.get("ms").and_then(|v| v.parse().ok()).unwrap_or(100);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(Response::new(full(name)))
        }
        "/big" => {
            let total: usize = query.get("bytes").and_then(|v| v.parse().ok()).unwrap_or(0);
            let chunks = futures::stream::iter((0..total).step_by(65536).map(move |at| {
                let n = (total - at).min(65536);
                Ok::<_, hyper::Error>(Frame::data(Bytes::from(vec![b'x'; n])))
            }));
            Ok(Response::new(BodyExt::boxed(StreamBody::new(chunks))))
        }
        _ => {
            let headers: HashMap<String, String> = req
                .headers()
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            let body = serde_json::json!({"dyno": name, "headers": headers}).to_string();
            Ok(Response::builder()
                .header("connection", "keep-alive, x-dyno-secret")
                .header("x-dyno-secret", "hop-by-hop")
                .header("keep-alive", "timeout=5")
                .body(full(&body))
                .unwrap())
        }
    }
}

fn full(s: &str) -> TestBody {
    Full::new(Bytes::from(s.to_owned()))
        .map_err(|never| match never {})
        .boxed()
}

/// A WebSocket echo server (tokio-tungstenite) as a dyno.
async fn websocket_dyno() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
                while let Some(Ok(msg)) = ws.next().await {
                    if msg.is_text() || msg.is_binary() {
                        ws.send(msg).await.unwrap();
                    }
                }
            });
        }
    });
    addr
}

struct Harness {
    addr: SocketAddr,
    router: Arc<Router>,
    table: watch::Sender<Arc<RouteTable>>,
    logs: mpsc::UnboundedReceiver<RequestLog>,
    client: reqwest::Client,
    shutdown: CancellationToken,
    served: Option<tokio::task::JoinHandle<()>>,
}

/// (host, app, [(dyno, address)])
type Entry<'a> = (&'a str, &'a str, &'a [(&'a str, SocketAddr)]);

fn table(entries: &[Entry<'_>]) -> RouteTable {
    let mut t = RouteTable::default();
    for (host, app, backends) in entries {
        let backends = backends
            .iter()
            .map(|(dyno, addr)| Backend {
                dyno: (*dyno).into(),
                addr: *addr,
                version: 1,
            })
            .collect();
        t.insert(
            host,
            AppRoutes {
                maintenance: false,
                app: (*app).into(),
                backends,
            },
        );
    }
    t
}

async fn router(initial: RouteTable, settings: RouterSettings) -> Harness {
    let (tx, rx) = watch::channel(Arc::new(initial));
    let (log_tx, logs) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let router = Arc::new(Router::new(rx, settings).with_log_sink(move |log| {
        let _ = log_tx.send(log);
    }));
    let served = tokio::spawn(router.clone().serve(listener, shutdown.clone()));
    Harness {
        addr,
        router,
        table: tx,
        logs,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        shutdown,
        served: Some(served),
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl Harness {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("host", host)
            .send()
            .await
            .unwrap()
    }

    /// Publishes a new table and waits until the router serves from it.
    async fn publish(&self, t: RouteTable) {
        self.table.send_replace(Arc::new(t));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// The request lines logged so far (log lines are written when a response ends).
    async fn lines(&mut self) -> Vec<RequestLog> {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut lines = Vec::new();
        while let Ok(log) = self.logs.try_recv() {
            lines.push(log);
        }
        lines
    }
}

/// Sends `GET path` with `Host: host` from `clients` concurrent keep-alive clients
/// until `stop`, returning (successes, failures as status or error).
async fn steady_load(
    h: &Harness,
    host: &'static str,
    path: &'static str,
    clients: usize,
    stop: CancellationToken,
) -> (usize, Vec<String>) {
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let client = h.client.clone();
        let url = h.url(path);
        let stop = stop.clone();
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.is_cancelled() {
                match client.get(&url).header("host", host).send().await {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => ok += 1,
                        Err(e) => failed.push(format!("body: {e}")),
                    },
                    Ok(r) => failed.push(format!(
                        "{}: {}",
                        r.status(),
                        r.text().await.unwrap_or_default()
                    )),
                    Err(e) => failed.push(format!("{e:?}")),
                }
            }
            (ok, failed)
        }));
    }
    let mut total = (0, Vec::new());
    for task in tasks {
        let (ok, failed) = task.await.unwrap();
        total.0 += ok;
        total.1.extend(failed);
    }
    total
}

async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}
