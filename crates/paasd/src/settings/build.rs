//! The build settings group (`PAAS_BUILD_*`, `PAAS_BUILDPACKS_DIR`, the proxy variables):
//! caps, and what builds need to reach package registries.

use std::path::PathBuf;

use anyhow::bail;

use super::parse::{Env, parse_bytes};

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

impl BuildConfig {
    pub(super) fn read(env: &Env<'_>) -> anyhow::Result<Self> {
        Ok(BuildConfig {
            buildpacks_dir: env.get("PAAS_BUILDPACKS_DIR").map(PathBuf::from),
            ca_bundle: match env.get("PAAS_BUILD_CA_BUNDLE").as_deref() {
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
            memory_bytes: match env.get("PAAS_BUILD_MEMORY") {
                None => paas_builder::Limits::BUILD_DEFAULT.memory_bytes,
                Some(raw) => parse_bytes("PAAS_BUILD_MEMORY", &raw)?,
            },
            nano_cpus: match env.get("PAAS_BUILD_CPUS") {
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
            .filter_map(|k| env.get(k).map(|v| ((*k).to_owned(), v)))
            .collect(),
        })
    }
}
