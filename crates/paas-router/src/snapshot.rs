//! The router's view of the route table: the supervisor's [`RouteTable`] turned into a
//! lookup-ready [`Snapshot`] (per-dyno balancing state, per-app metrics handles),
//! published through an `ArcSwap` and replaced whole on every change. The request path
//! only ever loads the current snapshot: no lock, no database, no Docker.
//!
//! A request keeps the `Arc`s of its app and dyno, so a swap never pulls a dyno from
//! under a request in flight: it finishes on the dyno it started on.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use paas_core::routes::RouteTable;

use crate::balance::BackendState;
use crate::metrics::{AppMetrics, Metrics};

/// One app as a host resolves it.
#[derive(Debug)]
pub struct App {
    pub name: String,
    pub maintenance: bool,
    pub backends: Vec<Arc<BackendState>>,
    pub metrics: Arc<AppMetrics>,
}

#[derive(Debug, Default)]
pub struct Snapshot {
    hosts: HashMap<String, Arc<App>>,
}

impl Snapshot {
    /// A snapshot of `table`, keeping the state of the dynos `previous` already knew.
    pub fn build(table: &RouteTable, previous: &Snapshot, metrics: &Metrics) -> Snapshot {
        let mut states: HashMap<SocketAddr, Arc<BackendState>> = previous
            .hosts
            .values()
            .flat_map(|app| app.backends.iter())
            .map(|b| (b.addr(), b.clone()))
            .collect();
        let mut hosts = HashMap::new();
        for (host, routes) in table.apps() {
            let backends = routes
                .backends
                .iter()
                .map(|backend| {
                    let state = states
                        .entry(backend.addr)
                        .or_insert_with(|| Arc::new(BackendState::new(backend.clone())));
                    if state.backend != *backend {
                        *state = Arc::new(BackendState::new(backend.clone()));
                    }
                    state.clone()
                })
                .collect();
            let app = App {
                name: routes.app.clone(),
                maintenance: routes.maintenance,
                backends,
                metrics: metrics.app(&routes.app),
            };
            hosts.insert(host.to_owned(), Arc::new(app));
        }
        Snapshot { hosts }
    }

    /// The app for a `Host` header value: port, case and a trailing dot ignored.
    pub fn lookup(&self, host: &str) -> Option<&Arc<App>> {
        let host = host
            .rsplit_once(':')
            .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        let host = host.strip_suffix('.').unwrap_or(host);
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            self.hosts.get(&host.to_ascii_lowercase())
        } else {
            self.hosts.get(host)
        }
    }

    pub fn backend_count(&self) -> usize {
        self.hosts.values().map(|a| a.backends.len()).sum()
    }

    pub fn host_count(&self) -> usize {
        self.hosts.len()
    }
}

#[cfg(test)]
mod tests {
    use paas_core::routes::{AppRoutes, Backend};

    use super::*;

    fn table(hosts: &[&str], backends: &[(&str, u16)]) -> RouteTable {
        let mut t = RouteTable::default();
        for host in hosts {
            t.insert(
                host,
                AppRoutes {
                    maintenance: false,
                    app: "demo".into(),
                    backends: backends
                        .iter()
                        .map(|(dyno, port)| Backend {
                            dyno: (*dyno).into(),
                            addr: SocketAddr::from(([10, 0, 0, 2], *port)),
                            version: 3,
                        })
                        .collect(),
                },
            );
        }
        t
    }

    #[test]
    fn hosts_match_without_port_case_or_trailing_dot() {
        let metrics = Metrics::default();
        let s = Snapshot::build(
            &table(&["demo.localhost", "www.example.com"], &[("web.1", 5000)]),
            &Snapshot::default(),
            &metrics,
        );
        for host in [
            "demo.localhost",
            "DEMO.localhost:8080",
            "demo.localhost.",
            "www.Example.com",
        ] {
            assert_eq!(
                s.lookup(host).map(|a| a.name.as_str()),
                Some("demo"),
                "{host}"
            );
        }
        assert!(s.lookup("other.localhost").is_none());
        assert!(s.lookup("").is_none());
    }

    #[test]
    fn dyno_state_survives_a_swap_and_is_shared_between_hosts() {
        let metrics = Metrics::default();
        let first = Snapshot::build(
            &table(&["a.localhost", "b.example.com"], &[("web.1", 5000)]),
            &Snapshot::default(),
            &metrics,
        );
        let in_flight = first.lookup("a.localhost").unwrap().backends[0].start();
        assert_eq!(
            first.lookup("b.example.com").unwrap().backends[0].outstanding(),
            1
        );
        let second = Snapshot::build(
            &table(&["a.localhost"], &[("web.1", 5000), ("web.2", 5001)]),
            &first,
            &metrics,
        );
        let app = second.lookup("a.localhost").unwrap();
        assert_eq!(app.backends[0].outstanding(), 1, "counts carry over");
        assert_eq!(app.backends[1].outstanding(), 0);
        drop(in_flight);
        assert_eq!(app.backends[0].outstanding(), 0);
        assert_eq!((second.host_count(), second.backend_count()), (1, 2));
    }
}
