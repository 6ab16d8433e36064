//! Certificate machinery for the router's TLS listener.
//!
//! - [`pem`]: reads a certificate chain and its key, refusing garbage, a key that does
//!   not match, or a chain that is not valid now; says what the certificate covers.
//! - [`ca`]: paasd's own local certificate authority, made once under
//!   `$PAAS_DATA_DIR/tls/ca`, for names no public CA will sign (`*.localhost`), as
//!   Caddy's internal issuer does.
//! - [`table`]: the in-memory SNI table (hostname → certificate), replaced whole through
//!   an `ArcSwap`, so a handshake takes no lock and makes no database call.
//! - [`seal`]: AES-256-GCM sealing of private keys for the database.
//! - [`acme`]: certificates for custom domains from an ACME CA, renewed 30 days before
//!   expiry with capped backoff, and the manager that loads stored and uploaded
//!   certificates into the table.
//! - [`local`]: keeps the table in step with the route table: every host the router
//!   serves gets a certificate (operator-provided, else local CA for local names).

pub mod acme;
pub mod ca;
pub mod local;
pub mod pem;
pub mod seal;
pub mod table;

pub use ca::LocalCa;
pub use pem::{CertInfo, Parsed};
pub use table::{CertTable, Layer};

/// What the control API needs to accept uploaded certificates and wake the manager.
#[derive(Debug, Clone)]
pub struct CertsHandle {
    /// Seals uploaded private keys before they reach the store.
    pub sealer: std::sync::Arc<seal::Sealer>,
    /// Wakes the certificate manager (a domain, upload or ACM switch changed).
    pub changed: std::sync::Arc<tokio::sync::Notify>,
}

/// What can go wrong with certificates.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A user's or operator's PEM input was refused; the text says why (shown as is).
    #[error("{0}")]
    Invalid(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("making a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("ACME: {0}")]
    Acme(String),
    #[error("store: {0}")]
    Store(String),
}

impl TlsError {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }
}

/// The crypto provider every part uses (aws-lc-rs, as the rest of paas).
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Is `host` a name no public CA can certify (Caddy's rule): `localhost` and its
/// subdomains, `.local`, `.internal`, `.home.arpa`, `.test`, IP addresses and
/// single-label names. These get certificates from the local CA.
pub fn is_local_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host.parse::<std::net::IpAddr>().is_ok()
        || !host.contains('.')
        || ["localhost", "local", "internal", "home.arpa", "test"]
            .iter()
            .any(|tld| host == *tld || host.ends_with(&format!(".{tld}")))
}

#[cfg(test)]
mod tests {
    use super::is_local_name;

    #[test]
    fn local_names_are_the_ones_no_public_ca_signs() {
        for local in [
            "localhost",
            "demo.localhost",
            "a.b.local",
            "x.internal",
            "127.0.0.1",
            "box",
        ] {
            assert!(is_local_name(local), "{local}");
        }
        for public in ["example.com", "www.example.com", "localhost.example.com"] {
            assert!(!is_local_name(public), "{public}");
        }
    }
}
