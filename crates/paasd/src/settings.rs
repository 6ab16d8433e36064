//! paasd's configuration: the environment, read once at start (SPEC §2). Library crates
//! never read environment variables; they get plain values from here.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Every variable paasd reads, with its default and what it does: the environment file
/// `scripts/install` writes (`paasd env-file`), each line commented with its default.
/// A test keeps it complete: every variable this file reads must be listed.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "",
        "Postgres URL; unset: paasd runs its own cluster under $PAAS_DATA_DIR/postgres",
    ),
    (
        "PAAS_DATA_DIR",
        "./.paas",
        "git repositories, build caches, embedded Postgres, unpacked buildpacks",
    ),
    (
        "PAAS_API_ADDR",
        "127.0.0.1:5000",
        "control API and git endpoint",
    ),
    (
        "PAAS_PUBLIC_URL",
        "http://<PAAS_API_ADDR>",
        "how clients reach the API (git_url, TLS host)",
    ),
    ("PAAS_ROUTER_ADDR", "0.0.0.0:8080", "the router"),
    (
        "PAAS_DOMAIN",
        "localhost",
        "apps answer at <app>.<PAAS_DOMAIN>",
    ),
    (
        "PAAS_STACK_IMAGE",
        "paas/stack:bookworm",
        "base image of buildpack builds and dynos (paasd stack build makes it)",
    ),
    ("PAAS_DB_MAX_CONNECTIONS", "10", "database pool size"),
    (
        "PAAS_BUILDPACKS_DIR",
        "",
        "unset: the buildpacks built into paasd; set: a directory of buildpacks",
    ),
    (
        "PAAS_BUILD_MEMORY",
        "2g",
        "memory cap of each build container",
    ),
    ("PAAS_BUILD_CPUS", "1.5", "CPU cap of each build container"),
    (
        "PAAS_BUILD_CA_BUNDLE",
        "/etc/ssl/certs/ca-certificates.crt",
        "CA bundle mounted into builds; none for none",
    ),
    (
        "HTTP_PROXY",
        "",
        "passed to builds (also HTTPS_PROXY, NO_PROXY and the lower-case forms)",
    ),
    ("HTTPS_PROXY", "", "passed to builds"),
    ("NO_PROXY", "", "passed to builds"),
    ("PAAS_DYNO_MEMORY", "512m", "memory limit of each dyno"),
    (
        "PAAS_DYNO_GRACE",
        "30",
        "seconds between SIGTERM and SIGKILL when a dyno stops",
    ),
    (
        "PAAS_HEALTH_TIMEOUT",
        "60",
        "seconds a new web dyno has to accept connections",
    ),
    (
        "PAAS_DYNO_DISK",
        "1g",
        "each dyno's writable filesystem (a /tmp tmpfs where the storage driver cannot bound it)",
    ),
    (
        "PAAS_DYNO_LOG_SIZE",
        "10m",
        "what Docker keeps of each dyno's output, per file",
    ),
    (
        "PAAS_DYNO_LOG_FILES",
        "3",
        "rotated output files kept per dyno",
    ),
    (
        "PAAS_NETWORK_POOL",
        "10.250.0.0/15",
        "where app networks get their /25 subnets",
    ),
    (
        "PAAS_INSTANCE",
        "paas",
        "label of this installation's containers",
    ),
    (
        "PAAS_RUNTIME",
        "docker",
        "where dynos run: docker (this engine) or swarm (DOCKER_HOST is a Swarm manager)",
    ),
    (
        "PAAS_REGISTRY",
        "",
        "with PAAS_RUNTIME=swarm: host:port of the registry every node pulls release images from",
    ),
    (
        "PAAS_SWARM_NODE_SOCKET",
        "/var/run/docker.sock",
        "with PAAS_RUNTIME=swarm: each node's Docker socket, mounted into the job that removes a deleted app's images there ({{.Node.Hostname}} allowed)",
    ),
    (
        "PAAS_TLS_ADDR",
        "127.0.0.1:5443",
        "the TLS port (heroku run, https git remotes); off for none",
    ),
    (
        "PAAS_TLS_CERT",
        "",
        "PEM certificate of the TLS port; unset: self-signed under $PAAS_DATA_DIR/tls",
    ),
    (
        "PAAS_TLS_KEY",
        "",
        "PEM key of the TLS port (with PAAS_TLS_CERT)",
    ),
    (
        "PAAS_ROUTER_TLS_ADDR",
        "0.0.0.0:8443",
        "the router's HTTPS listener (:443 in production; off: none)",
    ),
    (
        "PAAS_ROUTER_TLS_CERT",
        "",
        "PEM certificate the router serves for its names (unset: paasd's local CA)",
    ),
    ("PAAS_ROUTER_TLS_KEY", "", "PEM key of PAAS_ROUTER_TLS_CERT"),
    (
        "PAAS_ACME_DIRECTORY",
        "Let's Encrypt production",
        "ACME directory for custom domains' certificates (off: none)",
    ),
    ("PAAS_ACME_EMAIL", "", "the ACME account's contact"),
    (
        "PAAS_ACME_CHALLENGES",
        "http-01,tls-alpn-01",
        "challenge types the router answers, preferred first (the next after a failure)",
    ),
    (
        "PAAS_ACME_CA_ROOT",
        "",
        "PEM root to trust for the ACME directory's own HTTPS",
    ),
    (
        "PAAS_SECRET_KEY",
        "$PAAS_DATA_DIR/secret.key",
        "64 hex digits sealing private keys in the database (default: read from that file)",
    ),
    ("PAAS_ROUTER_THREADS", "one per core", "router threads"),
    (
        "PAAS_ROUTER_CONNECT_TIMEOUT",
        "5",
        "seconds to connect to a dyno (then H19)",
    ),
    (
        "PAAS_ROUTER_TIMEOUT",
        "30",
        "seconds to a response's first byte (then H12)",
    ),
    (
        "PAAS_ROUTER_DRAIN_TIMEOUT",
        "25",
        "seconds in-flight requests get at shutdown (the unit's TimeoutStopSec is longer)",
    ),
    (
        "PAAS_ROUTER_MAX_CONNECTIONS",
        "10000",
        "client connections served at once",
    ),
    (
        "PAAS_BACKUP_SCHEDULE",
        "off",
        "scheduled platform backups: every 24h, 6h, 30m … (off: none; paasd backup --to FILE by hand)",
    ),
    (
        "PAAS_BACKUP_KEEP",
        "7",
        "scheduled backups kept (older ones are removed)",
    ),
    (
        "PAAS_BACKUP_DIR",
        "$PAAS_DATA_DIR/backups",
        "where scheduled platform backups are written, and add-on backups under addons/ (another disk, or a mount of another server)",
    ),
    (
        "PAAS_LOG_FORMAT",
        "json (pretty on a terminal)",
        "paasd's own log format: json or pretty",
    ),
    ("RUST_LOG", "info", "paasd's log filter"),
];

