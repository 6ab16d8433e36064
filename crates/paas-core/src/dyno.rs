//! A dyno's identity and environment: the one record every layer passes around.
//!
//! The runtime adapter builds a [`DynoIdentity`] once from what the engine keeps (Docker
//! labels) and everything inward (the plan, the supervisor, the API) carries the typed
//! value: ids are `Uuid`s, the name is a [`DynoName`], the version a [`ReleaseVersion`].
//! [`dyno_env`] is the only place a dyno's environment is assembled, for formation dynos,
//! one-offs and the release phase alike.

use std::collections::BTreeMap;
use std::fmt;

use uuid::Uuid;

use crate::{AppName, DynoName, ReleaseVersion};

/// Who a dyno is: its app, the release it runs, its name and restart generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoIdentity {
    pub app_id: Uuid,
    pub app_name: AppName,
    pub release_id: Uuid,
    pub version: ReleaseVersion,
    /// `web.2`, `worker.1`.
    pub name: DynoName,
    /// Restart generation (`ps:restart`) the dyno was started in.
    pub generation: u32,
}

impl DynoIdentity {
    /// Whether the router may send this dyno requests (only `web` dynos get a port).
    pub fn is_web(&self) -> bool {
        self.name.process_type.is_web()
    }
}

impl fmt::Display for DynoIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.app_name, self.name, self.version)
    }
}

/// A container's state, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerStatus {
    /// Made, never started (or its start was interrupted).
    Created,
    Running,
    Paused,
    Restarting,
    Removing,
    Exited,
    Dead,
}

impl ContainerStatus {
    /// The engine's own word for it (`running`, `exited`, …).
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "created" => Self::Created,
            "running" => Self::Running,
            "paused" => Self::Paused,
            "restarting" => Self::Restarting,
            "removing" => Self::Removing,
            "exited" => Self::Exited,
            "dead" => Self::Dead,
            _ => return None,
        })
    }

    /// Its process ended (and will not run again unless started anew).
    pub fn has_exited(self) -> bool {
        matches!(self, Self::Exited | Self::Dead)
    }
}

/// Variables the platform sets in every dyno; config vars cannot name them.
pub const PLATFORM_VARS: &[&str] = &["PORT", "DYNO", "PS"];

/// The environment of dyno `name`: the app's config vars, then `DYNO` and `PS` (its
/// name, as on Heroku) and `PORT` when it listens. Config keys are validated when set
/// (`ConfigKey` refuses the platform's names), so nothing here can be overridden.
pub fn dyno_env(
    config: &BTreeMap<String, String>,
    name: &DynoName,
    port: Option<u16>,
) -> Vec<String> {
    let mut env: Vec<String> = config
        .iter()
        .filter(|(k, _)| !PLATFORM_VARS.contains(&k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    env.push(format!("DYNO={name}"));
    env.push(format!("PS={name}"));
    if let Some(port) = port {
        env.push(format!("PORT={port}"));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_platform_sets_dyno_ps_and_port_after_the_config() {
        let config = BTreeMap::from([
            ("A".to_owned(), "1".to_owned()),
            // A stored value from before PS was reserved never overrides the platform's.
            ("PS".to_owned(), "mine".to_owned()),
        ]);
        let name = DynoName::parse("web.2").unwrap();
        assert_eq!(
            dyno_env(&config, &name, Some(5000)),
            ["A=1", "DYNO=web.2", "PS=web.2", "PORT=5000"]
        );
        let worker = DynoName::parse("worker.1").unwrap();
        assert_eq!(
            dyno_env(&BTreeMap::new(), &worker, None),
            ["DYNO=worker.1", "PS=worker.1"]
        );
    }

    #[test]
    fn engine_states_parse_and_exits_are_told_apart() {
        assert_eq!(
            ContainerStatus::parse("running"),
            Some(ContainerStatus::Running)
        );
        assert_eq!(ContainerStatus::parse("sleeping"), None);
        assert!(ContainerStatus::Dead.has_exited());
        assert!(!ContainerStatus::Created.has_exited());
    }
}
