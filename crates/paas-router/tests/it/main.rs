//! The router in front of real HTTP servers on loopback (stand-ins for web dynos).
//! Every load here is bounded in count and time.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

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

#[tokio::test]
async fn requests_are_routed_by_host_and_custom_domain_with_404_and_503_pages() {
    let a = dyno("a").await;
    let b = dyno("b").await;
    let mut h = router(
        table(&[
            ("one.localhost", "one", &[("web.1", a.addr)]),
            ("www.example.com", "two", &[("web.1", b.addr)]),
            ("two.localhost", "two", &[("web.1", b.addr)]),
            ("empty.localhost", "empty", &[]),
        ]),
        RouterSettings::default(),
    )
    .await;
    let raw = h.get("ONE.localhost:8080", "/").await.text().await.unwrap();
    let one: serde_json::Value = serde_json::from_str(&raw).unwrap();
    assert_eq!(one["dyno"], "a");
    assert_eq!(
        one["headers"]["host"], "ONE.localhost:8080",
        "the dyno sees the client's Host"
    );
    let two: serde_json::Value = h.get("www.example.com", "/").await.json().await.unwrap();
    assert_eq!(two["dyno"], "b");
    let two: serde_json::Value = h.get("two.localhost:80", "/").await.json().await.unwrap();
    assert_eq!(two["dyno"], "b");

    let missing = h.get("nope.localhost", "/").await;
    assert_eq!(missing.status(), 404);
    assert!(
        missing.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(missing.text().await.unwrap().contains("No such app"));
    let empty = h.get("empty.localhost", "/").await;
    assert_eq!(empty.status(), 503);
    assert!(empty.text().await.unwrap().contains("H14"));

    let lines = h.lines().await;
    let line = lines
        .iter()
        .find(|l| l.app == "one")
        .unwrap_or_else(|| panic!("no line for app one: {lines:?}"));
    let rest = line
        .line
        .strip_prefix("at=info method=GET path=\"/\" host=ONE.localhost:8080 request_id=")
        .unwrap_or_else(|| panic!("{}", line.line));
    let (request_id, rest) = rest.split_once(' ').unwrap();
    assert_eq!(request_id.len(), 36, "a generated UUID: {request_id}");
    assert!(
        rest.starts_with("fwd=\"127.0.0.1\" dyno=web.1 connect="),
        "{rest}"
    );
    assert!(rest.contains("ms service="), "{rest}");
    assert!(
        rest.ends_with(&format!("ms status=200 bytes={} protocol=http", raw.len())),
        "{rest}"
    );
    assert_eq!(line.status, 200);
    assert!(
        lines
            .iter()
            .any(|l| l.app == "two" && l.line.contains("host=www.example.com ")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.app == "empty"
            && l.line
                .starts_with("at=error code=H14 desc=\"No web processes running\" method=GET")
            && l.line.contains(" dyno= ")
            && l.line.contains("status=503 bytes=")),
        "{lines:?}"
    );
    assert!(
        lines.iter().all(|l| !l.line.contains("nope.localhost")),
        "no app, no app log line"
    );

    let metrics = h.router.metrics().render();
    assert!(
        metrics.contains("paas_router_requests_total{app=\"two\",status=\"2xx\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paas_router_requests_total{app=\"empty\",status=\"5xx\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paas_router_request_duration_seconds_count{app=\"one\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("paas_router_unmatched_requests_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_app_in_maintenance_mode_gets_the_maintenance_page_and_its_dynos_nothing() {
    let a = dyno("a").await;
    let mut down = table(&[("one.localhost", "one", &[("web.1", a.addr)])]);
    let mut routes = down.lookup("one.localhost").unwrap().clone();
    routes.maintenance = true;
    down.insert("one.localhost", routes);
    let mut h = router(down, RouterSettings::default()).await;

    let page = h.get("one.localhost", "/").await;
    assert_eq!(page.status(), 503);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Offline for maintenance")
    );
    assert_eq!(
        a.served.load(Ordering::Relaxed),
        0,
        "the dyno got a request"
    );
    let lines = h.lines().await;
    assert!(
        lines.iter().any(|l| l.app == "one"
            && l.line
                .starts_with("at=error code=H80 desc=\"Maintenance mode\" method=GET")),
        "{lines:?}"
    );

    // Off again: the next table forwards as before.
    h.publish(table(&[("one.localhost", "one", &[("web.1", a.addr)])]))
        .await;
    let served: serde_json::Value = h.get("one.localhost", "/").await.json().await.unwrap();
    assert_eq!(served["dyno"], "a");
}

#[tokio::test]
async fn load_spreads_evenly_over_three_dynos() {
    let dynos = [dyno("x").await, dyno("y").await, dyno("z").await];
    let h = router(
        table(&[(
            "spread.localhost",
            "spread",
            &[
                ("web.1", dynos[0].addr),
                ("web.2", dynos[1].addr),
                ("web.3", dynos[2].addr),
            ],
        )]),
        RouterSettings::default(),
    )
    .await;
    // Sequential requests: every dyno is idle at each pick, so the spread is random.
    for _ in 0..300 {
        assert_eq!(h.get("spread.localhost", "/").await.status(), 200);
    }
    let counts: Vec<usize> = dynos
        .iter()
        .map(|d| d.served.load(Ordering::Relaxed))
        .collect();
    assert!(
        counts.iter().all(|c| *c >= 60),
        "300 requests over 3 dynos: {counts:?}"
    );
    // Concurrent slow requests: least outstanding keeps the dynos equally busy.
    for d in &dynos {
        d.served.store(0, Ordering::Relaxed);
    }
    let requests = (0..30).map(|_| async {
        let r = h.get("spread.localhost", "/slow?ms=200").await;
        assert_eq!(r.status(), 200);
    });
    futures::future::join_all(requests).await;
    let counts: Vec<usize> = dynos
        .iter()
        .map(|d| d.served.load(Ordering::Relaxed))
        .collect();
    assert!(
        counts.iter().all(|c| (7..=13).contains(c)),
        "30 concurrent over 3: {counts:?}"
    );
}

#[tokio::test]
async fn the_app_sees_forwarding_headers_and_no_hop_by_hop_ones() {
    let a = dyno("a").await;
    let h = router(
        table(&[("hdr.localhost", "hdr", &[("web.1", a.addr)])]),
        RouterSettings {
            public_port: 8080,
            ..RouterSettings::default()
        },
    )
    .await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis();
    let response = h
        .client
        .get(h.url("/"))
        .header("host", "hdr.localhost")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "client-chosen-id-0123456789")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "must not pass")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("proxy-authorization", "Basic eDp5")
        .header("via", "1.1 cdn")
        .send()
        .await
        .unwrap();
    assert!(
        response.headers().get("x-dyno-secret").is_none(),
        "named by the dyno's Connection"
    );
    assert!(response.headers().get("keep-alive").is_none());
    assert_eq!(response.headers()["via"], "1.1 paas");
    let seen: serde_json::Value = response.json().await.unwrap();
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-port"], "8080");
    assert_eq!(headers["x-request-id"], "client-chosen-id-0123456789");
    assert_eq!(headers["via"], "1.1 cdn, 1.1 paas");
    let start: u128 = headers["x-request-start"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        start >= before && start < before + 5_000,
        "ms since the epoch: {start}"
    );
    for hop in [
        "x-hop",
        "keep-alive",
        "te",
        "proxy-authorization",
        "transfer-encoding",
        "upgrade",
    ] {
        assert!(headers.get(hop).is_none(), "{hop} is hop-by-hop: {headers}");
    }

    // An id that is not sane (too short, or with characters outside the set) is replaced.
    for bad in ["short", "has spaces in it which is not allowed"] {
        let seen: serde_json::Value = h
            .client
            .get(h.url("/"))
            .header("host", "hdr.localhost")
            .header("x-request-id", bad)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = seen["headers"]["x-request-id"].as_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{bad} → {id}");
        assert_eq!(seen["headers"]["x-forwarded-for"], "127.0.0.1");
    }
}

#[tokio::test]
async fn refused_connections_are_retried_on_another_dyno_even_with_a_body() {
    let alive = dyno("alive").await;
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap() // dropped: connections to it are refused
    };
    let mut h = router(
        table(&[(
            "flaky.localhost",
            "flaky",
            &[("web.1", dead), ("web.2", alive.addr)],
        )]),
        RouterSettings::default(),
    )
    .await;
    for i in 0..40 {
        let response = if i % 2 == 0 {
            h.get("flaky.localhost", "/").await
        } else {
            // Nothing of a body is read before the connection exists: safe to resend.
            h.client
                .post(h.url("/echo"))
                .header("host", "flaky.localhost")
                .body("payload")
                .send()
                .await
                .unwrap()
        };
        assert_eq!(response.status(), 200, "request {i}");
        let body = response.text().await.unwrap();
        assert!(body.contains("alive") || body == "payload", "{body}");
    }
    let lines = h.lines().await;
    assert_eq!(lines.len(), 40);
    assert!(
        lines
            .iter()
            .all(|l| l.line.contains("dyno=web.2") && l.status == 200),
        "{lines:?}"
    );
    // With every dyno refusing, the client gets a 503 naming the refusal.
    h.publish(table(&[("flaky.localhost", "flaky", &[("web.1", dead)])]))
        .await;
    let response = h.get("flaky.localhost", "/").await;
    assert_eq!(response.status(), 503);
    let lines = h.lines().await;
    assert!(
        lines[0]
            .line
            .starts_with("at=error code=H21 desc=\"Backend connection refused\""),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_dyno_killed_mid_load_fails_no_idempotent_request() {
    let dynos = [dyno("k1").await, dyno("k2").await, dyno("k3").await];
    let h = router(
        table(&[(
            "kill.localhost",
            "kill",
            &[
                ("web.1", dynos[0].addr),
                ("web.2", dynos[1].addr),
                ("web.3", dynos[2].addr),
            ],
        )]),
        RouterSettings::default(),
    )
    .await;
    let stop = CancellationToken::new();
    let load = steady_load(&h, "kill.localhost", "/slow?ms=5", 8, stop.clone());
    let killer = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        dynos[0].kill.cancel(); // in-flight requests on it are cut, its port refuses
        // (Requests that reached it just as it died may still be counted.)
        tokio::time::sleep(Duration::from_millis(50)).await;
        let served_at_kill = dynos[0].served.load(Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(1000)).await;
        stop.cancel();
        served_at_kill
    };
    let ((ok, failed), served_at_kill) = tokio::join!(load, killer);
    assert!(
        failed.is_empty(),
        "{} failed of {}: {failed:?}",
        failed.len(),
        ok + failed.len()
    );
    assert!(ok > 100, "{ok}");
    assert!(
        served_at_kill > 10,
        "the killed dyno served before: {served_at_kill}"
    );
    assert_eq!(
        dynos[0].served.load(Ordering::Relaxed),
        served_at_kill,
        "and nothing after"
    );
}

#[tokio::test]
async fn bodies_stream_both_ways_without_being_buffered_whole() {
    let a = dyno("a").await;
    let mut h = router(
        table(&[("big.localhost", "big", &[("web.1", a.addr)])]),
        RouterSettings::default(),
    )
    .await;
    // Ping-pong: each chunk is sent only after the previous one came back through the
    // router, which can only work if neither direction waits for the whole body.
    let (tx, rx) = mpsc::channel::<Bytes>(1);
    let body = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
    });
    let mut response = h
        .client
        .post(h.url("/echo"))
        .header("host", "big.localhost")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    tx.send(Bytes::from(vec![0u8; 1000])).await.unwrap();
    let mut response = tokio::time::timeout(Duration::from_secs(5), &mut response)
        .await
        .expect("response head before the request body ended")
        .unwrap();
    for round in 0u8..20 {
        let mut got = 0;
        while got < 1000 {
            let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
                .await
                .expect("the echo of a chunk, before the next is sent")
                .unwrap()
                .unwrap();
            assert!(chunk.iter().all(|b| *b == round));
            got += chunk.len();
        }
        if round < 19 {
            tx.send(Bytes::from(vec![round + 1; 1000])).await.unwrap();
        }
    }
    drop(tx);
    assert!(response.chunk().await.unwrap().is_none());

    // 50 MB up and back again, checked as it streams.
    let size: usize = 50 << 20;
    let chunks = futures::stream::iter(
        (0..size / 65536)
            .map(|i| Ok::<_, std::io::Error>(Bytes::from(vec![(i % 251) as u8; 65536]))),
    );
    let response = h
        .client
        .post(h.url("/echo"))
        .header("host", "big.localhost")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let mut stream = response.bytes_stream();
    let mut at = 0usize;
    while let Some(chunk) = stream.next().await {
        for byte in chunk.unwrap() {
            assert_eq!(byte, ((at / 65536) % 251) as u8, "byte {at}");
            at += 1;
        }
    }
    assert_eq!(at, size);
    // And 50 MB down.
    let response = h.get("big.localhost", &format!("/big?bytes={size}")).await;
    let mut stream = response.bytes_stream();
    let mut at = 0usize;
    while let Some(chunk) = stream.next().await {
        at += chunk.unwrap().len();
    }
    assert_eq!(at, size);
    let lines = h.lines().await;
    assert!(
        lines.iter().any(|l| l.line.starts_with("at=info ")
            && l.line.contains("path=\"/big?bytes=52428800\"")
            && l.line
                .ends_with(&format!("status=200 bytes={size} protocol=http"))),
        "bytes counts what was streamed: {lines:?}"
    );
}

