//! The route table: which web dynos serve which host. The supervisor publishes a new
//! table whole whenever membership changes; the router only reads snapshots of it.

use std::collections::BTreeMap;
use std::net::SocketAddr;

/// One web dyno that is up and ready for requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// `web.2`
    pub dyno: String,
    pub addr: SocketAddr,
    pub version: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoutes {
    pub app: String,
    pub backends: Vec<Backend>,
    /// Maintenance mode: visitors get a 503 maintenance page (`H80`), not a dyno.
    pub maintenance: bool,
}

/// Host (lowercase, without port) → the app answering it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteTable {
    hosts: BTreeMap<String, AppRoutes>,
}

impl RouteTable {
    pub fn insert(&mut self, host: &str, routes: AppRoutes) {
        self.hosts.insert(host.to_ascii_lowercase(), routes);
    }

    /// The app for a `Host` header value (port and case ignored).
    pub fn lookup(&self, host: &str) -> Option<&AppRoutes> {
        let host = host
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(host, |(h, _)| h);
        self.hosts.get(&host.to_ascii_lowercase())
    }

    pub fn apps(&self) -> impl Iterator<Item = (&str, &AppRoutes)> {
        self.hosts.iter().map(|(h, r)| (h.as_str(), r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_ignores_port_and_case() {
        let mut table = RouteTable::default();
        table.insert(
            "Demo.localhost",
            AppRoutes {
                maintenance: false,
                app: "demo".into(),
                backends: vec![],
            },
        );
        assert_eq!(
            table.lookup("demo.LOCALHOST:8080").map(|r| r.app.as_str()),
            Some("demo")
        );
        assert_eq!(
            table.lookup("demo.localhost").map(|r| r.app.as_str()),
            Some("demo")
        );
        assert!(table.lookup("other.localhost").is_none());
    }
}
