//! ACME against a real CA, offline: Debian's `pebble` with its DNS pointed at
//! `pebble-challtestsrv`, which answers 127.0.0.1 for every name, so pebble validates
//! HTTP-01 against the router's plain listener on loopback and nothing leaves the
//! machine. Postgres is real (`#[sqlx::test]`, one database per test); the router is
//! paas-router itself. `scripts/lib.sh` `ensure_packages` installs pebble.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

mod challenges;
mod issuance;
mod renewal;

use std::convert::Infallible;
use std::net::SocketAddr;
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
use paas_testkit::free_port;
use paas_testkit::pebble::Pebble;
use paas_testkit::tls::any_cert_config;
use paas_tls::acme::{AcmeSettings, CertManager};
use paas_tls::local::LocalIssuer;
use paas_tls::seal::Sealer;
use paas_tls::{CertTable, LocalCa};
use rustls::pki_types::ServerName;
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

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
    settings.ca_root = Some(pebble.https_root.clone());
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
        let config = any_cert_config(vec![]);
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

async fn app_with_domain(store: &Store, app: &str, host: &str) -> uuid::Uuid {
    let app_id = store
        .create_app(&AppName::parse(app).unwrap())
        .await
        .unwrap()
        .app_id;
    store.add_domain(app_id, host).await.unwrap();
    app_id
}
