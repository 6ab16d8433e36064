//! Reading a certificate chain and key from PEM, the way a user uploads them
//! (`heroku certs:add cert.pem key.pem`) or an operator names them
//! (`PAAS_ROUTER_TLS_CERT`/`KEY`): garbage, a key that does not match the first
//! certificate, or a certificate not valid now is refused with a sentence saying so.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};

use crate::TlsError;

/// What a certificate says about itself (Heroku's `ssl_cert` object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// The DNS names it covers (subject alternative names, else the common name).
    pub names: Vec<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub issuer: String,
    pub subject: String,
    pub self_signed: bool,
}

/// A checked pair: ready for the SNI table, and its PEM kept for storage.
#[derive(Clone)]
pub struct Parsed {
    pub key: Arc<CertifiedKey>,
    pub info: CertInfo,
    pub chain_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for Parsed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parsed")
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Checks `chain_pem` (leaf first) and `key_pem` at `now`.
pub fn parse(chain_pem: &str, key_pem: &str, now: DateTime<Utc>) -> Result<Parsed, TlsError> {
    let chain = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| TlsError::Invalid("The certificate chain is not valid PEM.".into()))?;
    if chain.is_empty() {
        return Err(TlsError::Invalid(
            "No certificate found: expected PEM text with a CERTIFICATE block.".into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|_| {
        TlsError::Invalid("The private key is not valid PEM (expected a PRIVATE KEY block).".into())
    })?;
    let mut infos = Vec::with_capacity(chain.len());
    for der in &chain {
        infos.push(info(der)?);
    }
    for (i, cert) in infos.iter().enumerate() {
        let which = if i == 0 {
            "The certificate".to_owned()
        } else {
            format!("Certificate {} of the chain", i + 1)
        };
        if cert.not_after <= now {
            return Err(TlsError::Invalid(format!(
                "{which} expired at {}.",
                cert.not_after.format("%Y-%m-%d %H:%M UTC")
            )));
        }
        if cert.not_before > now {
            return Err(TlsError::Invalid(format!(
                "{which} is not valid before {}.",
                cert.not_before.format("%Y-%m-%d %H:%M UTC")
            )));
        }
    }
    let certified = CertifiedKey::from_der(chain, key, &crate::provider()).map_err(|e| {
        TlsError::Invalid(match e {
            rustls::Error::InconsistentKeys(_) => {
                "The private key does not match the certificate.".to_owned()
            }
            other => format!("The private key cannot be used: {other}."),
        })
    })?;
    Ok(Parsed {
        key: Arc::new(certified),
        info: infos.swap_remove(0),
        chain_pem: chain_pem.trim().to_owned() + "\n",
        key_pem: key_pem.trim().to_owned() + "\n",
    })
}

/// What `der` says about itself.
pub fn info(der: &CertificateDer<'_>) -> Result<CertInfo, TlsError> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|_| TlsError::Invalid("A certificate in the chain cannot be parsed.".into()))?;
    let mut names = Vec::new();
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(dns) => names.push(dns.to_ascii_lowercase()),
                    GeneralName::IPAddress(ip) => {
                        if let Ok(v4) = <[u8; 4]>::try_from(*ip) {
                            names.push(std::net::Ipv4Addr::from(v4).to_string());
                        } else if let Ok(v6) = <[u8; 16]>::try_from(*ip) {
                            names.push(std::net::Ipv6Addr::from(v6).to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if names.is_empty()
        && let Some(cn) = cert.subject().iter_common_name().next()
        && let Ok(cn) = cn.as_str()
    {
        names.push(cn.to_ascii_lowercase());
    }
    let time = |t: x509_parser::time::ASN1Time| {
        DateTime::<Utc>::from_timestamp(t.timestamp(), 0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    Ok(CertInfo {
        names,
        not_before: time(cert.validity().not_before),
        not_after: time(cert.validity().not_after),
        issuer: cert.issuer().to_string(),
        subject: cert.subject().to_string(),
        self_signed: cert.issuer() == cert.subject(),
    })
}

/// What the first certificate of a stored PEM chain says.
pub fn chain_info(chain_pem: &str) -> Result<CertInfo, TlsError> {
    let first = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .next()
        .and_then(Result::ok)
        .ok_or_else(|| TlsError::Invalid("No certificate found in the chain.".into()))?;
    info(&first)
}

/// Does a certificate name (`*.example.com` matches one label) cover `host`?
pub fn name_covers(name: &str, host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if name.eq_ignore_ascii_case(host) {
        return true;
    }
    match (name.strip_prefix("*."), host.split_once('.')) {
        (Some(suffix), Some((label, rest))) => {
            !label.is_empty() && suffix.eq_ignore_ascii_case(rest)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use chrono::Duration;

    fn pair(names: &[&str]) -> (String, String) {
        let made = rcgen::generate_simple_self_signed(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    #[test]
    fn a_good_pair_is_read_with_its_names_and_dates() {
        let (cert, key) = pair(&["www.example.com", "example.com"]);
        let parsed = parse(&cert, &key, Utc::now()).unwrap();
        assert_eq!(parsed.info.names, ["www.example.com", "example.com"]);
        assert!(parsed.info.self_signed);
        assert!(parsed.info.not_after > Utc::now());
    }

    #[test]
    fn garbage_a_mismatched_key_and_an_expired_chain_are_refused_with_reasons() {
        let (cert, key) = pair(&["a.example.com"]);
        let (_, other_key) = pair(&["b.example.com"]);
        let refused = |c: &str, k: &str, now| match parse(c, k, now) {
            Err(TlsError::Invalid(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(refused("hello", &key, Utc::now()).contains("No certificate"));
        assert!(refused(&cert, "junk", Utc::now()).contains("private key"));
        assert!(refused(&cert, &other_key, Utc::now()).contains("does not match"));
        let later = Utc::now() + Duration::days(365 * 5000);
        assert!(refused(&cert, &key, later).contains("expired"));
    }

    #[test]
    fn wildcards_cover_one_label() {
        assert!(name_covers("*.example.com", "a.example.com"));
        assert!(!name_covers("*.example.com", "a.b.example.com"));
        assert!(!name_covers("*.example.com", "example.com"));
        assert!(name_covers("Example.com", "example.com."));
    }
}