#[tokio::test]
async fn websockets_echo_through_the_router() {
    let ws = websocket_dyno().await;
    let h = router(
        table(&[("ws.localhost", "ws", &[("web.1", ws)])]),
        RouterSettings::default(),
    )
    .await;
    let stream = TcpStream::connect(h.addr).await.unwrap();
    let (mut socket, response) = tokio_tungstenite::client_async("ws://ws.localhost/chat", stream)
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    for i in 0..10 {
        let text = format!("hello {i} through the router");
        socket
            .send(tokio_tungstenite::tungstenite::Message::text(text.clone()))
            .await
            .unwrap();
        let echoed = socket.next().await.unwrap().unwrap();
        assert_eq!(echoed.into_text().unwrap().as_str(), text);
    }
    socket.close(None).await.unwrap();

    // A raw upgrade too (not WebSocket): the router splices whatever protocol follows.
    let a = dyno("raw").await;
    h.publish(table(&[("raw.localhost", "raw", &[("web.1", a.addr)])]))
        .await;
    let mut stream = TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /socket HTTP/1.1\r\nHost: raw.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let head = read_head(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping through the router").await.unwrap();
    let mut echoed = vec![0u8; 23];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping through the router");
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

#[tokio::test]
async fn table_swaps_under_steady_load_fail_no_request() {
    let dynos = [dyno("s1").await, dyno("s2").await, dyno("s3").await];
    let addr = |i: usize| dynos[i].addr;
    let sets: [Vec<(&str, SocketAddr)>; 4] = [
        vec![("web.1", addr(0)), ("web.2", addr(1))],
        vec![("web.2", addr(1))],
        vec![("web.2", addr(1)), ("web.3", addr(2))],
        vec![("web.3", addr(2)), ("web.1", addr(0))],
    ];
    let h = router(
        table(&[("swap.localhost", "swap", &sets[0])]),
        RouterSettings::default(),
    )
    .await;
    let stop = CancellationToken::new();
    // Requests last 20 ms, so swaps regularly retire a dyno with requests in flight: the
    // dyno stays up (as the supervisor drains it) and those requests finish there.
    let load = steady_load(&h, "swap.localhost", "/slow?ms=20", 8, stop.clone());
    let swapper = async {
        for i in 1..=30 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            h.table
                .send_replace(Arc::new(table(&[("swap.localhost", "swap", &sets[i % 4])])));
        }
        stop.cancel();
    };
    let ((ok, failed), ()) = tokio::join!(load, swapper);
    assert!(failed.is_empty(), "{failed:?}");
    assert!(ok > 100, "{ok}");
    let served: Vec<usize> = dynos
        .iter()
        .map(|d| d.served.load(Ordering::Relaxed))
        .collect();
    assert!(
        served.iter().all(|n| *n > 0),
        "every set was used: {served:?}"
    );
}

#[tokio::test]
async fn a_dyno_that_answers_too_late_gets_a_503_and_an_h12_line() {
    let a = dyno("slow").await;
    let mut h = router(
        table(&[("slow.localhost", "slow", &[("web.1", a.addr)])]),
        RouterSettings {
            first_byte_timeout: Duration::from_millis(300),
            ..RouterSettings::default()
        },
    )
    .await;
    let started = Instant::now();
    let response = h.get("slow.localhost", "/slow?ms=5000").await;
    assert_eq!(response.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(response.text().await.unwrap().contains("H12"));
    assert_eq!(h.get("slow.localhost", "/slow?ms=10").await.status(), 200);
    let lines = h.lines().await;
    assert!(
        lines[0].line.starts_with(
            "at=error code=H12 desc=\"Request timeout\" method=GET path=\"/slow?ms=5000\""
        ),
        "{lines:?}"
    );
    assert!(lines[0].line.contains("dyno=web.1") && lines[0].line.contains("status=503"));
}

#[tokio::test]
async fn slow_and_oversized_request_heads_are_cut_off() {
    let a = dyno("a").await;
    let h = router(
        table(&[("limits.localhost", "limits", &[("web.1", a.addr)])]),
        RouterSettings {
            header_read_timeout: Duration::from_millis(300),
            max_head_bytes: 16 * 1024,
            ..RouterSettings::default()
        },
    )
    .await;
    // A client that never finishes its head is disconnected.
    let mut slow = TcpStream::connect(h.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: limits.localhost\r\nX-Slow: ")
        .await
        .unwrap();
    let started = Instant::now();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(3), slow.read_to_end(&mut rest))
        .await
        .expect("the router hangs up on a slow client")
        .ok();
    assert!(started.elapsed() >= Duration::from_millis(250));
    // A head over the limit gets 431 and never reaches the dyno.
    let response = h
        .client
        .get(h.url("/"))
        .header("host", "limits.localhost")
        .header("x-big", "b".repeat(32 * 1024))
        .send()
        .await;
    match response {
        Ok(r) => assert_eq!(r.status(), 431),
        Err(e) => assert!(e.is_request() || e.is_connect(), "{e:?}"),
    }
    assert_eq!(a.served.load(Ordering::Relaxed), 0);
    assert_eq!(h.get("limits.localhost", "/").await.status(), 200);
}

#[tokio::test]
async fn shutdown_finishes_requests_in_flight_stops_accepting_and_keeps_its_deadline() {
    let a = dyno("a").await;
    let mut h = router(
        table(&[("drain.localhost", "drain", &[("web.1", a.addr)])]),
        RouterSettings {
            drain_timeout: Duration::from_millis(1500),
            ..RouterSettings::default()
        },
    )
    .await;
    // An idle keep-alive connection, an upgraded one that never closes, and a request
    // in flight when the shutdown comes.
    assert_eq!(h.get("drain.localhost", "/").await.status(), 200);
    let mut upgraded = TcpStream::connect(h.addr).await.unwrap();
    upgraded
        .write_all(b"GET / HTTP/1.1\r\nHost: drain.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    assert!(read_head(&mut upgraded).await.starts_with("HTTP/1.1 101"));
    let in_flight = h.get("drain.localhost", "/slow?ms=500");
    let stopper = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let at = Instant::now();
        h.shutdown.cancel();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let refused = TcpStream::connect(h.addr).await.is_err();
        (at, refused)
    };
    let (response, (stopped_at, refused)) = tokio::join!(in_flight, stopper);
    assert_eq!(response.status(), 200, "the request in flight finishes");
    assert_eq!(response.text().await.unwrap(), "a");
    assert!(refused, "no new connections once shutting down");
    let served = h.served.take().unwrap();
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("serve returns")
        .unwrap();
    let took = stopped_at.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
        "the upgraded connection held the drain until its deadline: {took:?}"
    );
    let mut rest = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(1), upgraded.read_to_end(&mut rest))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "and was then closed");
}

