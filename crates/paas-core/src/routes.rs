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

/// Where an app's default host `<app>.<domain>` is reached from outside: over HTTPS
/// when the router serves it (as Heroku's `web_url` always is), else plain HTTP; the
/// scheme's default port is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebUrl {
    pub domain: String,
    /// The router's public plain HTTP port.
    pub http_port: u16,
    /// The router's public HTTPS port, when it has a TLS listener.
    pub https_port: Option<u16>,
}

impl WebUrl {
    /// `https://<app>.<domain>[:port]/` (or `http://…`).
    pub fn for_app(&self, app: &str) -> String {
        let (scheme, port) = match self.https_port {
            Some(443) => ("https", String::new()),
            Some(port) => ("https", format!(":{port}")),
            None if self.http_port == 80 => ("http", String::new()),
            None => ("http", format!(":{}", self.http_port)),
        };
        format!("{scheme}://{app}.{}{port}/", self.domain)
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

    #[test]
    fn web_urls_are_https_when_the_router_serves_it_and_omit_default_ports() {
        let mut url = WebUrl {
            domain: "localhost".into(),
            http_port: 8080,
            https_port: Some(8443),
        };
        assert_eq!(url.for_app("demo"), "https://demo.localhost:8443/");
        url.https_port = Some(443);
        assert_eq!(url.for_app("demo"), "https://demo.localhost/");
        url.https_port = None;
        assert_eq!(url.for_app("demo"), "http://demo.localhost:8080/");
        url.http_port = 80;
        assert_eq!(url.for_app("demo"), "http://demo.localhost/");
    }
}
