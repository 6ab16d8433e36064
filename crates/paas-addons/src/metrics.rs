//! `GET /metrics` for add-ons: each add-on's data size, connections (and limit) and,
//! for Postgres, its last verified backup, as Prometheus gauges.
//!
//! The figures come from the servers themselves (`docker exec`, like `pg:info`), which
//! takes time, so a task samples every [`SAMPLE_EVERY`] into [`AddonMetrics`] and
//! `/metrics` renders the last sample without waiting. An add-on that does not answer
//! has `paas_addon_up 0` and no other figures, rather than stale ones.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paas_core::addons::Service;
use paas_store::{Addon, AddonState};
use tokio_util::sync::CancellationToken;

use crate::{AddonError, Addons};

/// How often the add-ons are asked.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);

/// The last sample, as Prometheus text.
#[derive(Debug, Default)]
pub struct AddonMetrics {
    text: Mutex<String>,
}

impl AddonMetrics {
    pub fn render_metrics(&self) -> String {
        self.text
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// One add-on's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Sample {
    size_bytes: i64,
    connections: i64,
    connection_limit: i64,
    /// Unix seconds, 0 when none yet; `None` for a service without backups.
    last_verified_backup: Option<i64>,
}

/// `used_memory` and `connected_clients` from Redis's `INFO`.
fn parse_redis_info(text: &str) -> Option<(i64, i64)> {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
            .and_then(|v| v.trim().parse::<i64>().ok())
    };
    Some((field("used_memory")?, field("connected_clients")?))
}

fn escape(label: &str) -> String {
    label
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The Prometheus text of one sample of every add-on.
fn render(samples: &[(Addon, Option<Sample>)]) -> String {
    let labels = |a: &Addon| {
        format!(
            "addon=\"{}\",service=\"{}\",app=\"{}\"",
            escape(a.name.as_str()),
            a.service.short(),
            escape(a.app_name.as_deref().unwrap_or(""))
        )
    };
    let mut out = String::from(
        "# HELP paas_addon_up Whether the add-on's server answered the last sample (1) or not (0).\n\
         # TYPE paas_addon_up gauge\n",
    );
    for (addon, sample) in samples {
        let _ = writeln!(
            out,
            "paas_addon_up{{{}}} {}",
            labels(addon),
            u8::from(sample.is_some())
        );
    }
    type Figure = fn(&Sample) -> Option<i64>;
    let gauges: [(&str, &str, Figure); 4] = [
        (
            "paas_addon_database_size_bytes",
            "Size of the add-on's data: Postgres's database size, Redis's used memory.",
            |s| Some(s.size_bytes),
        ),
        (
            "paas_addon_connections",
            "Client connections open to the add-on's server.",
            |s| Some(s.connections),
        ),
        (
            "paas_addon_connection_limit",
            "Client connections the add-on's plan allows.",
            |s| Some(s.connection_limit),
        ),
        (
            "paas_addon_last_verified_backup_timestamp_seconds",
            "Unix time the add-on's newest verified backup finished (0: none yet; Postgres only).",
            |s| s.last_verified_backup,
        ),
    ];
    for (name, help, figure) in gauges {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
        for (addon, sample) in samples {
            if let Some(v) = sample.as_ref().and_then(figure) {
                let _ = writeln!(out, "{name}{{{}}} {v}", labels(addon));
            }
        }
    }
    out
}

impl Addons {
    /// Samples every provisioned add-on into `into` until `stop`.
    pub async fn run_metrics(self, into: Arc<AddonMetrics>, stop: CancellationToken) {
        loop {
            match self.sample_all().await {
                Ok(samples) => {
                    *into
                        .text
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = render(&samples);
                }
                Err(e) => tracing::warn!(error = %e, "sampling add-on metrics failed"),
            }
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(SAMPLE_EVERY) => {}
            }
        }
    }

    async fn sample_all(&self) -> Result<Vec<(Addon, Option<Sample>)>, AddonError> {
        let mut samples = Vec::new();
        for addon in self.inner.store.addons().await? {
            if addon.state != AddonState::Provisioned {
                continue;
            }
            let sample = match self.sample(&addon).await {
                Ok(s) => Some(s),
                Err(e) => {
                    tracing::debug!(addon = %addon.name, error = %e, "add-on did not answer for metrics");
                    None
                }
            };
            samples.push((addon, sample));
        }
        Ok(samples)
    }

    async fn sample(&self, addon: &Addon) -> Result<Sample, AddonError> {
        match addon.service {
            Service::Postgresql => {
                let facts = self.pg_facts(addon).await?;
                let last_verified_backup = self
                    .inner
                    .store
                    .last_verified_backup_at(addon.addon_id)
                    .await?
                    .map_or(0, |at| at.timestamp());
                let last_verified_backup = Some(last_verified_backup);
                Ok(Sample {
                    size_bytes: facts.size_bytes,
                    connections: facts.connections,
                    connection_limit: facts.connection_limit,
                    last_verified_backup,
                })
            }
            Service::Redis => {
                let container = self
                    .container_id(addon)
                    .await
                    .ok_or_else(|| AddonError::Backup(format!("{} is not running", addon.name)))?;
                let mut out = Vec::new();
                let script = r#"REDISCLI_AUTH="$PAAS_ADDON_PASSWORD" redis-cli -h 127.0.0.1 info"#;
                let (code, _) = self
                    .inner
                    .docker
                    .exec_addon(
                        &container,
                        vec!["sh".into(), "-c".into(), script.into()],
                        None,
                        &mut out,
                    )
                    .await?;
                let text = String::from_utf8_lossy(&out);
                let (size_bytes, connections) = parse_redis_info(&text)
                    .filter(|_| code == 0)
                    .ok_or_else(|| {
                        AddonError::Backup(format!("{} answered no INFO", addon.name))
                    })?;
                Ok(Sample {
                    size_bytes,
                    connections,
                    connection_limit: i64::from(addon.plan.max_connections),
                    last_verified_backup: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_info_gives_memory_and_clients() {
        let info = "# Server\r\nredis_version:8.0.2\r\n# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1034568\r\nused_memory_human:1010.32K\r\n";
        assert_eq!(parse_redis_info(info), Some((1_034_568, 3)));
        assert_eq!(parse_redis_info("NOAUTH Authentication required."), None);
    }
}
