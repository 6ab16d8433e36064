//! The router settings group (`PAAS_ROUTER_*`) and its ACME settings for custom domains
//! (`PAAS_ACME_*`, `PAAS_SECRET_KEY`).

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};

use super::parse::Env;

/// How the router serves apps' HTTP traffic.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// `PAAS_ROUTER_THREADS`: one router per thread (default: one per core).
    pub threads: usize,
    /// `PAAS_ROUTER_CONNECT_TIMEOUT` (5 s): to open a connection to a dyno (then H19).
    pub connect_timeout_secs: u64,
    /// `PAAS_ROUTER_TIMEOUT` (30 s): to a response's first byte (then 503, H12).
    pub first_byte_timeout_secs: u64,
    /// `PAAS_ROUTER_DRAIN_TIMEOUT` (25 s): in-flight requests' time to finish at shutdown.
    pub drain_timeout_secs: u64,
    /// `PAAS_ROUTER_MAX_CONNECTIONS` (10,000): client connections served at once.
    pub max_connections: usize,
    /// `PAAS_ROUTER_TLS_ADDR` (`0.0.0.0:8443`; `:443` in production; `off`): the
    /// router's HTTPS listener.
    pub tls_addr: Option<SocketAddr>,
    /// `PAAS_ROUTER_TLS_CERT` and `PAAS_ROUTER_TLS_KEY` (PEM): the operator's
    /// certificate (typically `*.<PAAS_DOMAIN>`); without it, local names get
    /// certificates from paasd's local CA under `data_dir/tls/ca`.
    pub tls_cert_and_key: Option<(PathBuf, PathBuf)>,
    /// ACME for custom domains (needs the HTTPS listener).
    pub acme: AcmeConfig,
}

/// Certificates for custom domains from an ACME CA.
#[derive(Debug, Clone)]
pub struct AcmeConfig {
    /// `PAAS_ACME_DIRECTORY` (Let's Encrypt production; `off`: no ACME).
    pub directory: Option<String>,
    /// `PAAS_ACME_EMAIL`: the account's contact.
    pub email: Option<String>,
    /// `PAAS_ACME_CA_ROOT`: a PEM root for the directory's own HTTPS (a test CA).
    pub ca_root: Option<PathBuf>,
    /// `PAAS_ACME_CHALLENGES`: HTTP-01 (plain listener) and TLS-ALPN-01 (TLS listener),
    /// in order of preference.
    pub challenges: Vec<paas_tls::acme::Challenge>,
    /// `PAAS_SECRET_KEY` (64 hex digits) seals private keys in the database; unset, a
    /// key is made once in `data_dir/secret.key` (mode 0600).
    pub secret_key: Option<String>,
}

impl RouterConfig {
    pub(super) fn read(env: &Env<'_>) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Ok(RouterConfig {
            threads: env.count("PAAS_ROUTER_THREADS", cores, 1024)?,
            connect_timeout_secs: env.seconds("PAAS_ROUTER_CONNECT_TIMEOUT", 5, 300)?,
            first_byte_timeout_secs: env.seconds("PAAS_ROUTER_TIMEOUT", 30, 3600)?,
            drain_timeout_secs: env.seconds("PAAS_ROUTER_DRAIN_TIMEOUT", 25, 3600)?,
            max_connections: env.count("PAAS_ROUTER_MAX_CONNECTIONS", 10_000, 1_000_000)?,
            tls_addr: match env.get("PAAS_ROUTER_TLS_ADDR").as_deref().map(str::trim) {
                Some("off") => None,
                _ => Some(env.addr("PAAS_ROUTER_TLS_ADDR", "0.0.0.0:8443")?),
            },
            tls_cert_and_key: match (
                env.get("PAAS_ROUTER_TLS_CERT"),
                env.get("PAAS_ROUTER_TLS_KEY"),
            ) {
                (Some(cert), Some(key)) => Some((cert.into(), key.into())),
                (None, None) => None,
                _ => bail!("PAAS_ROUTER_TLS_CERT and PAAS_ROUTER_TLS_KEY must be set together"),
            },
            acme: AcmeConfig::read(env)?,
        })
    }
}

impl AcmeConfig {
    fn read(env: &Env<'_>) -> anyhow::Result<Self> {
        Ok(AcmeConfig {
            directory: match env.get("PAAS_ACME_DIRECTORY").as_deref().map(str::trim) {
                Some("off") => None,
                Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                    Some(url.to_owned())
                }
                Some(url) => {
                    bail!("PAAS_ACME_DIRECTORY={url:?} must be an https:// URL or off")
                }
                None => Some("https://acme-v02.api.letsencrypt.org/directory".to_owned()),
            },
            email: env.get("PAAS_ACME_EMAIL"),
            ca_root: env.get("PAAS_ACME_CA_ROOT").map(PathBuf::from),
            challenges: match env.get("PAAS_ACME_CHALLENGES") {
                Some(list) => list
                    .split(',')
                    .map(|c| {
                        paas_tls::acme::Challenge::parse(c).with_context(|| {
                            format!(
                                "PAAS_ACME_CHALLENGES={list:?}: {c:?} is not http-01 or tls-alpn-01"
                            )
                        })
                    })
                    .collect::<anyhow::Result<_>>()?,
                None => vec![
                    paas_tls::acme::Challenge::Http01,
                    paas_tls::acme::Challenge::TlsAlpn01,
                ],
            },
            secret_key: match env.get("PAAS_SECRET_KEY") {
                Some(key) if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) => {
                    Some(key)
                }
                Some(_) => bail!("PAAS_SECRET_KEY must be 64 hex digits (32 bytes)"),
                None => None,
            },
        })
    }
}
