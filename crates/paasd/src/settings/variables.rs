//! The list of every variable paasd reads (`VARIABLES`), and the environment file made
//! from it (`paasd env-file`, written by `scripts/install`).

/// Every variable paasd reads, with its default and what it does: the environment file
/// `scripts/install` writes (`paasd env-file`), each line commented with its default.
/// A test keeps it complete: every variable the settings modules read must be listed.
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
