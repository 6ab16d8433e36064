//! The TLS listener: certificates by SNI from paas-tls's table (local CA leaves and
//! other layers), HTTP/2 by ALPN to HTTP/1.1 dynos, forwarding headers, WebSockets,
//! an app that redirects plain HTTP to HTTPS, and ACME HTTP-01 answers on the plain
//! listener. Clients trust the local CA's root only, as a user told to do so would.

use super::*;

use paas_router::Listeners;
use paas_tls::local::LocalIssuer;
use paas_tls::{CertTable, Layer, LocalCa};
use rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

struct Tls {
    h: Harness,
    tls_addr: SocketAddr,
    certs: Arc<CertTable>,
    issuer: Arc<LocalIssuer>,
    root_pem: String,
    _dir: tempfile::TempDir,
}

const TLS_PUBLIC_PORT: u16 = 8443;

async fn tls_router(initial: RouteTable, challenges: Option<(&'static str, &'static str)>) -> Tls {
    let dir = tempfile::tempdir().unwrap();
    let certs = Arc::new(CertTable::new());
    let issuer = Arc::new(LocalIssuer::new(
        LocalCa::load_or_create(&dir.path().join("ca")).unwrap(),
        certs.clone(),
    ));
    let root_pem = issuer.ca().root_pem().to_owned();
    issuer
        .refresh(initial.apps().map(|(host, _)| host))
        .unwrap();
    let (tx, rx) = watch::channel(Arc::new(initial));
    let (log_tx, logs) = mpsc::unbounded_channel();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, tls_addr) = (
        listener.local_addr().unwrap(),
        tls_listener.local_addr().unwrap(),
    );
    let shutdown = CancellationToken::new();
    let settings = RouterSettings {
        tls_public_port: TLS_PUBLIC_PORT,
        ..RouterSettings::default()
    };
    let mut router = Router::new(rx, settings).with_log_sink(move |log| {
        let _ = log_tx.send(log);
    });
    if let Some((token, answer)) = challenges {
        router = router.with_acme_challenges(move |t| (t == token).then(|| answer.to_owned()));
    }
    let router = Arc::new(router);
    let listeners = Listeners::from(listener)
        .with_https(tls_listener, certs.clone())
        .unwrap();
    let served = tokio::spawn(router.clone().serve(listeners, shutdown.clone()));
    Tls {
        h: Harness {
            addr,
            router,
            table: tx,
            logs,
            client: reqwest::Client::builder().no_proxy().build().unwrap(),
            shutdown,
            served: Some(served),
        },
        tls_addr,
        certs,
        issuer,
        root_pem,
        _dir: dir,
    }
}

