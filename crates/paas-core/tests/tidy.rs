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
