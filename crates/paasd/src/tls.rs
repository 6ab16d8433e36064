//! Certificates paasd serves. The TLS port's: the operator's (`PAAS_TLS_CERT`,
//! `PAAS_TLS_KEY`), or one from paasd's local CA made on first start under
//! `$PAAS_DATA_DIR/tls/` and kept (an older install keeps its self-signed one), so
//! clients are told once to trust the CA's `root.pem` (`NODE_EXTRA_CA_CERTS` for the
//! heroku CLI, `GIT_SSL_CAINFO` or `http.sslCAInfo` for git, `curl --cacert`). The
//! router's HTTPS: [`router_https`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::settings::Settings;

/// Where paasd keeps the certificate it made itself (clients trust this file).
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// The acceptor for the TLS port, making the self-signed certificate if needed.
pub fn acceptor(
    settings: &Settings,
    public_host: &str,
) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    let (cert_path, key_path) = match &settings.tls.cert_and_key {
        Some(paths) => paths.clone(),
        None => {
            let (cert, key) = self_signed_paths(&settings.data_dir);
            if !cert.exists() || !key.exists() {
                make_self_signed(&cert, &key, public_host)?;
            }
            (cert, key)
        }
    };
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading the TLS certificate {}", cert_path.display()))?;
    let key = PrivateKeyDer::from_pem_file(&key_path)
        .with_context(|| format!("reading the TLS key {}", key_path.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("the TLS certificate and key do not match")?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// A certificate for `localhost`, `127.0.0.1` and the public host from paasd's local
/// CA (the router's too), so one trust setting — the CA's `root.pem` — covers the API,
/// `https://` git remotes, `heroku run` and the apps. `cert.pem` holds the leaf and the
/// root, so pointing a client at it (`NODE_EXTRA_CA_CERTS`, `GIT_SSL_CAINFO`) works too.
fn make_self_signed(cert: &Path, key: &Path, public_host: &str) -> anyhow::Result<()> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let host = public_host.trim_start_matches('[').trim_end_matches(']');
    if !names.iter().any(|n| n == host) {
        names.push(host.to_owned());
    }
    let data_dir = cert
        .parent()
        .and_then(Path::parent)
        .context("certificate path has no data directory")?;
    let ca = paas_tls::LocalCa::load_or_create(&local_ca_dir(data_dir))
        .context("the local certificate authority")?;
    let (chain, key_pem) = ca
        .issue_pem_for(&names, time_days(825))
        .context("making the TLS port's certificate")?;
    let dir = cert.parent().context("certificate path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    paas_tls::ca::write_private(key, key_pem.as_bytes())?;
    std::fs::write(cert, chain).with_context(|| format!("writing {}", cert.display()))?;
    tracing::info!(cert = %cert.display(), names = ?names, ca = %ca.root_path().display(), "made the TLS port's certificate from the local CA: clients trust the CA's root.pem (or this file)");
    Ok(())
}

fn time_days(days: u32) -> std::time::Duration {
    std::time::Duration::from_secs(u64::from(days) * 86_400)
}

/// What the router's HTTPS needs from paasd: its listener, the SNI table, and (with
/// ACME on) the manager's HTTP-01 answers and the handles the API uses.
pub struct RouterTls {
    pub listener: tokio::net::TcpListener,
    pub certs: Arc<paas_tls::CertTable>,
    pub challenges: Option<Arc<paas_tls::acme::Challenges>>,
    pub api: paas_tls::CertsHandle,
}

/// Loads the stored and uploaded certificates into the table.
async fn load_stored(manager: &paas_tls::acme::CertManager) {
    if let Err(e) = manager.reload().await {
        tracing::warn!(error = %e, "loading the stored certificates failed; the first pass retries");
    }
}

/// The router's HTTPS `listener` and its SNI table: the operator's certificate
/// (`PAAS_ROUTER_TLS_CERT`/`KEY`) if given, local-CA leaves for every local host the
/// route table holds, and ACME certificates for custom domains (`PAAS_ACME_*`), kept in
/// step by tasks until `shutdown`. Platform events go to `events` (app, message).
/// The stored certificates go into the table before the listener is handed back to be
/// served, so a restarted paasd never answers a handshake for a custom domain with
/// another certificate while its first pass is still reading them.
pub async fn router_https(
    settings: &Settings,
    listener: tokio::net::TcpListener,
    store: paas_store::Store,
    routes: tokio::sync::watch::Receiver<Arc<paas_core::routes::RouteTable>>,
    events: impl Fn(&str, String) + Send + Sync + 'static,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<RouterTls> {
    let certs = Arc::new(paas_tls::CertTable::new());
    if let Some((cert, key)) = &settings.router.tls_cert_and_key {
        let read = |path: &Path| {
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
        };
        let parsed = paas_tls::pem::parse(&read(cert)?, &read(key)?, chrono::Utc::now())
            .with_context(|| format!("PAAS_ROUTER_TLS_CERT={}", cert.display()))?;
        tracing::info!(names = ?parsed.info.names, expires = %parsed.info.not_after, "the router serves the operator's certificate");
        certs.set_operator(&parsed);
    }
    let ca = paas_tls::LocalCa::load_or_create(&local_ca_dir(&settings.data_dir))
        .context("the local certificate authority")?;
    let issuer = Arc::new(paas_tls::local::LocalIssuer::new(ca, certs.clone()));
    tokio::spawn(issuer.follow(routes, shutdown.clone()));
    let sealer = Arc::new(match &settings.router.acme.secret_key {
        Some(hex) => paas_tls::seal::Sealer::from_hex(hex)?,
        None => paas_tls::seal::Sealer::load_or_create(&settings.data_dir.join("secret.key"))?,
    });
    let api = paas_tls::CertsHandle {
        sealer: sealer.clone(),
        changed: Arc::default(),
    };
    // Without a directory the manager never orders, but uploaded certificates are still
    // served.
    let mut acme = paas_tls::acme::AcmeSettings::new(
        settings.router.acme.directory.clone().unwrap_or_default(),
    );
    match &settings.router.acme.directory {
        Some(directory) => {
            acme.email.clone_from(&settings.router.acme.email);
            acme.ca_root.clone_from(&settings.router.acme.ca_root);
            acme.challenges.clone_from(&settings.router.acme.challenges);
            acme.default_domain = default_domain_for_acme(settings, &certs);
            tracing::info!(%directory, "ACME certificates for custom domains");
        }
        None => acme.ordering = false,
    }
    let ordering = acme.ordering;
    let manager = Arc::new(paas_tls::acme::CertManager::new(
        store,
        certs.clone(),
        sealer,
        acme,
        events,
    ));
    let challenges = ordering.then(|| manager.challenges());
    load_stored(&manager).await;
    tokio::spawn(manager.run(api.changed.clone(), shutdown));
    Ok(RouterTls {
        listener,
        certs,
        challenges,
        api,
    })
}

/// `PAAS_DOMAIN` when its apps' default hosts need ACME certificates: a public name (the
/// local CA serves local ones) that the operator's certificate does not cover.
fn default_domain_for_acme(settings: &Settings, certs: &paas_tls::CertTable) -> Option<String> {
    let domain = settings.domain.trim_end_matches('.').to_ascii_lowercase();
    let probe = format!("app.{domain}");
    if paas_tls::is_local_name(&probe) {
        return None;
    }
    if certs.covered_above(paas_tls::Layer::Local, &probe) {
        tracing::info!(%domain, "apps' default hosts are served with the operator's certificate");
        return None;
    }
    tracing::info!(%domain, "apps' default hosts get ACME certificates per host");
    Some(domain)
}

/// Where the local CA lives; users trust `root.pem` in it.
pub fn local_ca_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls").join("ca")
}
