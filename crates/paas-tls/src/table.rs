//! The SNI table: which certificate a TLS handshake gets for the name the client asked
//! for. Writers (the local follower, the ACME manager, uploads) replace one [`Layer`]
//! at a time; every change rebuilds the lookup map and publishes it whole through an
//! `ArcSwap`, so the handshake path ([`ResolvesServerCert::resolve`]) only loads a
//! pointer: no lock, no database. TLS-ALPN-01 validations (ALPN `acme-tls/1`) get the
//! challenge certificates the ACME manager publishes the same way, and nothing else.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Where a certificate came from; a name covered by several is served from the first
/// (an uploaded certificate wins over an ACME one, both over the operator's wildcard,
/// which wins over the local CA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Layer {
    Uploaded,
    Acme,
    Operator,
    Local,
}

/// Name (`demo.localhost`, or `*.example.com`) → certificate.
pub type Names = HashMap<String, Arc<CertifiedKey>>;

/// One layer: its names and its fallback certificate.
type LayerEntry = (Names, Option<Arc<CertifiedKey>>);

#[derive(Debug, Default)]
struct Lookup {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// `*.example.com` is kept as `example.com`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    /// For clients that send no SNI (an IP address in the URL).
    fallback: Option<Arc<CertifiedKey>>,
}

impl Lookup {
    fn get(&self, host: &str) -> Option<&Arc<CertifiedKey>> {
        self.exact.get(host).or_else(|| {
            host.split_once('.')
                .and_then(|(_, parent)| self.wildcard.get(parent))
        })
    }
}

/// The ALPN protocol of ACME's TLS-ALPN-01 challenge (RFC 8737).
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

#[derive(Default)]
pub struct CertTable {
    current: ArcSwap<Lookup>,
    /// TLS-ALPN-01: hostname → the challenge's self-signed certificate, while an order
    /// for it is being validated.
    alpn_challenges: ArcSwap<HashMap<String, Arc<CertifiedKey>>>,
    /// Writers only.
    layers: Mutex<BTreeMap<Layer, LayerEntry>>,
}

impl std::fmt::Debug for CertTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current.load();
        f.debug_struct("CertTable")
            .field("exact", &current.exact.len())
            .field("wildcard", &current.wildcard.len())
            .finish_non_exhaustive()
    }
}

impl CertTable {
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves the operator's certificate (`Layer::Operator`) for every name it carries,
    /// and to clients that name no host.
    pub fn set_operator(&self, parsed: &crate::Parsed) {
        let names = parsed
            .info
            .names
            .iter()
            .map(|n| (n.clone(), parsed.key.clone()))
            .collect();
        self.set_layer(Layer::Operator, names, Some(parsed.key.clone()));
    }

    /// Replaces everything `layer` serves; `fallback` is its certificate for clients
    /// that name no host.
    pub fn set_layer(&self, layer: Layer, names: Names, fallback: Option<Arc<CertifiedKey>>) {
        let mut layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        layers.insert(layer, (names, fallback));
        let mut lookup = Lookup::default();
        // Lowest priority first: later layers overwrite.
        for (names, fallback) in layers.values().rev() {
            for (name, key) in names {
                let name = name.to_ascii_lowercase();
                match name.strip_prefix("*.") {
                    Some(parent) => lookup.wildcard.insert(parent.to_owned(), key.clone()),
                    None => lookup.exact.insert(name, key.clone()),
                };
            }
            if fallback.is_some() {
                lookup.fallback.clone_from(fallback);
            }
        }
        self.current.store(Arc::new(lookup));
    }

    /// Publishes (`Some`) or withdraws (`None`) the TLS-ALPN-01 certificate for `host`.
    pub fn set_alpn_challenge(&self, host: &str, key: Option<Arc<CertifiedKey>>) {
        let host = host.to_ascii_lowercase();
        self.alpn_challenges.rcu(|current| {
            let mut next = HashMap::clone(current);
            match &key {
                Some(key) => next.insert(host.clone(), key.clone()),
                None => next.remove(&host),
            };
            next
        });
    }

    /// The certificate a handshake for `host` gets now.
    pub fn get(&self, host: &str) -> Option<Arc<CertifiedKey>> {
        self.current
            .load()
            .get(&host.trim_end_matches('.').to_ascii_lowercase())
            .cloned()
    }

    /// Does a layer above `layer` serve `host`? (Then `layer` need not make one.)
    pub fn covered_above(&self, layer: Layer, host: &str) -> bool {
        let layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        layers
            .range(..layer)
            .any(|(_, (names, _))| names.keys().any(|name| crate::pem::name_covers(name, host)))
    }
}

