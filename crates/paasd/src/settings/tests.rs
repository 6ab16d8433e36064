//! The settings' tests: defaults, each group's variables, path resolution, refusals
//! naming their variable, and the env file listing every variable read.

use super::parse::parse_bytes;
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
    let tuned = settings(&[("PAAS_ROUTER_TIMEOUT", "55"), ("PAAS_ROUTER_THREADS", "3")]).unwrap();
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
    let sources = [
        include_str!("../settings.rs"),
        include_str!("backups.rs"),
        include_str!("build.rs"),
        include_str!("dynos.rs"),
        include_str!("parse.rs"),
        include_str!("router.rs"),
        include_str!("tls.rs"),
    ];
    let mut read = std::collections::BTreeSet::new();
    for source in sources {
        let code = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
        for piece in code.split('"').skip(1).step_by(2) {
            if ((piece.starts_with("PAAS_") && piece.len() > 5) || piece == "DATABASE_URL")
                && piece.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            {
                read.insert(piece);
            }
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