impl Tls {
    /// A client that trusts the local CA only and reaches every `hosts` at the router.
    fn client(&self, hosts: &[&str]) -> reqwest::Client {
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(self.root_pem.as_bytes()).unwrap()]);
        for host in hosts {
            // The URL's port is used: plain and TLS listeners are both on loopback.
            builder = builder.resolve(host, SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        builder.build().unwrap()
    }

    fn url(&self, host: &str, path: &str) -> String {
        format!("https://{host}:{}{path}", self.tls_addr.port())
    }

    /// A TLS connection as rustls makes it, offering `alpn`, trusting `root`.
    async fn connect(
        &self,
        root: &str,
        sni: &str,
        alpn: &[&[u8]],
        versions: &[&'static rustls::SupportedProtocolVersion],
    ) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(root.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config = rustls::ClientConfig::builder_with_provider(paas_tls::provider())
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        let tcp = TcpStream::connect(self.tls_addr).await?;
        let name = ServerName::try_from(sni.to_owned()).unwrap();
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    }
}

/// The names on the certificate a connection was given.
fn served_names(stream: &tokio_rustls::client::TlsStream<TcpStream>) -> Vec<String> {
    let chain = stream.get_ref().1.peer_certificates().unwrap();
    paas_tls::pem::info(&chain[0]).unwrap().names
}

/// A certificate for `names` signed by a CA of its own (an "uploaded" certificate).
fn other_ca_leaf(names: &[&str]) -> (String, Arc<rustls::sign::CertifiedKey>) {
    let dir = tempfile::tempdir().unwrap();
    let ca = LocalCa::load_or_create(dir.path()).unwrap();
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    (ca.root_pem().to_owned(), ca.issue(&names).unwrap())
}

#[tokio::test]
async fn https_picks_each_hosts_certificate_by_sni_and_tells_the_app_it_was_https() {
    let a = dyno("a").await;
    let b = dyno("b").await;
    let mut t = tls_router(
        table(&[
            ("one.localhost", "one", &[("web.1", a.addr)]),
            ("two.localhost", "two", &[("web.1", b.addr)]),
            ("www.example.com", "two", &[("web.1", b.addr)]),
        ]),
        None,
    )
    .await;
    // www.example.com: a certificate from another CA in a higher layer (uploaded).
    let (other_root, uploaded) = other_ca_leaf(&["www.example.com"]);
    t.certs.set_layer(
        Layer::Uploaded,
        [("www.example.com".to_owned(), uploaded)].into(),
        None,
    );
    let tls13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
    for host in ["one.localhost", "two.localhost"] {
        let stream = t.connect(&t.root_pem, host, &[], tls13).await.unwrap();
        assert_eq!(served_names(&stream), [host], "SNI {host}");
    }
    let stream = t
        .connect(&other_root, "www.example.com", &[], tls13)
        .await
        .unwrap();
    assert_eq!(served_names(&stream), ["www.example.com"]);
    assert!(
        t.connect(&t.root_pem, "www.example.com", &[], tls13)
            .await
            .is_err(),
        "the uploaded certificate, not the local CA's, is served for www.example.com"
    );
    // TLS 1.2 is offered too; a client naming no host (an IP) gets localhost's leaf.
    let tls12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];
    let stream = t
        .connect(&t.root_pem, "one.localhost", &[], tls12)
        .await
        .unwrap();
    assert_eq!(
        stream.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let by_ip = t
        .connect(&t.root_pem, "127.0.0.1", &[], tls13)
        .await
        .unwrap();
    assert!(served_names(&by_ip).contains(&"127.0.0.1".to_owned()));

    let client = t.client(&["one.localhost", "two.localhost"]);
    let one: serde_json::Value = client
        .get(t.url("one.localhost", "/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(one["dyno"], "a");
    assert_eq!(one["headers"]["x-forwarded-proto"], "https");
    assert_eq!(
        one["headers"]["x-forwarded-port"],
        TLS_PUBLIC_PORT.to_string()
    );
    let plain: serde_json::Value = t.h.get("one.localhost", "/").await.json().await.unwrap();
    assert_eq!(plain["headers"]["x-forwarded-proto"], "http");
    assert_eq!(plain["headers"]["x-forwarded-port"], "8080");
    let lines = t.h.lines().await;
    assert!(
        lines[0].line.ends_with(" protocol=https") || lines[0].line.ends_with(" protocol=http2"),
        "{}",
        lines[0].line
    );
    assert!(
        lines.last().unwrap().line.ends_with(" protocol=http"),
        "{:?}",
        lines
    );

    // An app that leaves the table loses its local certificate.
    t.issuer.refresh(["two.localhost"]).unwrap();
    assert!(
        t.connect(&t.root_pem, "one.localhost", &[], tls13)
            .await
            .is_err()
    );
    assert!(
        t.connect(&t.root_pem, "two.localhost", &[], tls13)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn http2_clients_are_served_by_http1_dynos() {
    let a = dyno("a").await;
    let mut t = tls_router(table(&[("h2.localhost", "h2", &[("web.1", a.addr)])]), None).await;
    let client = t.client(&["h2.localhost"]);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let (client, url) = (client.clone(), t.url("h2.localhost", &format!("/?n={i}")));
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap()
        }));
    }
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.version(), reqwest::Version::HTTP_2);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["dyno"], "a");
        let port = t.tls_addr.port();
        assert_eq!(
            body["headers"]["host"],
            format!("h2.localhost:{port}"),
            "from :authority"
        );
        assert_eq!(body["headers"]["x-forwarded-proto"], "https");
    }
    // A streamed body both ways over one HTTP/2 stream.
    let echoed = client
        .post(t.url("h2.localhost", "/echo"))
        .body(vec![b'z'; 300_000])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(echoed.len(), 300_000);
    let lines = t.h.lines().await;
    assert_eq!(lines.len(), 21);
    assert!(
        lines.iter().all(|l| l.line.ends_with(" protocol=http2")),
        "{lines:?}"
    );
    // One connection carried all of them (ALPN h2, multiplexed).
    let stream = t
        .connect(
            &t.root_pem,
            "h2.localhost",
            &[b"h2", b"http/1.1"],
            &[&rustls::version::TLS13],
        )
        .await
        .unwrap();
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
}

#[tokio::test]
async fn websockets_work_over_tls() {
    let ws = websocket_dyno().await;
    let t = tls_router(table(&[("ws.localhost", "ws", &[("web.1", ws)])]), None).await;
    let stream = t
        .connect(
            &t.root_pem,
            "ws.localhost",
            &[b"http/1.1"],
            &[&rustls::version::TLS13],
        )
        .await
        .unwrap();
    ws_echoes(stream, "wss://ws.localhost/chat", 5, "over TLS").await;
}

