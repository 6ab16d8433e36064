//! The TLS port's certificate: the operator's (`PAAS_TLS_CERT`, `PAAS_TLS_KEY`), or a
//! self-signed one made on first start under `$PAAS_DATA_DIR/tls/` and kept, so clients
//! can be told once to trust it (`NODE_EXTRA_CA_CERTS` for the heroku CLI,
//! `GIT_SSL_CAINFO` or `http.sslCAInfo` for git).

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

/// A self-signed certificate for `localhost`, `127.0.0.1` and the public host.
fn make_self_signed(cert: &Path, key: &Path, public_host: &str) -> anyhow::Result<()> {
    let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    if !names.iter().any(|n| n == public_host) {
        names.push(public_host.to_owned());
    }
    let made = rcgen::generate_simple_self_signed(names.clone())
        .context("making a self-signed TLS certificate")?;
    let dir = cert.parent().context("certificate path has no directory")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_private(key, made.signing_key.serialize_pem().as_bytes())?;
    std::fs::write(cert, made.cert.pem()).with_context(|| format!("writing {}", cert.display()))?;
    tracing::info!(cert = %cert.display(), names = ?names, "made a self-signed TLS certificate: clients of the TLS port must trust it");
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))
}
