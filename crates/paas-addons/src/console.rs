//! `pg:psql` and `redis:cli`: what a one-off dyno runs to talk to an add-on. The stack
//! image has neither `psql` nor `redis-cli` (`scripts/stack-build.sh` installs runtimes,
//! not database clients), and the app's slug image may not either, so the dyno runs the
//! add-on's own service image (made on the same stack, so the same `app` user) on the
//! app's network, where the add-on's name resolves. The credentials reach the client by
//! its own environment variables (`PGPASSWORD`, `REDISCLI_AUTH`), never its command
//! line, where `ps` on the host would show them.

use paas_core::addons::Service;
use paas_store::Addon;

/// The image, command and extra environment of an add-on's console dyno.
#[derive(Debug, Clone)]
pub struct Console {
    pub image: &'static str,
    pub command: String,
    pub env: Vec<(String, String)>,
}

/// The console of `addon`.
pub fn console(addon: &Addon) -> Console {
    let host = addon.name.to_string();
    let port = addon.service.port().to_string();
    let c = &addon.credentials;
    match addon.service {
        Service::Postgresql => Console {
            image: addon.service.image(),
            // -X: no ~/.psqlrc (the dyno's home is not the user's).
            command: "psql -X".into(),
            env: vec![
                ("PGHOST".into(), host),
                ("PGPORT".into(), port),
                ("PGUSER".into(), c.user.clone()),
                ("PGPASSWORD".into(), c.password.clone()),
                ("PGDATABASE".into(), c.database.clone()),
                ("PGSSLMODE".into(), "require".into()),
                ("PGCONNECT_TIMEOUT".into(), "10".into()),
            ],
        },
        Service::Redis => Console {
            image: addon.service.image(),
            command: format!("redis-cli -h {host} -p {port}"),
            env: vec![("REDISCLI_AUTH".into(), c.password.clone())],
        },
    }
}