/// The settings set in this process's environment, by name (what a backup keeps).
pub fn set_variables() -> Vec<(String, String)> {
    VARIABLES
        .iter()
        .filter_map(|(name, _, _)| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.trim().is_empty())
                .map(|v| ((*name).to_owned(), v))
        })
        .collect()
}

/// The environment file: every variable commented with its default, except `set` ones.
pub fn env_file(set: &[(String, String)]) -> String {
    let mut out = String::from(
        "# paasd's settings (environment only; see the README). Each line shows a default:\n\
         # uncomment and change it. Read by paasd.service (EnvironmentFile=).\n",
    );
    for (name, default, meaning) in VARIABLES {
        let literal = !(default.is_empty() || default.contains([' ', '<', '$']));
        if literal {
            out.push_str(&format!("\n# {meaning}\n"));
        } else {
            let default = if default.is_empty() { "unset" } else { default };
            out.push_str(&format!("\n# {meaning} (default: {default})\n"));
        }
        match set.iter().find(|(k, _)| k == name) {
            Some((_, value)) => out.push_str(&format!("{name}={value}\n")),
            None if literal => out.push_str(&format!("#{name}={default}\n")),
            None => out.push_str(&format!("#{name}=\n")),
        }
    }
    out
}

#[derive(Debug, Clone)]
pub struct Settings {
    /// `None`: run the embedded cluster under `data_dir/postgres`.
    pub database_url: Option<String>,
    pub data_dir: PathBuf,
    pub api_addr: SocketAddr,
    pub router_addr: SocketAddr,
    pub domain: String,
    pub public_url: String,
    pub stack_image: String,
    pub log_format: Option<LogFormat>,
    pub db_max_connections: u32,
    pub build: BuildConfig,
    pub dynos: DynoConfig,
    pub router: RouterConfig,
    pub tls: TlsConfig,
    pub backups: BackupConfig,
}

/// Scheduled platform backups (`crate::backup::run_schedule`).
#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// `PAAS_BACKUP_SCHEDULE` (`off`): the time between two backups.
    pub every: Option<std::time::Duration>,
    /// `PAAS_BACKUP_KEEP` (7): how many scheduled backups stay.
    pub keep: usize,
    /// `PAAS_BACKUP_DIR` (`$PAAS_DATA_DIR/backups`, made on first use).
    pub dir: Option<PathBuf>,
}

/// The TLS port, for what the heroku CLI only does over TLS (`heroku run`'s rendezvous,
/// `https://` git remotes).
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// `PAAS_TLS_ADDR`; `None` (`off`): no TLS port.
    pub addr: Option<SocketAddr>,
    /// `PAAS_TLS_CERT` and `PAAS_TLS_KEY` (PEM); `None`: a self-signed certificate made
    /// once under `data_dir/tls`.
    pub cert_and_key: Option<(PathBuf, PathBuf)>,
}