/// A dyno like Django's `SECURE_SSL_REDIRECT` or Rails' `force_ssl`: anything not
/// forwarded as https is redirected to the https URL (on the router's TLS port).
async fn https_only_dyno(tls_port: Arc<std::sync::OnceLock<u16>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tls_port = tls_port.clone();
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let tls_port = tls_port.get().copied().unwrap_or(443);
                        async move {
                            let h = req.headers();
                            let proto = h.get("x-forwarded-proto").and_then(|v| v.to_str().ok());
                            let response = if proto == Some("https") {
                                Response::new(full("<h1>secure page</h1>"))
                            } else {
                                let host = h["host"].to_str().unwrap();
                                let host = host.split(':').next().unwrap();
                                let path = req.uri().path();
                                Response::builder()
                                    .status(301)
                                    .header("location", format!("https://{host}:{tls_port}{path}"))
                                    .body(full(""))
                                    .unwrap()
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn an_app_that_redirects_plain_http_to_https_serves_its_page_over_https() {
    let port = Arc::new(std::sync::OnceLock::new());
    let app = https_only_dyno(port.clone()).await;
    let mut t = tls_router(
        table(&[("secure.localhost", "secure", &[("web.1", app)])]),
        None,
    )
    .await;
    port.set(t.tls_addr.port()).unwrap();
    let client = t.client(&["secure.localhost"]);
    let start = format!("http://secure.localhost:{}/account", t.h.addr.port());
    let response = client.get(&start).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.url().scheme(), "https");
    assert_eq!(response.text().await.unwrap(), "<h1>secure page</h1>");
    let lines: Vec<String> = t.h.lines().await.into_iter().map(|l| l.line).collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].contains("status=301") && lines[0].ends_with("protocol=http"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("status=200") && lines[1].contains("protocol=http"),
        "{}",
        lines[1]
    );
    assert!(
        !lines[1].ends_with("protocol=http"),
        "the second request came over TLS: {}",
        lines[1]
    );
}

#[tokio::test]
async fn acme_http01_challenges_are_answered_on_the_plain_listener_before_app_routing() {
    let a = dyno("a").await;
    let t = tls_router(
        table(&[("www.example.com", "site", &[("web.1", a.addr)])]),
        Some(("tok3n", "tok3n.thumbprint")),
    )
    .await;
    let answer =
        t.h.get("www.example.com", "/.well-known/acme-challenge/tok3n")
            .await;
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.text().await.unwrap(), "tok3n.thumbprint");
    assert_eq!(a.served.load(Ordering::Relaxed), 0, "the app saw nothing");
    // Any host: the CA validates a name before its app may even exist here.
    let unknown =
        t.h.get("not-yet.example.org", "/.well-known/acme-challenge/tok3n")
            .await;
    assert_eq!(unknown.text().await.unwrap(), "tok3n.thumbprint");
    // Unknown tokens are the app's business.
    let other =
        t.h.get("www.example.com", "/.well-known/acme-challenge/other")
            .await;
    assert_eq!(other.status(), 200);
    assert_eq!(a.served.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn certificate_swaps_under_new_connections_fail_no_handshake() {
    let a = dyno("a").await;
    let t = tls_router(
        table(&[("swap.localhost", "swap", &[("web.1", a.addr)])]),
        None,
    )
    .await;
    let client = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .tls_certs_only([reqwest::Certificate::from_pem(t.root_pem.as_bytes()).unwrap()])
        .resolve("swap.localhost", SocketAddr::from(([127, 0, 0, 1], 0)))
        .build()
        .unwrap();
    let stop = CancellationToken::new();
    let url = t.url("swap.localhost", "/");
    let served = Arc::new(AtomicUsize::new(0));
    let load = {
        let (stop, served) = (stop.clone(), served.clone());
        tokio::spawn(async move {
            let mut failed = Vec::new();
            while !stop.is_cancelled() {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => {
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(format!("{e:?}")),
                }
            }
            failed
        })
    };
    // Renewal, as the ACME manager does it: a new certificate replaces the old one,
    // again and again while new connections keep coming (at least 30 of them).
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut swaps = 0;
    // Both: on a quiet machine 30 connections can be served within fewer than 5 swaps.
    while (served.load(Ordering::Relaxed) < 30 || swaps < 5) && Instant::now() < deadline {
        let fresh = t.issuer.ca().issue(&["swap.localhost".into()]).unwrap();
        t.certs.set_layer(
            Layer::Acme,
            [("swap.localhost".to_owned(), fresh)].into(),
            None,
        );
        swaps += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let failed = load.await.unwrap();
    let ok = served.load(Ordering::Relaxed);
    assert!(failed.is_empty(), "{failed:?}");
    assert!(swaps >= 5, "{swaps} swaps");
    assert!(ok >= 30, "{ok} new connections");
}
