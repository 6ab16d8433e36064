//! paasd's configuration: the environment, read once at start (SPEC §2). Library crates
//! never read environment variables; they get plain values from here.
//!
//! This file holds `Settings` and the variables of no group (addresses, domain, database,
//! log format, paths); each group of settings is a module of its own that reads its
//! variables (`build`, `dynos`, `tls`, `router` with ACME, `backups`), through the
//! helpers in `parse`. `variables` lists every variable read (the env file); the tests
//! are in `settings/tests.rs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

mod backups;
mod build;
mod dynos;
mod parse;
mod router;
mod tls;
mod variables;

pub use backups::BackupConfig;
pub use build::BuildConfig;
pub use dynos::{DynoConfig, Runtime};
pub use router::{AcmeConfig, RouterConfig};
pub use tls::TlsConfig;
pub use variables::{VARIABLES, env_file, set_variables};

use parse::Env;

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
        let env = Env(&lookup);
        let database_url = env.get("DATABASE_URL");
        if let Some(url) = database_url
            .as_deref()
            .filter(|url| !(url.starts_with("postgres://") || url.starts_with("postgresql://")))
        {
            // Only the scheme: the rest of a URL may hold a password.
            let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
            bail!("DATABASE_URL must be a postgres:// URL (its scheme is {scheme:?})");
        }
        let api_addr = env.addr("PAAS_API_ADDR", "127.0.0.1:5000")?;
        let router_addr = env.addr("PAAS_ROUTER_ADDR", "0.0.0.0:8080")?;
        let domain = env
            .get("PAAS_DOMAIN")
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
        let public_url = match env.get("PAAS_PUBLIC_URL") {
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
        let log_format = match env.get("PAAS_LOG_FORMAT").as_deref() {
            None => None,
            Some("json") => Some(LogFormat::Json),
            Some("pretty") => Some(LogFormat::Pretty),
            Some(other) => bail!("PAAS_LOG_FORMAT={other:?} must be json or pretty"),
        };
        let db_max_connections = match env.get("PAAS_DB_MAX_CONNECTIONS") {
            None => 10,
            Some(raw) => match raw.trim().parse::<u32>() {
                Ok(n @ 1..=1000) => n,
                _ => bail!("PAAS_DB_MAX_CONNECTIONS={raw:?} must be a number from 1 to 1000"),
            },
        };
        let build = BuildConfig::read(&env)?;
        let dynos = DynoConfig::read(&env)?;
        let tls = TlsConfig::read(&env)?;
        let router = RouterConfig::read(&env)?;
        let backups = BackupConfig::read(&env)?;
        Ok(Self {
            backups,
            dynos,
            build,
            tls,
            router,
            database_url,
            data_dir: PathBuf::from(env.get("PAAS_DATA_DIR").unwrap_or_else(|| "./.paas".into())),
            api_addr,
            router_addr,
            domain,
            public_url,
            stack_image: env
                .get("PAAS_STACK_IMAGE")
                .unwrap_or_else(|| "paas/stack:bookworm".into()),
            log_format,
            db_max_connections,
        })
    }
}

#[cfg(test)]
mod tests;