/// How dynos run (SPEC §4).
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

#[derive(Debug, Clone)]
pub struct DynoConfig {
    pub memory_bytes: i64,
    /// `PAAS_DYNO_DISK` (1g): each dyno's writable filesystem.
    pub disk_bytes: i64,
    /// `PAAS_DYNO_LOG_SIZE` (10m) × `PAAS_DYNO_LOG_FILES` (3): a dyno's output kept on disk.
    pub log_file_bytes: i64,
    pub log_files: u32,
    pub grace_secs: i32,
    pub health_timeout_secs: u64,
    /// Labels this installation's containers (two paasd on one Docker engine).
    pub instance: String,
    /// `PAAS_NETWORK_POOL` (10.250.0.0/15): where app networks get their subnets.
    pub network_pool: paas_docker::NetworkPool,
    /// `PAAS_RUNTIME`: where formation dynos run.
    pub runtime: Runtime,
}

/// `PAAS_RUNTIME`: the engine that runs formation dynos.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runtime {
    /// `docker` (the default): containers on the engine at `DOCKER_HOST`.
    Docker,
    /// `swarm`: services on the Swarm whose manager is at `DOCKER_HOST`, pulling release
    /// images from `PAAS_REGISTRY` (`host:port`); a deleted app's images are removed
    /// from each node through its socket at `PAAS_SWARM_NODE_SOCKET` (a path, Swarm
    /// templates allowed).
    Swarm {
        registry: String,
        node_socket: String,
    },
}

impl DynoConfig {
    /// The limits every dyno container gets (formation, one-off, release phase).
    pub fn limits(&self) -> paas_core::runtime::DynoLimits {
        paas_core::runtime::DynoLimits {
            memory_bytes: self.memory_bytes,
            disk_bytes: self.disk_bytes,
            log_file_bytes: self.log_file_bytes,
            log_files: self.log_files,
            ..Default::default()
        }
    }
}

/// How builds run (SPEC §6): caps, and what they need to reach package registries.
#[derive(Debug, Clone)]
pub struct BuildConfig {
    /// `PAAS_BUILDPACKS_DIR`; `None`: the buildpacks embedded in paasd, unpacked under
    /// `data_dir/buildpacks` (`crate::buildpacks`).
    pub buildpacks_dir: Option<PathBuf>,
    pub ca_bundle: Option<PathBuf>,
    pub memory_bytes: i64,
    pub nano_cpus: i64,
    pub proxy_env: Vec<(String, String)>,
}

/// This host's IPv4 routes (`/proc/net/route`), but for Docker's own bridges: app
/// networks must not shadow a route the host uses.
fn host_routes() -> Vec<(std::net::Ipv4Addr, u8)> {
    let Ok(table) = std::fs::read_to_string("/proc/net/route") else {
        return Vec::new();
    };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (iface, dest, mask) = (f.first()?, f.get(1)?, f.get(7)?);
            if iface.starts_with("docker") || iface.starts_with("br-") || iface.starts_with("veth")
            {
                return None;
            }
            // Little-endian hex, as the kernel prints them.
            let dest = u32::from_str_radix(dest, 16).ok()?.swap_bytes();
            let mask = u32::from_str_radix(mask, 16).ok()?.swap_bytes();
            Some((std::net::Ipv4Addr::from(dest), mask.count_ones() as u8))
        })
        .collect()
}

/// `512m`, `2g`, `1073741824`.
fn parse_bytes(name: &str, raw: &str) -> anyhow::Result<i64> {
    parse_size(name, raw, 64 << 20)
}