impl CertTable {
    /// Prometheus text: when each served name's certificate expires (Unix seconds),
    /// labelled with where it came from, for `GET /metrics`.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write as _;
        let layers = self.layers.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.current.load();
        let mut rows = std::collections::BTreeMap::new();
        for (layer, (names, _)) in layers.iter() {
            for (name, key) in names {
                // Only the layer actually serving the name.
                let served = match name.strip_prefix("*.") {
                    Some(parent) => current.wildcard.get(parent),
                    None => current.exact.get(name.as_str()),
                };
                if !served.is_some_and(|s| Arc::ptr_eq(s, key)) {
                    continue;
                }
                if let Ok(info) = crate::pem::info(&key.cert[0]) {
                    rows.insert(name.clone(), (*layer, info.not_after.timestamp()));
                }
            }
        }
        let mut out = String::from(
            "# HELP paas_certificate_expiry_timestamp_seconds When the certificate the router serves for a name expires.\n\
             # TYPE paas_certificate_expiry_timestamp_seconds gauge\n",
        );
        for (name, (layer, expiry)) in rows {
            let source = match layer {
                Layer::Uploaded => "uploaded",
                Layer::Acme => "acme",
                Layer::Operator => "operator",
                Layer::Local => "local",
            };
            let _ = writeln!(
                out,
                "paas_certificate_expiry_timestamp_seconds{{host=\"{name}\",source=\"{source}\"}} {expiry}"
            );
        }
        out
    }
}

impl ResolvesServerCert for CertTable {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN))
        {
            // A CA validating TLS-ALPN-01 gets the challenge certificate or nothing
            // (RFC 8737 §3: never the name's ordinary certificate).
            return hello
                .server_name()
                .and_then(|name| self.alpn_challenges.load().get(name).cloned());
        }
        let lookup = self.current.load();
        match hello.server_name() {
            // rustls hands over SNI lowercased and without a trailing dot.
            Some(name) => lookup.get(name).or(lookup.fallback.as_ref()).cloned(),
            None => lookup.fallback.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn key(name: &str) -> Arc<CertifiedKey> {
        let made = rcgen::generate_simple_self_signed(vec![name.to_owned()]).unwrap();
        let parsed = crate::pem::parse(
            &made.cert.pem(),
            &made.signing_key.serialize_pem(),
            chrono::Utc::now(),
        )
        .unwrap();
        parsed.key
    }

    #[test]
    fn higher_layers_win_and_wildcards_cover_one_label() {
        let table = CertTable::new();
        let local = key("a.example.com");
        let wildcard = key("*.example.com");
        let uploaded = key("a.example.com");
        table.set_layer(
            Layer::Local,
            [("a.example.com".into(), local.clone())].into(),
            None,
        );
        assert!(Arc::ptr_eq(&table.get("A.example.com").unwrap(), &local));
        table.set_layer(
            Layer::Operator,
            [("*.example.com".into(), wildcard.clone())].into(),
            Some(wildcard.clone()),
        );
        assert!(
            Arc::ptr_eq(&table.get("a.example.com").unwrap(), &local),
            "exact names beat wildcards"
        );
        assert!(Arc::ptr_eq(&table.get("b.example.com").unwrap(), &wildcard));
        assert!(table.get("c.b.example.com").is_none());
        assert!(table.covered_above(Layer::Local, "z.example.com"));
        assert!(!table.covered_above(Layer::Operator, "z.example.com"));
        table.set_layer(
            Layer::Uploaded,
            [("a.example.com".into(), uploaded.clone())].into(),
            None,
        );
        assert!(Arc::ptr_eq(&table.get("a.example.com").unwrap(), &uploaded));
        let metrics = table.render_metrics();
        assert!(
            metrics.contains("paas_certificate_expiry_timestamp_seconds{host=\"a.example.com\",source=\"uploaded\"} "),
            "{metrics}"
        );
        assert!(
            metrics.contains("{host=\"*.example.com\",source=\"operator\"}"),
            "{metrics}"
        );
        assert!(
            !metrics.contains("source=\"local\""),
            "shadowed names are not the served ones: {metrics}"
        );
        table.set_layer(Layer::Uploaded, Names::new(), None);
        assert!(
            Arc::ptr_eq(&table.get("a.example.com").unwrap(), &local),
            "removed"
        );
    }
}
