//! Keeps the [`Layer::Local`] part of the SNI table in step with the route table: every
//! local host the router serves (`<app>.localhost`) that no other layer covers gets a
//! leaf from the [`LocalCa`], re-issued before it expires; `localhost` and `127.0.0.1`
//! always have one (the certificate for clients that send no SNI).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_core::routes::RouteTable;
use rustls::sign::CertifiedKey;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::table::{CertTable, Layer, Names};
use crate::{LocalCa, TlsError, is_local_name};

/// Leaves are re-issued once this old (their lifetime is [`crate::ca::LEAF_LIFETIME`]).
const REISSUE_AFTER: Duration = Duration::from_secs(20 * 24 * 3600);

#[derive(Debug)]
pub struct LocalIssuer {
    ca: LocalCa,
    table: Arc<CertTable>,
    issued: Mutex<HashMap<String, (Arc<CertifiedKey>, Instant)>>,
}

impl LocalIssuer {
    pub fn new(ca: LocalCa, table: Arc<CertTable>) -> Self {
        Self {
            ca,
            table,
            issued: Mutex::default(),
        }
    }

    pub fn ca(&self) -> &LocalCa {
        &self.ca
    }

    /// Makes the local layer serve exactly `hosts` (those that are local names and not
    /// covered above), plus `localhost`/`127.0.0.1`.
    pub fn refresh<'a>(&self, hosts: impl IntoIterator<Item = &'a str>) -> Result<(), TlsError> {
        let mut wanted: Vec<String> = hosts
            .into_iter()
            .map(str::to_ascii_lowercase)
            .filter(|h| is_local_name(h) && !self.table.covered_above(Layer::Local, h))
            .collect();
        wanted.sort();
        wanted.dedup();
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let base = "localhost".to_owned();
        let base_entry = match issued.get(&base) {
            Some((key, at)) if at.elapsed() < REISSUE_AFTER => (key.clone(), *at),
            _ => (
                self.ca
                    .issue(&[base.clone(), "127.0.0.1".into(), "::1".into()])?,
                Instant::now(),
            ),
        };
        let base_key = base_entry.0.clone();
        let mut next = HashMap::new();
        next.insert(base.clone(), base_entry);
        for host in wanted.into_iter().filter(|h| *h != base) {
            let entry = match issued.get(&host) {
                Some((key, at)) if at.elapsed() < REISSUE_AFTER => (key.clone(), *at),
                _ => (self.ca.issue(std::slice::from_ref(&host))?, Instant::now()),
            };
            next.insert(host, entry);
        }
        let mut names: Names = next
            .iter()
            .map(|(host, (key, _))| (host.clone(), key.clone()))
            .collect();
        names.insert("127.0.0.1".into(), base_key.clone());
        self.table.set_layer(Layer::Local, names, Some(base_key));
        *issued = next;
        Ok(())
    }

    /// Follows the route table until `shutdown`, refreshing on every change and daily.
    pub async fn follow(
        self: Arc<Self>,
        mut routes: watch::Receiver<Arc<RouteTable>>,
        shutdown: CancellationToken,
    ) {
        loop {
            let table = routes.borrow_and_update().clone();
            if let Err(e) = self.refresh(table.apps().map(|(host, _)| host)) {
                tracing::error!(error = %e, "issuing local certificates failed");
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                changed = routes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(Duration::from_secs(24 * 3600)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    #[test]
    fn local_hosts_get_leaves_that_are_kept_until_due() {
        let dir = tempfile::tempdir().unwrap();
        let table = Arc::new(CertTable::new());
        let issuer = LocalIssuer::new(LocalCa::load_or_create(dir.path()).unwrap(), table.clone());
        issuer
            .refresh(["demo.localhost", "www.example.com"])
            .unwrap();
        let demo = table.get("demo.localhost").unwrap();
        assert!(table.get("localhost").is_some());
        assert!(
            table.get("www.example.com").is_none(),
            "public names are not the local CA's"
        );
        issuer.refresh(["demo.localhost", "two.localhost"]).unwrap();
        assert!(
            Arc::ptr_eq(&table.get("demo.localhost").unwrap(), &demo),
            "kept"
        );
        issuer.refresh(["two.localhost"]).unwrap();
        assert!(table.get("demo.localhost").is_none(), "gone with its app");
    }
}