/// A size of at least `min` bytes.
fn parse_size(name: &str, raw: &str, min: i64) -> anyhow::Result<i64> {
    let raw = raw.trim().to_ascii_lowercase();
    let (digits, unit) = match raw.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => raw.split_at(i),
        None => (raw.as_str(), ""),
    };
    let n: i64 = digits
        .parse()
        .with_context(|| format!("{name}={raw:?} is not a size like 512m or 2g"))?;
    let factor = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => bail!("{name}={raw:?} is not a size like 512m or 2g"),
    };
    let bytes = n.checked_mul(factor).filter(|b| *b >= min);
    bytes.with_context(|| format!("{name}={raw:?} must be at least {}m", min >> 20))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl Settings {
    /// Where add-on backups are kept: `addons/` in `PAAS_BACKUP_DIR` (beside the platform's
    /// scheduled backups, which prune only their own files).
    pub fn addon_backup_dir(&self) -> PathBuf {
        self.backups
            .dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("backups"))
            .join("addons")
    }

    /// The environment, with relative paths resolved against the working directory.
    pub fn from_env() -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("the working directory is unreadable")?;
        Self::from_lookup(|name| std::env::var(name).ok())?.resolve_paths(&cwd)
    }

    /// Makes every path setting absolute (against `cwd`), once, so nothing later depends
    /// on the working directory; a path that must exist and does not is an error naming
    /// its variable. `PAAS_DATA_DIR` is made on first start, so only its parent must exist.
    pub fn resolve_paths(mut self, cwd: &Path) -> anyhow::Result<Self> {
        let absolute = |path: &Path| -> PathBuf {
            let joined = if path.is_absolute() {
                path.to_owned()
            } else {
                cwd.join(path)
            };
            // `a/./b/../c` → `a/c` without touching the disk (the path may not exist yet).
            let mut clean = PathBuf::new();
            for part in joined.components() {
                match part {
                    std::path::Component::CurDir => {}
                    std::path::Component::ParentDir => {
                        clean.pop();
                    }
                    other => clean.push(other),
                }
            }
            clean
        };
        self.data_dir = absolute(&self.data_dir);
        match self.data_dir.parent() {
            Some(parent) if !self.data_dir.is_dir() && !parent.is_dir() => bail!(
                "PAAS_DATA_DIR={} does not exist and neither does its parent {}",
                self.data_dir.display(),
                parent.display()
            ),
            _ if self.data_dir.exists() && !self.data_dir.is_dir() => bail!(
                "PAAS_DATA_DIR={} is not a directory",
                self.data_dir.display()
            ),
            _ => {}
        }
        if let Some(dir) = &self.build.buildpacks_dir {
            let dir = absolute(dir);
            if !dir.is_dir() {
                bail!(
                    "PAAS_BUILDPACKS_DIR={} is not a directory (unset it to use the buildpacks built into paasd)",
                    dir.display()
                );
            }
            self.build.buildpacks_dir = Some(dir);
        }
        self.build.ca_bundle = self.build.ca_bundle.as_deref().map(absolute);
        match &self.backups.dir {
            Some(dir) => {
                let dir = absolute(dir);
                if !dir.is_dir() {
                    bail!("PAAS_BACKUP_DIR={} is not a directory", dir.display());
                }
                self.backups.dir = Some(dir);
            }
            None => self.backups.dir = Some(self.data_dir.join("backups")),
        }
        if let Some((cert, key)) = &self.tls.cert_and_key {
            let (cert, key) = (absolute(cert), absolute(key));
            for (name, path) in [("PAAS_TLS_CERT", &cert), ("PAAS_TLS_KEY", &key)] {
                if !path.is_file() {
                    bail!("{name}={} is not a file", path.display());
                }
            }
            self.tls.cert_and_key = Some((cert, key));
        }
        Ok(self)
    }

    /// Reads settings through `lookup`, so tests can pass a map. Every error names the
    /// variable and the value it refused.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let addr = |name: &str, default: &str| -> anyhow::Result<SocketAddr> {
            let raw = get(name).unwrap_or_else(|| default.to_owned());
            raw.trim()
                .parse()
                .with_context(|| format!("{name}={raw:?} is not a socket address like {default}"))
        };
        let database_url = get("DATABASE_URL");
        if let Some(url) = database_url
            .as_deref()
            .filter(|url| !(url.starts_with("postgres://") || url.starts_with("postgresql://")))
        {
            // Only the scheme: the rest of a URL may hold a password.
            let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
            bail!("DATABASE_URL must be a postgres:// URL (its scheme is {scheme:?})");
        }
        let api_addr = addr("PAAS_API_ADDR", "127.0.0.1:5000")?;
        let router_addr = addr("PAAS_ROUTER_ADDR", "0.0.0.0:8080")?;
        let domain = get("PAAS_DOMAIN")
            .unwrap_or_else(|| "localhost".into())
            .trim()
            .to_ascii_lowercase();
        if domain.is_empty()
            || !domain.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
        {
            bail!("PAAS_DOMAIN={domain:?} is not a domain name like localhost or apps.example.com");
        }
        let public_url = match get("PAAS_PUBLIC_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                url.trim_end_matches('/').to_owned()
            }
            Some(url) => bail!("PAAS_PUBLIC_URL={url:?} must start with http:// or https://"),
            None => {
                let host = if api_addr.ip().is_unspecified() {
                    "127.0.0.1".to_owned()
                } else {
                    api_addr.ip().to_string()
                };
                format!("http://{host}:{}", api_addr.port())
            }
        };
        let log_format = match get("PAAS_LOG_FORMAT").as_deref() {
            None => None,
            Some("json") => Some(LogFormat::Json),
            Some("pretty") => Some(LogFormat::Pretty),
            Some(other) => bail!("PAAS_LOG_FORMAT={other:?} must be json or pretty"),
        };
        let db_max_connections = match get("PAAS_DB_MAX_CONNECTIONS") {
            None => 10,
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(n @ 1..=1000) => n,
                _ => bail!("PAAS_DB_MAX_CONNECTIONS={raw:?} must be a number from 1 to 1000"),
            },
        };
        let build = BuildConfig {
            buildpacks_dir: get("PAAS_BUILDPACKS_DIR").map(PathBuf::from),
            ca_bundle: match get("PAAS_BUILD_CA_BUNDLE").as_deref() {
                Some("none") => None,
                Some(path) => {
                    let path = PathBuf::from(path);
                    if !path.is_file() {
                        bail!(
                            "PAAS_BUILD_CA_BUNDLE={} is not a file (use none to mount no bundle)",
                            path.display()
                        );
                    }
                    Some(path)
                }
                None => Some(PathBuf::from("/etc/ssl/certs/ca-certificates.crt"))
                    .filter(|p| p.is_file()),
            },
            memory_bytes: match get("PAAS_BUILD_MEMORY") {
                None => paas_builder::Limits::BUILD_DEFAULT.memory_bytes,
                Some(raw) => parse_bytes("PAAS_BUILD_MEMORY", &raw)?,
            },
            nano_cpus: match get("PAAS_BUILD_CPUS") {
                None => paas_builder::Limits::BUILD_DEFAULT.nano_cpus,
                Some(raw) => match raw.trim().parse::<f64>() {
                    Ok(cpus) if (0.1..=512.0).contains(&cpus) => (cpus * 1e9) as i64,
                    _ => bail!("PAAS_BUILD_CPUS={raw:?} must be a number of CPUs like 1.5"),
                },
            },
            proxy_env: [
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "NO_PROXY",
                "http_proxy",
                "https_proxy",
                "no_proxy",
            ]
            .iter()
            .filter_map(|k| get(k).map(|v| ((*k).to_owned(), v)))
            .collect(),
        };
        let seconds = |name: &str, default: u64, max: u64| -> anyhow::Result<u64> {
            match get(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().trim_end_matches('s').parse::<u64>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => bail!("{name}={raw:?} must be a number of seconds from 1 to {max}"),
                },
            }
        };
        let instance = get("PAAS_INSTANCE").unwrap_or_else(|| "paas".into());
        if !instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            || instance.len() > 64
        {
            bail!("PAAS_INSTANCE={instance:?} must be up to 64 letters, digits, '-' or '_'");
        }
        let network_pool = {
            let raw = get("PAAS_NETWORK_POOL").unwrap_or_else(|| "10.250.0.0/15".into());
            let pool = paas_docker::NetworkPool::parse(&raw)
                .map_err(|e| anyhow::anyhow!("PAAS_NETWORK_POOL: {e}"))?;
            if let Some((addr, prefix)) = host_routes()
                .into_iter()
                .find(|(addr, prefix)| *prefix > 0 && pool.overlaps(*addr, *prefix))
            {
                bail!(
                    "PAAS_NETWORK_POOL={pool} overlaps this host's route to {addr}/{prefix}: choose another private range"
                );
            }
            pool
        };
        let runtime = match get("PAAS_RUNTIME").as_deref().map(str::trim) {
            None | Some("" | "docker") => Runtime::Docker,
            Some("swarm") => match get("PAAS_REGISTRY").map(|r| r.trim().to_owned()) {
                Some(registry) if !registry.is_empty() && !registry.contains('/') => {
                    let node_socket = get("PAAS_SWARM_NODE_SOCKET")
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .unwrap_or_else(|| "/var/run/docker.sock".into());
                    if !node_socket.starts_with('/') {
                        bail!(
                            "PAAS_SWARM_NODE_SOCKET={node_socket:?} must be an absolute path (Swarm templates such as {{{{.Node.Hostname}}}} allowed)"
                        );
                    }
                    Runtime::Swarm {
                        registry,
                        node_socket,
                    }
                }
                _ => bail!(
                    "PAAS_RUNTIME=swarm needs PAAS_REGISTRY=host:port, the registry every node pulls release images from"
                ),
            },
            Some(other) => bail!("PAAS_RUNTIME={other:?} must be docker or swarm"),
        };
        let dynos = DynoConfig {
            runtime,
            network_pool,
            memory_bytes: parse_bytes(
                "PAAS_DYNO_MEMORY",
                &get("PAAS_DYNO_MEMORY").unwrap_or_else(|| "512m".into()),
            )?,
            disk_bytes: parse_bytes(
                "PAAS_DYNO_DISK",
                &get("PAAS_DYNO_DISK").unwrap_or_else(|| "1g".into()),
            )?,
            log_file_bytes: parse_size(
                "PAAS_DYNO_LOG_SIZE",
                &get("PAAS_DYNO_LOG_SIZE").unwrap_or_else(|| "10m".into()),
                1 << 20,
            )?,
            log_files: match get("PAAS_DYNO_LOG_FILES") {
                None => 3,
                Some(raw) => match raw.trim().parse::<u32>() {
                    Ok(n) if (1..=100).contains(&n) => n,
                    _ => bail!("PAAS_DYNO_LOG_FILES={raw:?} must be a whole number from 1 to 100"),
                },
            },
            grace_secs: seconds("PAAS_DYNO_GRACE", 30, 3600)? as i32,
            health_timeout_secs: seconds("PAAS_HEALTH_TIMEOUT", 60, 3600)?,
            instance,
        };
        let tls = TlsConfig {
            addr: match get("PAAS_TLS_ADDR").as_deref().map(str::trim) {
                Some("off") => None,
                _ => Some(addr("PAAS_TLS_ADDR", "127.0.0.1:5443")?),
            },
            cert_and_key: match (get("PAAS_TLS_CERT"), get("PAAS_TLS_KEY")) {
                (Some(cert), Some(key)) => Some((cert.into(), key.into())),
                (None, None) => None,
                _ => bail!("PAAS_TLS_CERT and PAAS_TLS_KEY must be set together"),
            },
        };
        let count = |name: &str, default: usize, max: usize| -> anyhow::Result<usize> {
            match get(name) {
                None => Ok(default),
                Some(raw) => match raw.trim().parse::<usize>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(n),
                    _ => bail!("{name}={raw:?} must be a number from 1 to {max}"),
                },
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let router = RouterConfig {
            threads: count("PAAS_ROUTER_THREADS", cores, 1024)?,
            connect_timeout_secs: seconds("PAAS_ROUTER_CONNECT_TIMEOUT", 5, 300)?,
            first_byte_timeout_secs: seconds("PAAS_ROUTER_TIMEOUT", 30, 3600)?,
            drain_timeout_secs: seconds("PAAS_ROUTER_DRAIN_TIMEOUT", 25, 3600)?,
            max_connections: count("PAAS_ROUTER_MAX_CONNECTIONS", 10_000, 1_000_000)?,
            tls_addr: match get("PAAS_ROUTER_TLS_ADDR").as_deref().map(str::trim) {
                Some("off") => None,
                _ => Some(addr("PAAS_ROUTER_TLS_ADDR", "0.0.0.0:8443")?),
            },
            tls_cert_and_key: match (get("PAAS_ROUTER_TLS_CERT"), get("PAAS_ROUTER_TLS_KEY")) {
                (Some(cert), Some(key)) => Some((cert.into(), key.into())),
                (None, None) => None,
                _ => bail!("PAAS_ROUTER_TLS_CERT and PAAS_ROUTER_TLS_KEY must be set together"),
            },
            acme: AcmeConfig {
                directory: match get("PAAS_ACME_DIRECTORY").as_deref().map(str::trim) {
                    Some("off") => None,
                    Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                        Some(url.to_owned())
                    }
                    Some(url) => {
                        bail!("PAAS_ACME_DIRECTORY={url:?} must be an https:// URL or off")
                    }
                    None => Some("https://acme-v02.api.letsencrypt.org/directory".to_owned()),
                },
                email: get("PAAS_ACME_EMAIL"),
                ca_root: get("PAAS_ACME_CA_ROOT").map(PathBuf::from),
                challenges: match get("PAAS_ACME_CHALLENGES") {
                    Some(list) => list
                        .split(',')
                        .map(|c| {
                            paas_tls::acme::Challenge::parse(c).with_context(|| {
                                format!("PAAS_ACME_CHALLENGES={list:?}: {c:?} is not http-01 or tls-alpn-01")
                            })
                        })
                        .collect::<anyhow::Result<_>>()?,
                    None => vec![
                        paas_tls::acme::Challenge::Http01,
                        paas_tls::acme::Challenge::TlsAlpn01,
                    ],
                },
                secret_key: match get("PAAS_SECRET_KEY") {
                    Some(key) if key.len() == 64 && key.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        Some(key)
                    }
                    Some(_) => bail!("PAAS_SECRET_KEY must be 64 hex digits (32 bytes)"),
                    None => None,
                },
            },
        };
        let backups = BackupConfig {
            every: match get("PAAS_BACKUP_SCHEDULE").as_deref().map(str::trim) {
                None | Some("off") => None,
                Some(raw) => Some(
                    crate::tokens::parse_duration(raw)
                        .map_err(|e| anyhow::anyhow!("PAAS_BACKUP_SCHEDULE: {e} (or off)"))?,
                ),
            },
            keep: count("PAAS_BACKUP_KEEP", 7, 1000)?,
            dir: get("PAAS_BACKUP_DIR").map(PathBuf::from),
        };
        Ok(Self {
            backups,
            dynos,
            build,
            tls,
            router,
            database_url,
            data_dir: PathBuf::from(get("PAAS_DATA_DIR").unwrap_or_else(|| "./.paas".into())),
            api_addr,
            router_addr,
            domain,
            public_url,
            stack_image: get("PAAS_STACK_IMAGE").unwrap_or_else(|| "paas/stack:bookworm".into()),
            log_format,
            db_max_connections,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_follow_the_spec() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.api_addr.to_string(), "127.0.0.1:5000");
        assert_eq!(s.router_addr.to_string(), "0.0.0.0:8080");
        assert_eq!(s.domain, "localhost");
        assert_eq!(s.public_url, "http://127.0.0.1:5000");
        assert_eq!(s.data_dir, PathBuf::from("./.paas"));
        assert!(s.database_url.is_none());
        assert_eq!(s.build.memory_bytes, 2 << 30);
        assert_eq!(s.build.nano_cpus, 1_500_000_000);
        assert_eq!(
            s.tls.addr.map(|a| a.to_string()).as_deref(),
            Some("127.0.0.1:5443")
        );
        assert!(s.tls.cert_and_key.is_none());
        assert_eq!(s.router.first_byte_timeout_secs, 30);
        assert_eq!(s.router.connect_timeout_secs, 5);
        assert!(s.router.threads >= 1);
        assert_eq!(
            s.router.tls_addr.map(|a| a.to_string()).as_deref(),
            Some("0.0.0.0:8443")
        );
        assert!(s.router.tls_cert_and_key.is_none());
        let tuned =
            settings(&[("PAAS_ROUTER_TIMEOUT", "55"), ("PAAS_ROUTER_THREADS", "3")]).unwrap();
        assert_eq!(
            (tuned.router.first_byte_timeout_secs, tuned.router.threads),
            (55, 3)
        );
    }

    #[test]
    fn the_swarm_runtime_mounts_each_nodes_socket_from_its_setting() {
        let swarm = |extra: &[(&str, &str)]| {
            let mut vars = vec![
                ("PAAS_RUNTIME", "swarm"),
                ("PAAS_REGISTRY", "10.0.0.1:5601"),
            ];
            vars.extend_from_slice(extra);
            settings(&vars).map(|s| s.dynos.runtime)
        };
        assert_eq!(
            swarm(&[]).unwrap(),
            Runtime::Swarm {
                registry: "10.0.0.1:5601".into(),
                node_socket: "/var/run/docker.sock".into()
            }
        );
        let template = "/run/nodes/{{.Node.Hostname}}/docker.sock";
        assert_eq!(
            swarm(&[("PAAS_SWARM_NODE_SOCKET", template)]).unwrap(),
            Runtime::Swarm {
                registry: "10.0.0.1:5601".into(),
                node_socket: template.into()
            }
        );
        assert!(swarm(&[("PAAS_SWARM_NODE_SOCKET", "docker.sock")]).is_err());
    }

    #[test]
    fn the_tls_port_can_be_switched_off_or_given_a_certificate() {
        assert!(
            settings(&[("PAAS_TLS_ADDR", "off")])
                .unwrap()
                .tls
                .addr
                .is_none()
        );
        let s = settings(&[("PAAS_TLS_CERT", "/c.pem"), ("PAAS_TLS_KEY", "/k.pem")]).unwrap();
        assert_eq!(
            s.tls.cert_and_key,
            Some((PathBuf::from("/c.pem"), PathBuf::from("/k.pem")))
        );
        let off = settings(&[
            ("PAAS_ROUTER_TLS_ADDR", "off"),
            ("PAAS_ACME_DIRECTORY", "off"),
        ])
        .unwrap();
        assert!(off.router.tls_addr.is_none() && off.router.acme.directory.is_none());
        let on = settings(&[
            ("PAAS_ROUTER_TLS_ADDR", "0.0.0.0:443"),
            ("PAAS_SECRET_KEY", &"0f".repeat(32)),
        ])
        .unwrap();
        assert_eq!(on.router.tls_addr.map(|a| a.port()), Some(443));
        assert!(
            on.router
                .acme
                .directory
                .as_deref()
                .is_some_and(|d| d.contains("letsencrypt"))
        );
        let err = settings(&[("PAAS_TLS_CERT", "/c.pem")]).unwrap_err();
        assert!(format!("{err:#}").starts_with("PAAS_TLS_CERT"), "{err:#}");
        use paas_tls::acme::Challenge;
        assert_eq!(
            on.router.acme.challenges,
            [Challenge::Http01, Challenge::TlsAlpn01]
        );
        let alpn = settings(&[("PAAS_ACME_CHALLENGES", "tls-alpn-01, http-01")]).unwrap();
        assert_eq!(
            alpn.router.acme.challenges,
            [Challenge::TlsAlpn01, Challenge::Http01]
        );
        let err = settings(&[("PAAS_ACME_CHALLENGES", "dns-01")]).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("PAAS_ACME_CHALLENGES"),
            "{err:#}"
        );
    }

    #[test]
    fn relative_paths_are_resolved_once_against_the_working_directory() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(cwd.path().join("packs")).unwrap();
        std::fs::write(cwd.path().join("c.pem"), "").unwrap();
        std::fs::write(cwd.path().join("k.pem"), "").unwrap();
        let s = settings(&[
            ("PAAS_BUILDPACKS_DIR", "./packs"),
            ("PAAS_TLS_CERT", "c.pem"),
            ("PAAS_TLS_KEY", "sub/../k.pem"),
        ])
        .unwrap()
        .resolve_paths(cwd.path())
        .unwrap();
        assert_eq!(s.data_dir, cwd.path().join(".paas"));
        assert_eq!(s.build.buildpacks_dir, Some(cwd.path().join("packs")));
        assert_eq!(
            s.tls.cert_and_key,
            Some((cwd.path().join("c.pem"), cwd.path().join("k.pem")))
        );
        let embedded = settings(&[]).unwrap().resolve_paths(cwd.path()).unwrap();
        assert_eq!(embedded.build.buildpacks_dir, None);
    }

    #[test]
    fn a_path_setting_that_points_at_nothing_is_an_error_naming_it() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(cwd.path().join("file"), "").unwrap();
        for (vars, name) in [
            (
                vec![("PAAS_BUILDPACKS_DIR", "buildpacks")],
                "PAAS_BUILDPACKS_DIR",
            ),
            (vec![("PAAS_BUILDPACKS_DIR", "file")], "PAAS_BUILDPACKS_DIR"),
            (vec![("PAAS_DATA_DIR", "no/such/dir")], "PAAS_DATA_DIR"),
            (vec![("PAAS_DATA_DIR", "file")], "PAAS_DATA_DIR"),
            (vec![("PAAS_BACKUP_DIR", "no/such/dir")], "PAAS_BACKUP_DIR"),
            (
                vec![("PAAS_TLS_CERT", "file"), ("PAAS_TLS_KEY", "nokey.pem")],
                "PAAS_TLS_KEY",
            ),
        ] {
            let err = settings(&vars)
                .unwrap()
                .resolve_paths(cwd.path())
                .unwrap_err();
            assert!(format!("{err:#}").starts_with(name), "{name}: {err:#}");
        }
    }

    #[test]
    fn every_variable_read_here_is_in_the_env_file() {
        let source = include_str!("settings.rs");
        let code = &source[..source.find("#[cfg(test)]").unwrap()];
        let mut read = std::collections::BTreeSet::new();
        for piece in code.split('"').skip(1).step_by(2) {
            if ((piece.starts_with("PAAS_") && piece.len() > 5) || piece == "DATABASE_URL")
                && piece.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            {
                read.insert(piece);
            }
        }
        assert!(read.len() > 20, "{read:?}");
        for name in read {
            assert!(
                VARIABLES.iter().any(|(n, _, _)| *n == name),
                "{name} is read but not in settings::VARIABLES (the installed env file)"
            );
        }
        let file = env_file(&[("PAAS_DATA_DIR".into(), "/var/lib/paas".into())]);
        assert!(file.contains("\nPAAS_DATA_DIR=/var/lib/paas\n"), "{file}");
        assert!(file.contains("\n#PAAS_ROUTER_DRAIN_TIMEOUT=25\n"), "{file}");
        assert!(
            file.contains("(default: unset)\n#DATABASE_URL=\n"),
            "{file}"
        );
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_bytes("X", "512m").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("X", "1G").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("X", "134217728").unwrap(), 128 << 20);
    }

    #[test]
    fn malformed_values_are_refused_naming_the_variable() {
        for (name, value) in [
            ("PAAS_API_ADDR", "nope"),
            ("PAAS_ROUTER_ADDR", "1.2.3.4"),
            ("PAAS_DOMAIN", "bad domain"),
            ("PAAS_LOG_FORMAT", "xml"),
            ("DATABASE_URL", "mysql://x"),
            ("PAAS_DB_MAX_CONNECTIONS", "0"),
            ("PAAS_PUBLIC_URL", "ftp://x"),
            ("PAAS_BUILD_MEMORY", "lots"),
            ("PAAS_BUILD_MEMORY", "10m"),
            ("PAAS_BUILD_CPUS", "0"),
            ("PAAS_BUILD_CA_BUNDLE", "/no/such/file"),
            ("PAAS_DYNO_GRACE", "forever"),
            ("PAAS_HEALTH_TIMEOUT", "0"),
            ("PAAS_INSTANCE", "two words"),
            ("PAAS_TLS_ADDR", "5443"),
            ("PAAS_ROUTER_THREADS", "0"),
            ("PAAS_ROUTER_TIMEOUT", "soon"),
            ("PAAS_ROUTER_CONNECT_TIMEOUT", "0"),
            ("PAAS_ROUTER_DRAIN_TIMEOUT", "-1"),
            ("PAAS_ROUTER_MAX_CONNECTIONS", "many"),
            ("PAAS_ROUTER_TLS_ADDR", "8443"),
            ("PAAS_ROUTER_TLS_CERT", "/c.pem"),
            ("PAAS_ACME_DIRECTORY", "ftp://ca"),
            ("PAAS_SECRET_KEY", "short"),
            ("PAAS_BACKUP_SCHEDULE", "daily"),
            ("PAAS_BACKUP_KEEP", "0"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(format!("{err:#}").starts_with(name), "{name}: {err:#}");
        }
    }
}
