//! Add-ons end to end: a Postgres add-on is created and attached as a release, a pushed
//! app's release phase migrates it and its web dyno and one-offs read it over TLS (plain
//! connections refused); its data survives a paasd SIGKILL, a `docker restart` and a
//! crash of its container; only attached apps' networks reach it; destroying it leaves
//! no container and no volume. Redis requires its password. Backups are verified,
//! restored and scheduled; a rotated password is a release everywhere; the server's log
//! reaches its attached apps and `/metrics` shows its figures.
//!
//! This file holds what the topics share: a paasd that runs add-ons, an app with a
//! Postgres add-on, and psql or docker run against it.

mod backups;
mod credentials;
mod lifecycle;
mod logs;
mod redis;
mod schedules;

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, Paasd, fails, ok};

fn json(out: Output) -> Value {
    serde_json::from_str(&ok(out)).expect("--json prints JSON")
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker").args(args).output().expect("docker")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Calls `probe` every `every` until it gives `Ok`; after `secs`, panics with its last
/// `Err` (what it saw) and paasd's log.
async fn eventually<T>(
    paasd: &Paasd,
    secs: u64,
    every: Duration,
    mut probe: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        match probe().await {
            Ok(done) => return done,
            Err(last) => assert!(Instant::now() < deadline, "{last}\n{}", paasd.log()),
        }
        tokio::time::sleep(every).await;
    }
}

/// Polls `paas logs` of `app` until one line has every one of `want`; the logs.
async fn wait_for_log(paasd: &Paasd, dir: &Path, app: &str, want: &[&str], secs: u64) -> String {
    eventually(paasd, secs, Duration::from_secs(1), async || {
        let logs = ok(paasd.paas(dir, &["logs", "-n", "1500", "-a", app]));
        if logs.lines().any(|l| want.iter().all(|w| l.contains(w))) {
            Ok(logs)
        } else {
            Err(format!(
                "{app}'s log never had a line with {want:?}:\n{logs}"
            ))
        }
    })
    .await
}

/// A paasd that can run add-ons (the stack image is there), and a working directory for
/// the `paas` CLI.
async fn start() -> (Paasd, tempfile::TempDir) {
    support::require_stack_image();
    let paasd = Paasd::start().await;
    (paasd, tempfile::tempdir().unwrap())
}

/// The config var `var` of `app`.
fn config_var(paasd: &Paasd, dir: &Path, app: &str, var: &str) -> String {
    let config = json(paasd.paas(dir, &["config", "-a", app, "--json"]));
    config[var].as_str().unwrap().to_owned()
}

/// Creates a Postgres add-on for `app` (its first) and returns the add-on's name.
fn create_postgres(paasd: &Paasd, dir: &Path, app: &str) -> String {
    ok(paasd.paas(dir, &["addons:create", "postgresql", "-a", app]));
    let addons = json(paasd.paas(dir, &["addons", "-a", app, "--json"]));
    addons[0]["name"].as_str().unwrap().to_owned()
}

/// Creates the app `app` with a Postgres add-on; the add-on's name and its `DATABASE_URL`.
async fn app_with_postgres(paasd: &Paasd, dir: &Path, app: &str) -> (String, String) {
    paasd.create_app(app).await;
    let name = create_postgres(paasd, dir, app);
    (name, config_var(paasd, dir, app, "DATABASE_URL"))
}

/// Attaches the add-on `addon` to `app` as `as_name`; the CLI's output.
fn attach(paasd: &Paasd, dir: &Path, addon: &str, as_name: &str, app: &str) -> String {
    ok(paasd.paas(dir, &["addons:attach", addon, "--as", as_name, "-a", app]))
}

/// Destroys the add-on `addon` of `app`, confirmed.
fn destroy(paasd: &Paasd, dir: &Path, addon: &str, app: &str) {
    ok(paasd.paas(
        dir,
        &["addons:destroy", addon, "--confirm", addon, "-a", app],
    ));
}

/// No container and no volume is left of the add-on whose id is `id`.
fn assert_no_trace(id: &str) {
    let label = format!("label=paas.addon={id}");
    assert_eq!(docker_ok(&["ps", "-aq", "--filter", &label]), "");
    assert_eq!(docker_ok(&["volume", "ls", "-q", "--filter", &label]), "");
}

/// Runs `paas ARGS`, which ends in `-a APP`: refused without `--confirm APP` (the refusal
/// says so), then run with it; its output.
fn confirmed(paasd: &Paasd, dir: &Path, args: &[&str]) -> String {
    let [.., "-a", app] = args else {
        panic!("{args:?} does not end in -a APP")
    };
    let refused = fails(paasd.paas(dir, args));
    assert!(refused.contains(&format!("--confirm {app}")), "{refused}");
    let with_confirm: Vec<&str> = args.iter().copied().chain(["--confirm", app]).collect();
    ok(paasd.paas(dir, &with_confirm))
}

/// psql in a throwaway container of the add-on image on `app`'s network, running `sql`
/// at `url` with `sslmode` (`require`, `disable`).
fn psql(paasd: &Paasd, app: &str, url: &str, sslmode: &str, sql: &str) -> Output {
    let network = format!("paas-{}-{app}", paasd.instance);
    let conninfo = format!("{url}?sslmode={sslmode}&connect_timeout=5");
    docker(&[
        "run",
        "--rm",
        "--network",
        &network,
        "--entrypoint",
        "psql",
        "paas/addon_postgresql:17",
        &conninfo,
        "-v",
        "ON_ERROR_STOP=1",
        "-Atc",
        sql,
    ])
}

/// [`psql`] over TLS, which must succeed: what it printed.
fn sql(paasd: &Paasd, app: &str, url: &str, sql: &str) -> String {
    let out = psql(paasd, app, url, "require", sql);
    assert!(
        out.status.success(),
        "psql {sql:?} on {app}'s network: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}
