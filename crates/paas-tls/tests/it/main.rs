//! ACME against a real CA, offline: Debian's `pebble` with its DNS pointed at
//! `pebble-challtestsrv`, which answers 127.0.0.1 for every name, so pebble validates
//! HTTP-01 against the router's plain listener on loopback and nothing leaves the
//! machine. Postgres is real (`#[sqlx::test]`, one database per test); the router is
//! paas-router itself. `scripts/lib.sh` `ensure_packages` installs pebble.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use paas_core::AppName;
use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_router::{Listeners, Router, RouterSettings};
use paas_store::Store;
use paas_tls::acme::{AcmeSettings, CertManager};
use paas_tls::local::LocalIssuer;
use paas_tls::seal::Sealer;
use paas_tls::{CertTable, LocalCa};
use rustls::pki_types::ServerName;
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// A free loopback port (bound, then released for pebble to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_for_port(port: u16, what: &str) {
    for _ in 0..800 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not start listening on {port}");
}

/// pebble + pebble-challtestsrv, killed on drop.
struct Pebble {
    _pebble: Child,
    _dns: Child,
    directory: String,
    management: u16,
    dns_management: u16,
    /// The root pebble's own HTTPS is served under (for the ACME client).
    ca_root: PathBuf,
    ca_root_pem: String,
    _dir: tempfile::TempDir,
}

