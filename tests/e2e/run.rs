//! A pushed app runs: the supervisor starts its formation, rolls config changes, scales;
//! one-off dynos and the release phase; restarts; isolation; custom domains.

mod domains;
mod formation;
mod isolation;
mod one_offs;
mod restarts;

use serde_json::Value;

use crate::support::Paasd;

fn up(dynos: &[Value], kind: &str) -> usize {
    dynos
        .iter()
        .filter(|d| d["type"] == kind && d["state"] == "up")
        .count()
}

fn container_names(paasd: &Paasd, app: &str) -> Vec<String> {
    let out = std::process::Command::new("docker")
        .args([
            "ps",
            "--format",
            "{{.Names}}",
            "--filter",
            &format!("label=paas.instance={}", paasd.instance),
            "--filter",
            &format!("label=paas.app_name={app}"),
            "--filter",
            "label=paas.kind=formation",
        ])
        .output()
        .unwrap();
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}
