//! The settings group of paasd's own TLS port (`PAAS_TLS_ADDR`, `PAAS_TLS_CERT`,
//! `PAAS_TLS_KEY`), not the router's HTTPS listener (`router.rs`).

use std::path::PathBuf;

use anyhow::bail;

use super::parse::Env;

/// The TLS port, for what the heroku CLI only does over TLS (`heroku run`'s rendezvous,
/// `https://` git remotes).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// `PAAS_TLS_ADDR`; `None` (`off`): no TLS port.
    pub addr: Option<std::net::SocketAddr>,
    /// `PAAS_TLS_CERT` and `PAAS_TLS_KEY` (PEM); `None`: a self-signed certificate made
    /// once under `data_dir/tls`.
    pub cert_and_key: Option<(PathBuf, PathBuf)>,
}

impl TlsConfig {
    pub(super) fn read(env: &Env<'_>) -> anyhow::Result<Self> {
        Ok(TlsConfig {
            addr: match env.get("PAAS_TLS_ADDR").as_deref().map(str::trim) {
                Some("off") => None,
                _ => Some(env.addr("PAAS_TLS_ADDR", "127.0.0.1:5443")?),
            },
            cert_and_key: match (env.get("PAAS_TLS_CERT"), env.get("PAAS_TLS_KEY")) {
                (Some(cert), Some(key)) => Some((cert.into(), key.into())),
                (None, None) => None,
                _ => bail!("PAAS_TLS_CERT and PAAS_TLS_KEY must be set together"),
            },
        })
    }
}