impl Pebble {
    /// Validates HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`; issues
    /// certificates valid `validity_secs`.
    async fn start(http_port: u16, tls_port: u16, validity_secs: u64) -> Pebble {
        let dir = tempfile::tempdir().unwrap();
        let ca = LocalCa::load_or_create(&dir.path().join("ca")).unwrap();
        // pebble reads its HTTPS certificate from files: make a pair the CA signs.
        let key = rcgen_pair(&ca);
        std::fs::write(dir.path().join("cert.pem"), &key.0).unwrap();
        std::fs::write(dir.path().join("key.pem"), &key.1).unwrap();
        let (listen, management, dns, dns_management) =
            (free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": dir.path().join("cert.pem"),
            "privateKey": dir.path().join("key.pem"),
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
            "certificateValidityPeriod": validity_secs,
        }});
        let config_path = dir.path().join("pebble.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let dns_child = Command::new("pebble-challtestsrv")
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble-challtestsrv (scripts/lib.sh ensure_packages installs pebble)");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("pebble (scripts/lib.sh ensure_packages installs it)");
        wait_for_port(dns_management, "pebble-challtestsrv").await;
        wait_for_port(listen, "pebble").await;
        let ca_root = dir.path().join("ca").join("root.pem");
        Pebble {
            _pebble: pebble,
            _dns: dns_child,
            directory: format!("https://127.0.0.1:{listen}/dir"),
            management,
            dns_management,
            ca_root,
            ca_root_pem: ca.root_pem().to_owned(),
            _dir: dir,
        }
    }

    fn https(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .tls_certs_only([reqwest::Certificate::from_pem(self.ca_root_pem.as_bytes()).unwrap()])
            .build()
            .unwrap()
    }

    /// The root pebble signs issued certificates under.
    async fn issuing_root(&self) -> String {
        self.https()
            .get(format!("https://127.0.0.1:{}/roots/0", self.management))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Makes challtestsrv answer `ip` for `host` (127.0.0.2: nobody listens there).
    async fn point(&self, host: &str, ip: &str) {
        let response = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("http://127.0.0.1:{}/add-a", self.dns_management))
            .json(&serde_json::json!({"host": host, "addresses": [ip]}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}

/// A PEM certificate and key for pebble's HTTPS, signed by `ca`.
fn rcgen_pair(ca: &LocalCa) -> (String, String) {
    let (chain, key) = ca
        .issue_pem(&["localhost".into(), "127.0.0.1".into()])
        .unwrap();
    (chain, key)
}

/// A dyno stand-in: answers `hello from <name>`.
async fn dyno(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |_req: Request<hyper::body::Incoming>| async move {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(format!(
                            "hello from {name}"
                        )))))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// The router's plain and TLS listeners on loopback, bound before pebble starts (it is
/// told their ports).
async fn listeners() -> (TcpListener, TcpListener) {
    (
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    )
}

fn ports(listeners: &(TcpListener, TcpListener)) -> (u16, u16) {
    (
        listeners.0.local_addr().unwrap().port(),
        listeners.1.local_addr().unwrap().port(),
    )
}

/// paas-router with its plain and TLS listeners, the SNI table, and ACME challenges.
struct Setup {
    plain: u16,
    tls: SocketAddr,
    certs: Arc<CertTable>,
    manager: Arc<CertManager>,
    events: mpsc::UnboundedReceiver<(String, String)>,
    sealer: Arc<Sealer>,
    settings: AcmeSettings,
    shutdown: CancellationToken,
    _keep: (watch::Sender<Arc<RouteTable>>, tempfile::TempDir),
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn route_table(hosts: &[(&str, &str, SocketAddr)]) -> RouteTable {
    let mut table = RouteTable::default();
    for (host, app, addr) in hosts {
        table.insert(
            host,
            AppRoutes {
                app: (*app).into(),
                maintenance: false,
                backends: vec![Backend {
                    dyno: "web.1".into(),
                    addr: *addr,
                    version: 1,
                }],
            },
        );
    }
    table
}

async fn setup(
    store: Store,
    (plain, tls_listener): (TcpListener, TcpListener),
    hosts: &[(&str, &str, SocketAddr)],
    pebble: &Pebble,
    tune: impl FnOnce(&mut AcmeSettings),
) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let certs = Arc::new(CertTable::new());
    let issuer = LocalIssuer::new(
        LocalCa::load_or_create(&dir.path().join("ca")).unwrap(),
        certs.clone(),
    );
    let table = route_table(hosts);
    issuer.refresh(table.apps().map(|(h, _)| h)).unwrap();
    let sealer = Arc::new(Sealer::load_or_create(&dir.path().join("secret.key")).unwrap());
    let mut settings = AcmeSettings::new(pebble.directory.clone());
    settings.ca_root = Some(pebble.ca_root.clone());
    settings.email = Some("ops@example.com".into());
    tune(&mut settings);
    let (tx, events) = mpsc::unbounded_channel();
    let manager = Arc::new(CertManager::new(
        store.clone(),
        certs.clone(),
        sealer.clone(),
        settings.clone(),
        move |app: &str, message: String| {
            let _ = tx.send((app.to_owned(), message));
        },
    ));
    let challenges = manager.challenges();
    let (routes_tx, routes) = watch::channel(Arc::new(table));
    let (plain_port, tls) = (
        plain.local_addr().unwrap().port(),
        tls_listener.local_addr().unwrap(),
    );
    let router = Router::new(routes, RouterSettings::default())
        .with_acme_challenges(move |token| challenges.get(token));
    let listeners = Listeners::from(plain)
        .with_https(tls_listener, certs.clone())
        .unwrap();
    let shutdown = CancellationToken::new();
    tokio::spawn(Arc::new(router).serve(listeners, shutdown.clone()));
    Setup {
        plain: plain_port,
        tls,
        certs,
        manager,
        events,
        sealer,
        settings,
        shutdown,
        _keep: (routes_tx, dir),
    }
}

impl Setup {
    /// A client trusting `root` only, reaching every host at the router.
    fn client(&self, root: &str) -> reqwest::Client {
        reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(0)
            .tls_certs_only([reqwest::Certificate::from_pem(root.as_bytes()).unwrap()])
            .dns_resolver(Arc::new(Loopback))
            .build()
            .unwrap()
    }

    fn url(&self, host: &str) -> String {
        format!("https://{host}:{}/", self.tls.port())
    }

    /// The serial number of the certificate a handshake for `host` gets.
    async fn served(&self, host: &str) -> Vec<u8> {
        let mut config = rustls::ClientConfig::builder_with_provider(paas_tls::provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCert))
            .with_no_client_auth();
        config.alpn_protocols = vec![];
        let tcp = TcpStream::connect(self.tls).await.unwrap();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
            .await
            .unwrap();
        stream.get_ref().1.peer_certificates().unwrap()[0].to_vec()
    }

    async fn events(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok((_, message)) = self.events.try_recv() {
            out.push(message);
        }
        out
    }
}

/// Every name resolves to loopback (the URL's port is used).
struct Loopback;

impl reqwest::dns::Resolve for Loopback {
    fn resolve(&self, _: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async {
            let addrs: reqwest::dns::Addrs =
                Box::new(std::iter::once(SocketAddr::from(([127, 0, 0, 1], 0))));
            Ok(addrs)
        })
    }
}

/// Accepts any certificate: only used to read which one the router served.
#[derive(Debug)]
struct AnyCert;

