//! The domain core stays pure: no async runtime, database, container engine or HTTP
//! stack among its dependencies (they would let IO creep into the rules).

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

#[test]
fn the_domain_core_depends_on_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = std::process::Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "paas-core",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(tree.contains("thiserror "), "{tree}");
    for forbidden in [
        "tokio ", "sqlx ", "bollard ", "hyper ", "axum ", "reqwest ", "mio ",
    ] {
        assert!(
            !tree.lines().any(|l| l.starts_with(forbidden)),
            "paas-core depends on {forbidden}:\n{tree}"
        );
    }
}

/// Every `.rs` file under `crates/*/src` as (path from the workspace root, text).
fn sources() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path().join("src"))
        .collect();
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                files.push((rel, std::fs::read_to_string(&path).unwrap()));
            }
        }
    }
    assert!(files.len() > 50, "found the sources: {}", files.len());
    files
}

/// Lines of the sources outside `allowed` (path prefixes) that contain `needle`.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    sources()
        .into_iter()
        .filter(|(path, _)| !allowed.iter().any(|a| path.starts_with(a)))
        .flat_map(|(path, text)| {
            text.lines()
                .enumerate()
                .filter(|(_, line)| line.contains(needle))
                .map(|(n, line)| format!("{path}:{}: {}", n + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// ARCHITECTURE: "paas-docker (with paas-swarm) are the only crates that name bollard
/// types".
#[test]
fn only_the_docker_adapters_name_bollard() {
    let found = offenders("bollard::", &["crates/paas-docker/", "crates/paas-swarm/"]);
    assert!(found.is_empty(), "{found:#?}");
}

/// ARCHITECTURE: "paas-store is the only crate that writes SQL".
#[test]
fn only_the_store_writes_sql() {
    let mut found = offenders("sqlx::query", &["crates/paas-store/"]);
    found.extend(offenders("sqlx::raw_sql", &["crates/paas-store/"]));
    assert!(found.is_empty(), "{found:#?}");
}

/// ARCHITECTURE: "paas-wire holds the only serde derives for the API, shared by server
/// and CLI so they cannot drift".
#[test]
fn api_shapes_are_derived_only_in_the_wire_crate() {
    let found: Vec<String> = ["Serialize", "Deserialize"]
        .iter()
        .flat_map(|d| {
            offenders(d, &["crates/paas-wire/"])
                .into_iter()
                .filter(|l| l.contains("derive("))
                .filter(|l| l.starts_with("crates/paas-api/") || l.starts_with("crates/paas-cli/"))
        })
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

/// ARCHITECTURE: "labels.rs: every `paas.*` key, and the only code that writes or reads
/// one": no other source spells a label key (`"paas.<word>"`).
#[test]
fn only_the_labels_module_spells_a_label_key() {
    let found: Vec<String> = offenders("\"paas.", &["crates/paas-docker/src/labels.rs"])
        .into_iter()
        .filter(|line| {
            line.match_indices("\"paas.").any(|(at, _)| {
                let key = &line[at + 6..];
                let word: String = key
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                !word.is_empty() && key[word.len()..].starts_with('"')
            })
        })
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}

/// ARCHITECTURE: "`settings` is the only reader of environment variables": in paasd
/// and the library crates, no other code reads one, but for two that are not settings:
/// `PATH`, passed on to `git http-backend` after clearing its environment, and a test's
/// switch that regenerates a generated file. (The `paas` CLI has its own settings; the
/// test harness is not paasd.)
#[test]
fn only_the_settings_read_the_environment() {
    let found: Vec<String> = offenders(
        "env::var",
        &[
            "crates/paasd/src/settings",
            "crates/paas-cli/",
            "crates/paas-testkit/",
        ],
    )
    .into_iter()
    .filter(|l| {
        let path = l.starts_with("crates/paas-builder/src/git.rs") && l.contains("\"PATH\"");
        let regenerate = l.starts_with("crates/paas-builder/src/buildpack.rs")
            && l.contains("\"PAAS_UPDATE_GENERATED\"");
        !(path || regenerate)
    })
    .collect();
    assert!(found.is_empty(), "{found:#?}");
}
