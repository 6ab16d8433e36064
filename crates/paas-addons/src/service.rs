//! How each service runs in its container: user, data directory, command, environment
//! for the entry script, and how paasd asks it whether it answers.

use paas_core::addons::Service;
use paas_store::Addon;

/// The user its image runs it as.
pub fn user(service: Service) -> &'static str {
    match service {
        Service::Postgresql => "postgres",
        Service::Redis => "redis",
    }
}

/// Where its volume is mounted.
pub fn data_dir(service: Service) -> &'static str {
    match service {
        Service::Postgresql => "/var/lib/postgresql/data",
        Service::Redis => "/data",
    }
}

/// The entry script's settings: credentials, its host name (the certificate's), limits.
pub fn env(addon: &Addon) -> Vec<String> {
    let plan = addon.plan;
    let mut env = vec![
        format!("PAAS_ADDON_USER={}", addon.credentials.user),
        format!("PAAS_ADDON_PASSWORD={}", addon.credentials.password),
        format!("PAAS_ADDON_DB={}", addon.credentials.database),
        format!("PAAS_ADDON_HOST={}", addon.name),
        format!("PAAS_ADDON_MAX_CONNECTIONS={}", plan.max_connections),
    ];
    match addon.service {
        // A quarter of the memory for shared buffers, Postgres's usual advice.
        Service::Postgresql => env.push(format!(
            "PAAS_ADDON_SHARED_BUFFERS={}MB",
            (plan.memory_bytes / 4) >> 20
        )),
        // Redis keeps its data set to 3/4 of the memory (the rest is its overhead).
        Service::Redis => env.push(format!(
            "PAAS_ADDON_MAXMEMORY={}mb",
            (plan.memory_bytes * 3 / 4) >> 20
        )),
    }
    env
}

/// A command that exits 0 once the service answers over TCP with its credentials (for
/// Postgres: over TLS, as clients must).
pub fn ready_check(service: Service) -> Vec<String> {
    let script = match service {
        Service::Postgresql => {
            r#"PGPASSWORD="$PAAS_ADDON_PASSWORD" psql "host=127.0.0.1 user=$PAAS_ADDON_USER dbname=$PAAS_ADDON_DB sslmode=require connect_timeout=2" -Atqc 'select 1' >/dev/null"#
        }
        Service::Redis => {
            r#"[ "$(REDISCLI_AUTH="$PAAS_ADDON_PASSWORD" redis-cli -h 127.0.0.1 ping)" = PONG ]"#
        }
    };
    vec!["sh".into(), "-c".into(), script.into()]
}