impl rustls::client::danger::ServerCertVerifier for AnyCert {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        paas_tls::provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

async fn app_with_domain(store: &Store, app: &str, host: &str) -> uuid::Uuid {
    let app_id = store
        .create_app(&AppName::parse(app).unwrap())
        .await
        .unwrap()
        .app_id;
    store.add_domain(app_id, host).await.unwrap();
    app_id
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_custom_domain_gets_an_acme_certificate_served_by_sni_and_a_restart_reuses_it(
    pool: PgPool,
) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "shop", "www.shop-example.com").await;
    let (shop, other) = (dyno("shop").await, dyno("other").await);
    let plain = listeners().await;
    let (http_port, tls_port) = ports(&plain);
    let pebble = Pebble::start(http_port, tls_port, 90 * 24 * 3600).await;
    let hosts = [
        ("shop.localhost", "shop", shop),
        ("www.shop-example.com", "shop", shop),
        ("other.localhost", "other", other),
    ];
    let mut s = setup(store.clone(), plain, &hosts, &pebble, |_| {}).await;
    let before = store.app_domain_certs(app_id).await.unwrap();
    assert_eq!(before[0].status, "pending");

    s.manager.pass().await.unwrap();
    let after = store.app_domain_certs(app_id).await.unwrap();
    assert_eq!(after[0].status, "issued", "{:?}", after[0].reason);
    let sealed = after[0].key_sealed.clone().unwrap();
    assert!(
        !String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"),
        "sealed at rest"
    );
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Issued certificate for www.shop-example.com")),
        "{events:?}"
    );

    // Served by SNI with the CA's chain, beside the local CA's names.
    let acme_root = pebble.issuing_root().await;
    let client = s.client(&acme_root);
    let page = client
        .get(s.url("www.shop-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "hello from shop");
    let local_root = std::fs::read_to_string(s._keep.1.path().join("ca/root.pem")).unwrap();
    let local = s.client(&local_root);
    for (host, body) in [
        ("shop.localhost", "hello from shop"),
        ("other.localhost", "hello from other"),
    ] {
        let page = local.get(s.url(host)).send().await.unwrap();
        assert_eq!(page.text().await.unwrap(), body);
    }
    assert!(
        client.get(s.url("other.localhost")).send().await.is_err(),
        "not the ACME CA's"
    );

    // A restart: a new manager and table on the same database serve the stored
    // certificate and order nothing.
    let served = s.served("www.shop-example.com").await;
    let certs = Arc::new(CertTable::new());
    let restarted = CertManager::new(
        store.clone(),
        certs.clone(),
        s.sealer.clone(),
        s.settings.clone(),
        |_: &str, _| {},
    );
    restarted.pass().await.unwrap();
    assert_eq!(
        restarted.orders(),
        0,
        "a valid stored certificate is not ordered again"
    );
    let key = certs
        .get("www.shop-example.com")
        .expect("loaded from the store");
    assert_eq!(key.cert[0].to_vec(), served);
    let again = store.app_domain_certs(app_id).await.unwrap();
    assert_eq!(again[0].issued_at, after[0].issued_at);

    // An uploaded certificate wins over the ACME one for the names it covers; one
    // uploaded by another app for this app's hostname is not served.
    let other_app = store
        .create_app(&AppName::parse("intruder").unwrap())
        .await
        .unwrap()
        .app_id;
    let intruder = LocalCa::load_or_create(&s._keep.1.path().join("intruder-ca")).unwrap();
    let (chain, key) = intruder
        .issue_pem(&["www.shop-example.com".into()])
        .unwrap();
    let sealed = s
        .sealer
        .seal(paas_tls::acme::KEY_PURPOSE, key.as_bytes())
        .unwrap();
    store
        .add_sni_endpoint(other_app, "intruder-1", &chain, &sealed)
        .await
        .unwrap();
    s.manager.pass().await.unwrap();
    assert_eq!(
        s.served("www.shop-example.com").await,
        served,
        "not another app's upload"
    );
    let owner = LocalCa::load_or_create(&s._keep.1.path().join("owner-ca")).unwrap();
    let (chain, key) = owner.issue_pem(&["*.shop-example.com".into()]).unwrap();
    let sealed = s
        .sealer
        .seal(paas_tls::acme::KEY_PURPOSE, key.as_bytes())
        .unwrap();
    store
        .add_sni_endpoint(app_id, "shop-1", &chain, &sealed)
        .await
        .unwrap();
    let orders = s.manager.orders();
    s.manager.pass().await.unwrap();
    let uploaded = s.client(owner.root_pem());
    let page = uploaded
        .get(s.url("www.shop-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.text().await.unwrap(),
        "hello from shop",
        "the upload wins"
    );
    assert_eq!(s.manager.orders(), orders);
    let _ = s.certs.clone();
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_failing_challenge_shows_failing_with_the_reason_and_keeps_the_previous_certificate(
    pool: PgPool,
) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "blog", "blog-example.com").await;
    let blog = dyno("blog").await;
    let plain = listeners().await;
    let (http_port, tls_port) = ports(&plain);
    let pebble = Pebble::start(http_port, tls_port, 90 * 24 * 3600).await;
    let mut s = setup(
        store.clone(),
        plain,
        &[("blog-example.com", "blog", blog)],
        &pebble,
        |a| {
            a.backoff_base = Duration::from_secs(300);
        },
    )
    .await;
    s.manager.pass().await.unwrap();
    let issued = s.served("blog-example.com").await;
    assert_eq!(
        store.app_domain_certs(app_id).await.unwrap()[0].status,
        "issued"
    );

    // The name now points where nothing answers: the CA cannot validate it.
    pebble.point("blog-example.com", "127.0.0.2").await;
    store.refresh_acm(app_id).await.unwrap();
    s.manager.pass().await.unwrap();
    let failing = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(failing.status, "failing");
    let reason = failing.reason.unwrap();
    assert!(reason.contains("127.0.0.2"), "the CA's own words: {reason}");
    assert!(
        failing.next_attempt_at > chrono::Utc::now() + chrono::Duration::seconds(200),
        "backed off"
    );
    assert_eq!(
        s.served("blog-example.com").await,
        issued,
        "the old certificate keeps serving"
    );
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Certificate for blog-example.com failing: ")),
        "{events:?}"
    );
    // Backing off: another pass does not ask the CA again.
    let orders = s.manager.orders();
    s.manager.pass().await.unwrap();
    assert_eq!(s.manager.orders(), orders, "no hammering");
    let _ = s.plain;
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn a_short_lived_certificate_is_renewed_with_no_failed_request_during_the_swap(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "api", "api-example.com").await;
    let api = dyno("api").await;
    let plain = listeners().await;
    let (http_port, tls_port) = ports(&plain);
    // Certificates live 40 s; renewal starts 35 s before expiry, so 5 s after issue.
    let pebble = Pebble::start(http_port, tls_port, 40).await;
    let mut s = setup(
        store.clone(),
        plain,
        &[("api-example.com", "api", api)],
        &pebble,
        |a| {
            a.renew_before = chrono::Duration::seconds(35);
        },
    )
    .await;
    s.manager.pass().await.unwrap();
    let first = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(first.status, "issued");
    let first_served = s.served("api-example.com").await;

    let client = s.client(&pebble.issuing_root().await);
    let stop = CancellationToken::new();
    let load = {
        let (client, url, stop) = (client.clone(), s.url("api-example.com"), stop.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0, Vec::new());
            while !stop.is_cancelled() {
                match client.get(&url).send().await {
                    Ok(r) if r.status() == 200 => ok += 1,
                    Ok(r) => failed.push(r.status().to_string()),
                    Err(e) => failed.push(format!("{e:?}")),
                }
            }
            (ok, failed)
        })
    };
    let mut renewed = None;
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        s.manager.pass().await.unwrap();
        let now = store.app_domain_certs(app_id).await.unwrap().remove(0);
        if now.issued_at != first.issued_at {
            renewed = Some(now);
            break;
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.cancel();
    let (ok, failed) = load.await.unwrap();
    let renewed = renewed.expect("renewed within 30 s");
    assert_eq!(renewed.status, "issued");
    assert!(renewed.not_after > first.not_after);
    assert_ne!(
        s.served("api-example.com").await,
        first_served,
        "the new one is served"
    );
    assert!(failed.is_empty(), "{failed:?}");
    assert!(ok > 10, "{ok} requests");
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Renewed certificate for api-example.com")),
        "{events:?}"
    );
}