#[tokio::test]
async fn per_core_routers_share_the_table_logs_and_metrics_and_drain_together() {
    let a = dyno("a").await;
    let b = dyno("b").await;
    let (tx, rx) = watch::channel(Arc::new(table(&[(
        "core.localhost",
        "core",
        &[("web.1", a.addr)],
    )])));
    let (log_tx, mut logs) = mpsc::unbounded_channel();
    let router = Router::new(rx, RouterSettings::default()).with_log_sink(move |log| {
        let _ = log_tx.send(log);
    });
    let metrics = router.metrics();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let served = tokio::spawn(router.serve_per_core(listener, 2, shutdown.clone()));
    // Separate connections, so both threads get some.
    let get = |path: &'static str| async move {
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let r = client
            .get(format!("http://{addr}{path}"))
            .header("host", "core.localhost")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    };
    let bodies = futures::future::join_all((0..20).map(|_| get("/slow?ms=10"))).await;
    assert!(bodies.iter().all(|b| b == "a"), "{bodies:?}");
    tx.send_replace(Arc::new(table(&[(
        "core.localhost",
        "core",
        &[("web.2", b.addr)],
    )])));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let bodies = futures::future::join_all((0..20).map(|_| get("/slow?ms=10"))).await;
    assert!(bodies.iter().all(|b| b == "b"), "{bodies:?}");
    tokio::time::sleep(Duration::from_millis(50)).await; // lines are written as bodies end
    let text = metrics.render();
    assert!(
        text.contains("paas_router_requests_total{app=\"core\",status=\"2xx\"} 40"),
        "{text}"
    );
    let mut lines = 0;
    while logs.try_recv().is_ok() {
        lines += 1;
    }
    assert_eq!(lines, 40);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), served)
        .await
        .expect("every thread drains")
        .unwrap()
        .unwrap();
    assert!(TcpStream::connect(addr).await.is_err());
}

mod tls;
