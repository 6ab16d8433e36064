//! The router in front of real HTTP servers on loopback (stand-ins for web dynos).

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_router::{RequestLog, Router, RouterSettings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

type TestBody = BoxBody<Bytes, hyper::Error>;

/// A dyno stand-in: `/` answers its name and the headers it saw as JSON; `/echo` streams
/// the request body back; an `Upgrade` request is switched and echoed byte for byte.
async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |mut req: Request<hyper::body::Incoming>| async move {
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
                            return Ok::<_, Infallible>(response);
                        }
                        if req.uri().path() == "/echo" {
                            return Ok(Response::new(req.into_body().boxed()));
                        }
                        let headers: HashMap<String, String> = req
                            .headers()
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        let body =
                            serde_json::json!({"dyno": name, "headers": headers}).to_string();
                        Ok(Response::new(full(&body)))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

fn full(s: &str) -> TestBody {
    Full::new(Bytes::from(s.to_owned()))
        .map_err(|never| match never {})
        .boxed()
}

struct Harness {
    addr: SocketAddr,
    table: watch::Sender<Arc<RouteTable>>,
    logs: mpsc::UnboundedReceiver<RequestLog>,
    client: reqwest::Client,
    _shutdown: tokio_util::sync::DropGuard,
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
    let router = Arc::new(Router::new(rx, settings, Some(log_tx)));
    tokio::spawn(router.serve(listener, shutdown.clone()));
    Harness {
        addr,
        table: tx,
        logs,
        client: reqwest::Client::builder().no_proxy().build().unwrap(),
        _shutdown: shutdown.drop_guard(),
    }
}

impl Harness {
    async fn get(&self, host: &str, path: &str) -> reqwest::Response {
        self.client
            .get(format!("http://{}{path}", self.addr))
            .header("host", host)
            .send()
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn requests_are_routed_by_host_and_custom_domain_with_404_and_503_pages() {
    let a = backend("a").await;
    let b = backend("b").await;
    let mut h = router(
        table(&[
            ("one.localhost", "one", &[("web.1", a)]),
            ("www.example.com", "two", &[("web.1", b)]),
            ("empty.localhost", "empty", &[]),
        ]),
        RouterSettings::default(),
    )
    .await;
    let one: serde_json::Value = h.get("ONE.localhost:8080", "/").await.json().await.unwrap();
    assert_eq!(one["dyno"], "a");
    let two: serde_json::Value = h.get("www.example.com", "/").await.json().await.unwrap();
    assert_eq!(two["dyno"], "b");
    let missing = h.get("nope.localhost", "/").await;
    assert_eq!(missing.status(), 404);
    assert!(missing.text().await.unwrap().contains("No such app"));
    let empty = h.get("empty.localhost", "/").await;
    assert_eq!(empty.status(), 503);

    let mut lines = Vec::new();
    while let Ok(log) = h.logs.try_recv() {
        lines.push(log);
    }
    assert!(
        lines.iter().any(|l| l.app == "one"
            && l.line
                .starts_with("at=info method=GET path=\"/\" host=ONE.localhost:8080")
            && l.line.contains("dyno=web.1")
            && l.line.contains("status=200")),
        "{lines:?}"
    );
    assert!(
        lines.iter().any(|l| l.app == "empty"
            && l.line.contains("at=error code=H14")
            && l.line.contains("status=503")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn load_spreads_over_the_dynos_and_the_app_sees_forwarding_headers() {
    let backends = [backend("x").await, backend("y").await, backend("z").await];
    let h = router(
        table(&[(
            "spread.localhost",
            "spread",
            &[
                ("web.1", backends[0]),
                ("web.2", backends[1]),
                ("web.3", backends[2]),
            ],
        )]),
        RouterSettings {
            public_port: 8080,
            ..RouterSettings::default()
        },
    )
    .await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..300 {
        let v: serde_json::Value = h.get("spread.localhost", "/").await.json().await.unwrap();
        *counts
            .entry(v["dyno"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(
        counts.len() == 3 && counts.values().all(|c| *c >= 50),
        "{counts:?}"
    );

    let seen: serde_json::Value = h
        .client
        .get(format!("http://{}/", h.addr))
        .header("host", "spread.localhost")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-request-id", "client-chosen-id-0123456789")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "must not pass")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let headers = &seen["headers"];
    assert_eq!(headers["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-port"], "8080");
    assert_eq!(headers["x-request-id"], "client-chosen-id-0123456789");
    assert_eq!(headers["via"], "1.1 paas");
    assert!(
        headers["x-request-start"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert!(
        headers.get("x-hop").is_none(),
        "headers named by Connection are hop-by-hop"
    );
}

#[tokio::test]
async fn a_dyno_that_refuses_connections_is_skipped_without_failing_requests() {
    let alive = backend("alive").await;
    let dead = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap() // dropped: connections to it are refused
    };
    let h = router(
        table(&[(
            "flaky.localhost",
            "flaky",
            &[("web.1", dead), ("web.2", alive)],
        )]),
        RouterSettings::default(),
    )
    .await;
    for _ in 0..50 {
        let response = h.get("flaky.localhost", "/").await;
        assert_eq!(response.status(), 200);
        let v: serde_json::Value = response.json().await.unwrap();
        assert_eq!(v["dyno"], "alive");
    }
}

#[tokio::test]
async fn large_bodies_stream_both_ways_and_table_swaps_drop_nothing() {
    let a = backend("a").await;
    let b = backend("b").await;
    let h = router(
        table(&[("big.localhost", "big", &[("web.1", a)])]),
        RouterSettings::default(),
    )
    .await;
    let size = 20 << 20;
    let chunks = futures::stream::iter(
        (0..size / 65536).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; 65536]))),
    );
    let response = h
        .client
        .post(format!("http://{}/echo", h.addr))
        .header("host", "big.localhost")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), size);
    assert!(body.iter().all(|b| *b == 7));

    // Membership changes under a steady stream of requests: none fails.
    let mut failures = 0;
    for i in 0..200 {
        if i % 20 == 0 {
            let dynos: &[(&str, SocketAddr)] = if (i / 20) % 2 == 0 {
                &[("web.1", a), ("web.2", b)]
            } else {
                &[("web.2", b)]
            };
            h.table
                .send_replace(Arc::new(table(&[("big.localhost", "big", dynos)])));
        }
        if h.get("big.localhost", "/").await.status() != 200 {
            failures += 1;
        }
    }
    assert_eq!(failures, 0);
}

#[tokio::test]
async fn upgrades_are_spliced_end_to_end() {
    let a = backend("ws").await;
    let h = router(
        table(&[("ws.localhost", "ws", &[("web.1", a)])]),
        RouterSettings::default(),
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(h.addr).await.unwrap();
    stream
        .write_all(b"GET /socket HTTP/1.1\r\nHost: ws.localhost\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream.write_all(b"ping through the router").await.unwrap();
    let mut echoed = vec![0u8; 23];
    stream.read_exact(&mut echoed).await.unwrap();
    assert_eq!(&echoed, b"ping through the router");
}

#[tokio::test]
async fn a_dyno_that_answers_too_late_gets_a_503_and_an_h12_line() {
    // Accepts and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let slow = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let mut h = router(
        table(&[("slow.localhost", "slow", &[("web.1", slow)])]),
        RouterSettings {
            first_byte_timeout: std::time::Duration::from_millis(500),
            ..RouterSettings::default()
        },
    )
    .await;
    assert_eq!(h.get("slow.localhost", "/").await.status(), 503);
    let log = h.logs.recv().await.unwrap();
    assert!(
        log.line
            .starts_with("at=error code=H12 desc=\"Request timeout\""),
        "{}",
        log.line
    );
}