/// Does a handshake offering only ALPN `acme-tls/1` for `host` succeed at the router?
async fn alpn_probe(tls: SocketAddr, host: &str) -> bool {
    let mut config = rustls::ClientConfig::builder_with_provider(paas_tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCert))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"acme-tls/1".to_vec()];
    let tcp = TcpStream::connect(tls).await.unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from(host.to_owned()).unwrap(), tcp)
        .await
        .is_ok()
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn tls_alpn_01_is_answered_by_the_tls_listener_when_http_01_fails(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app_id = app_with_domain(&store, "alpn", "alpn-example.com").await;
    let alpn = dyno("alpn").await;
    let listeners = listeners().await;
    let (_, tls_port) = ports(&listeners);
    // pebble checks HTTP-01 on a port where nothing listens: only the router's TLS
    // listener (TLS-ALPN-01) can prove the name.
    let dead = free_port();
    let pebble = Pebble::start(dead, tls_port, 90 * 24 * 3600).await;
    let mut s = setup(
        store.clone(),
        listeners,
        &[("alpn-example.com", "alpn", alpn)],
        &pebble,
        |a| a.backoff_base = Duration::ZERO,
    )
    .await;
    assert!(
        !alpn_probe(s.tls, "alpn-example.com").await,
        "no challenge pending: an acme-tls/1 handshake gets no certificate at all"
    );

    s.manager.pass().await.unwrap();
    let failed = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(
        failed.status, "failing",
        "HTTP-01 first, and it cannot pass"
    );
    assert!(
        failed
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains(&dead.to_string()),
        "{:?}",
        failed.reason
    );
    s.manager.pass().await.unwrap();
    let issued = store.app_domain_certs(app_id).await.unwrap().remove(0);
    assert_eq!(
        issued.status, "issued",
        "TLS-ALPN-01 after the failure: {:?}",
        issued.reason
    );
    let page = s
        .client(&pebble.issuing_root().await)
        .get(s.url("alpn-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "hello from alpn");
    assert!(
        !alpn_probe(s.tls, "alpn-example.com").await,
        "the challenge certificate is withdrawn once validated"
    );
    let events = s.events().await;
    assert!(
        events
            .iter()
            .any(|e| e.starts_with("Certificate for alpn-example.com failing: "))
            && events
                .iter()
                .any(|e| e.starts_with("Issued certificate for alpn-example.com")),
        "{events:?}"
    );
}

#[sqlx::test(migrator = "paas_store::MIGRATOR")]
async fn default_hosts_of_a_public_paas_domain_get_acme_certificates_per_host(pool: PgPool) {
    let store = Store::from_pool(pool);
    let app_id = store
        .create_app(&AppName::parse("shop").unwrap())
        .await
        .unwrap()
        .app_id;
    let shop = dyno("shop").await;
    let listeners = listeners().await;
    let (http_port, tls_port) = ports(&listeners);
    let pebble = Pebble::start(http_port, tls_port, 90 * 24 * 3600).await;
    let hosts = [
        ("shop.apps-example.com", "shop", shop),
        ("shop.paas-example.net", "shop", shop),
    ];
    let mut s = setup(store.clone(), listeners, &hosts, &pebble, |a| {
        a.default_domain = Some("apps-example.com".into());
    })
    .await;
    s.manager.pass().await.unwrap();
    let hosts_now = store.default_host_certs("apps-example.com").await.unwrap();
    assert_eq!(hosts_now.len(), 1);
    assert_eq!(hosts_now[0].hostname, "shop.apps-example.com");
    assert_eq!(hosts_now[0].status, "issued", "{:?}", hosts_now[0].reason);
    let client = s.client(&pebble.issuing_root().await);
    let page = client
        .get(s.url("shop.apps-example.com"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.text().await.unwrap(), "hello from shop");
    assert!(
        s.events()
            .await
            .iter()
            .any(|e| e.starts_with("Issued certificate for shop.apps-example.com")),
        "a platform event in the app's log"
    );

    // ACM off: the default host is `disabled` too, and its certificate is not served.
    store.set_acm(app_id, false).await.unwrap();
    s.manager.pass().await.unwrap();
    let off = store.default_host_certs("apps-example.com").await.unwrap();
    assert_eq!(off[0].status, "disabled");
    assert!(s.certs.get("shop.apps-example.com").is_none());
    store.set_acm(app_id, true).await.unwrap();

    // PAAS_DOMAIN changes: a restarted paasd (a new manager on the router's table,
    // answering TLS-ALPN-01 there) orders the new host and drops the old one (neither
    // served nor renewed).
    let certs = s.certs.clone();
    let mut settings = s.settings.clone();
    settings.default_domain = Some("paas-example.net".into());
    settings.challenges = vec![paas_tls::acme::Challenge::TlsAlpn01];
    let moved = CertManager::new(
        store.clone(),
        certs.clone(),
        s.sealer.clone(),
        settings,
        |_: &str, _| {},
    );
    moved.pass().await.unwrap();
    assert_eq!(moved.orders(), 1);
    let new_hosts = store.default_host_certs("paas-example.net").await.unwrap();
    assert_eq!(new_hosts[0].status, "issued", "{:?}", new_hosts[0].reason);
    assert!(certs.get("shop.paas-example.net").is_some());
    assert!(certs.get("shop.apps-example.com").is_none());
    assert_eq!(
        store.default_host_certs("apps-example.com").await.unwrap()[0].status,
        "pending",
        "the old host's certificate row is gone"
    );
    moved.pass().await.unwrap();
    assert_eq!(
        moved.orders(),
        1,
        "a valid certificate is not ordered again"
    );
}
