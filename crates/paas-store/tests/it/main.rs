//! The store against a real Postgres: one fresh database per test (`#[sqlx::test]`,
//! `DATABASE_URL` names the server; `scripts/test` starts one).

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test helper is a failed test"
)]

mod addons;
mod backup_schedules;
mod dynos;
mod errors;
mod interrupted;
mod ledger;
mod pool;
mod rollout;
mod rules;
mod tokens;

use paas_core::{AppName, Procfile};
use paas_store::{NewBuild, Store};
use uuid::Uuid;

/// The recorded state named as the `dyno` table holds it.
pub fn dyno_state(name: &str) -> paas_store::DynoState {
    use paas_store::DynoState::*;
    [Starting, Up, Crashed, Down, Idle]
        .into_iter()
        .find(|s| s.as_str() == name)
        .unwrap_or_else(|| panic!("no dyno state {name}"))
}

pub async fn new_app(store: &Store, name: &str) -> Uuid {
    store
        .create_app(&AppName::parse(name).expect("valid test app name"))
        .await
        .expect("create app")
        .app_id
}

/// A succeeded build with these process types, as the builder records one.
pub async fn succeeded_build(store: &Store, app_id: Uuid, commit: &str, procfile: &str) -> Uuid {
    let build = store
        .create_build(
            app_id,
            NewBuild {
                source_version: commit,
                buildpacks: &[],
            },
        )
        .await
        .expect("create build");
    let procfile = Procfile::parse(procfile).expect("valid procfile");
    store
        .finish_build(
            build.build_id,
            Ok(("sha256:0123", &procfile)),
            "build output",
        )
        .await
        .expect("finish build");
    build.build_id
}
