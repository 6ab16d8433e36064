//! paasd: every part of the platform in one process, configured only from the
//! environment.
//!
//! Start-up order: settings → database (embedded cluster or `DATABASE_URL`) →
//! migrations → listeners → serve until the root [`CancellationToken`] is cancelled
//! (SIGTERM or SIGINT). Shutdown order is the reverse: stop accepting, let in-flight
//! requests finish, then close the pool and stop the embedded cluster. Dynos are never
//! stopped by a paasd shutdown (the next paasd adopts them).
//!
//! This file is that order: `serve` and the wiring of every part (`serve_with`). The
//! parts it wires are made in their own modules: `database` (`Database`), `builder`,
//! `metrics` (`GET /metrics`), `addresses`; `signals` turns SIGTERM/SIGINT into the
//! cancellation; `nodes` is `paasd nodes`.

mod addresses;
pub mod backup;
mod builder;
pub mod buildpacks;
mod database;
pub mod embedded_pg;
mod metrics;
mod nodes;
pub mod settings;
mod signals;
pub mod telemetry;
pub mod tls;
pub mod tokens;

use std::sync::Arc;

use anyhow::Context;
use paas_api::{ApiSettings, AppState};
use paas_store::Store;
use tokio_util::sync::CancellationToken;

pub use builder::builder;
pub use database::Database;
pub use nodes::nodes_table;
pub use settings::Settings;
pub use signals::cancel_on_signals;

use addresses::{local_url, public_host};
use metrics::RouterMetrics;

/// Runs the daemon until `shutdown` is cancelled.
pub async fn serve(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let database = Database::open(&settings).await?;
    let pg_args = database.pg_args(&settings)?;
    let result = serve_with(&settings, database.store.clone(), pg_args, shutdown).await;
    database.close().await?;
    result
}

/// Before this process runs any build or release phase, whatever is still pending was
/// cut off with the previous paasd, and nothing will ever finish it: mark it failed
/// ("interrupted by a restart of the platform") so pushes and `paas releases` say so.
async fn fail_interrupted_work(store: &Store) -> anyhow::Result<()> {
    let builds = store
        .fail_interrupted_builds()
        .await
        .context("failing interrupted builds")?;
    let releases = store
        .fail_interrupted_releases()
        .await
        .context("failing interrupted releases")?;
    if !builds.is_empty() || !releases.is_empty() {
        tracing::warn!(
            builds = builds.len(),
            releases = releases.len(),
            reason = paas_store::INTERRUPTED_BY_RESTART,
            "marked unfinished work of the previous paasd failed"
        );
    }
    Ok(())
}

async fn serve_with(
    settings: &Settings,
    store: Store,
    pg_args: Vec<String>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if store.token_count().await? == 0 {
        tracing::warn!(
            "no API tokens exist yet: make one with `paasd tokens create --name NAME` (same environment as paasd)"
        );
    }
    fail_interrupted_work(&store).await?;
    let backups = store
        .fail_interrupted_backups()
        .await
        .context("failing interrupted backups")?;
    if backups > 0 {
        tracing::warn!(
            backups,
            "marked the backups an earlier paasd was capturing failed"
        );
    }
    // The auth cache and batched last-used writes (`paas_store::tokens`).
    let token_watch = tokio::spawn({
        let store = store.clone();
        let stop = shutdown.child_token();
        async move { store.watch_tokens(stop.cancelled_owned()).await }
    });
    let logs = Arc::new(paas_logs::LogHub::new());
    // The router's TLS listener is bound first, as its port is in every `web_url`;
    // nothing on it is accepted before the stored certificates are loaded
    // (`tls::router_https`), so early clients wait in the backlog rather than get
    // another certificate.
    let router_tls_listener = match settings.router.tls_addr {
        Some(addr) => Some(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("binding the router's HTTPS listener on PAAS_ROUTER_TLS_ADDR={addr}")
        })?),
        None => None,
    };
    let web_url = paas_core::routes::WebUrl {
        domain: settings.domain.clone(),
        http_port: settings.router_addr.port(),
        https_port: match &router_tls_listener {
            Some(listener) => Some(listener.local_addr()?.port()),
            None => None,
        },
    };
    let builder =
        Arc::new(builder(settings, store.clone(), web_url.clone())?.with_logs(logs.clone()));
    // No build runs yet: a build container of this installation is a killed paasd's.
    match builder.remove_leftover_build_containers().await {
        Ok(0) => {}
        Ok(removed) => {
            tracing::info!(
                removed,
                "removed the build containers an earlier paasd left behind"
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not look for build containers an earlier paasd left behind");
        }
    }
    let nudge = Arc::new(paas_supervisor::Nudges::default());
    let docker = builder.docker().clone();
    match docker.disk_bound(&settings.stack_image).await {
        Ok(paas_docker::DiskBound::WritableLayer) => tracing::info!(
            disk_bytes = settings.dynos.disk_bytes,
            "each dyno's writable layer is limited by the storage driver (PAAS_DYNO_DISK)"
        ),
        Ok(paas_docker::DiskBound::TmpOnly) => tracing::warn!(
            "this Docker storage driver cannot limit a dyno's disk: /tmp is a tmpfs of PAAS_DYNO_DISK={} bytes, the rest of a dyno's writable layer is unbounded (use overlay2 on xfs with pquota to bound it all)",
            settings.dynos.disk_bytes
        ),
        Err(e) => tracing::warn!(error = %e, "could not find how this engine limits a dyno's disk"),
    }
    let backup_status = Arc::new(backup::BackupStatus::default());
    let backups = tokio::spawn(backup::run_schedule(
        settings.clone(),
        store.clone(),
        pg_args,
        docker.clone(),
        backup_status.clone(),
        shutdown.child_token(),
    ));
    let backup_status = settings.backups.every.map(|_| backup_status);
    let drains_changed = Arc::new(tokio::sync::Notify::new());
    let drains = tokio::spawn(
        paas_logs::Drains::new(store.clone(), logs.clone())
            .run(drains_changed.clone(), shutdown.child_token()),
    );
    let supervisor_settings = paas_supervisor::SupervisorSettings {
        domain: settings.domain.clone(),
        limits: settings.dynos.limits(),
        grace_secs: settings.dynos.grace_secs,
        health_timeout: std::time::Duration::from_secs(settings.dynos.health_timeout_secs),
        instance: settings.dynos.instance.clone(),
        ..Default::default()
    };
    // The supervisor and the log collector get the same runtime: dyno output comes
    // from wherever the runtime runs dynos (every node of a Swarm).
    let (supervisor, routes, nodes, collector) = match &settings.dynos.runtime {
        settings::Runtime::Docker => {
            let collector = spawn_collector(&store, docker.clone(), settings, &logs, &shutdown);
            let (supervisor, routes, nodes) = spawn_supervisor(
                &store,
                docker.clone(),
                supervisor_settings,
                &logs,
                &nudge,
                &shutdown,
            );
            (supervisor, routes, nodes, collector)
        }
        settings::Runtime::Swarm {
            registry,
            node_socket,
        } => {
            let swarm = paas_swarm::Swarm::connect(docker.clone(), None, registry)
                .context("DOCKER_HOST does not name a usable Swarm manager")?
                .with_image_collector(&settings.stack_image, node_socket);
            tracing::info!(registry = %registry, "dynos run as services of the Swarm at DOCKER_HOST (PAAS_RUNTIME=swarm)");
            let collector = spawn_collector(&store, swarm.clone(), settings, &logs, &shutdown);
            // Swarm reports no task events: exited tasks are seen by the resync alone.
            let supervisor_settings = paas_supervisor::SupervisorSettings {
                resync: std::time::Duration::from_secs(5),
                ..supervisor_settings
            };
            let (supervisor, routes, nodes) =
                spawn_supervisor(&store, swarm, supervisor_settings, &logs, &nudge, &shutdown);
            (supervisor, routes, nodes, collector)
        }
    };
    let router_listener = tokio::net::TcpListener::bind(settings.router_addr)
        .await
        .with_context(|| {
            format!(
                "binding the router on PAAS_ROUTER_ADDR={}",
                settings.router_addr
            )
        })?;
    tracing::info!(addr = %router_listener.local_addr()?, domain = %settings.domain, "router listening");
    let mut router_listeners = paas_router::Listeners::from(router_listener);
    let mut tls_public_port = 443;
    let mut acme_challenges = None;
    let mut certs_api = None;
    let mut cert_table = None;
    if let Some(listener) = router_tls_listener {
        let events = logs.clone();
        let https = tls::router_https(
            settings,
            listener,
            store.clone(),
            routes.clone(),
            move |app: &str, message: String| {
                events.publish(app, paas_logs::LogLine::api(message));
            },
            shutdown.child_token(),
        )
        .await?;
        tls_public_port = https.listener.local_addr()?.port();
        tracing::info!(addr = %https.listener.local_addr()?, ca = %tls::local_ca_dir(&settings.data_dir).join("root.pem").display(), "router HTTPS listening");
        cert_table = Some(https.certs.clone());
        router_listeners = router_listeners
            .with_https(https.listener, https.certs)
            .context("the router's TLS settings")?;
        acme_challenges = https.challenges;
        certs_api = Some(https.api);
    }
    let request_logs = logs.clone();
    let router = paas_router::Router::new(
        routes,
        paas_router::RouterSettings {
            public_port: settings.router_addr.port(),
            tls_public_port,
            connect_timeout: std::time::Duration::from_secs(settings.router.connect_timeout_secs),
            first_byte_timeout: std::time::Duration::from_secs(
                settings.router.first_byte_timeout_secs,
            ),
            drain_timeout: std::time::Duration::from_secs(settings.router.drain_timeout_secs),
            max_connections: settings.router.max_connections,
            ..Default::default()
        },
    )
    .with_acme_challenges(move |token| acme_challenges.as_ref().and_then(|c| c.get(token)))
    .with_log_sink(move |log: paas_router::RequestLog| {
        request_logs.publish(
            &log.app,
            paas_logs::LogLine::new(paas_logs::Source::Heroku, "router", log.line),
        );
    });
    let addon_metrics = Arc::new(paas_addons::metrics::AddonMetrics::default());
    let metrics = RouterMetrics(
        router.metrics(),
        cert_table,
        backup_status,
        addon_metrics.clone(),
    );
    let threads = settings.router.threads;
    let router_shutdown = shutdown.child_token();
    let router = tokio::spawn(async move {
        if let Err(e) = router
            .serve_per_core(router_listeners, threads, router_shutdown)
            .await
        {
            tracing::error!(error = %e, "the router could not start its threads");
        }
    });
    // The TLS port is bound first: its port goes into every `attach_url`.
    let public_host = public_host(&settings.public_url);
    let tls = match settings.tls.addr {
        Some(addr) => {
            let acceptor = tls::acceptor(settings, &public_host)?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding the TLS port on PAAS_TLS_ADDR={addr}"))?;
            let port = listener.local_addr()?.port();
            tracing::info!(addr = %listener.local_addr()?, "TLS port listening (heroku run, https git remotes)");
            Some((
                listener,
                acceptor,
                format!("rendezvous://{public_host}:{port}"),
            ))
        }
        None => None,
    };
    // Add-ons: their supervisor keeps each add-on's container running on the networks
    // of the apps attached to it (`paas-addons`).
    let addons = paas_addons::Addons::new(
        store.clone(),
        docker.clone(),
        paas_addons::AddonSettings {
            instance: settings.dynos.instance.clone(),
            stack_image: settings.stack_image.clone(),
            build_limits: paas_builder::Limits::BUILD_DEFAULT,
            log: settings.dynos.limits(),
            backup_dir: settings.addon_backup_dir(),
        },
        nudge.clone(),
    );
    let addon_supervisor = tokio::spawn(addons.clone().run(shutdown.child_token()));
    // Their size, connections and last verified backup, for `GET /metrics`.
    let addon_sampler = tokio::spawn(
        addons
            .clone()
            .run_metrics(addon_metrics, shutdown.child_token()),
    );
    // Scheduled add-on backups (`pg:backups:schedule`): their failures and misses are
    // `app[api]` lines in the attached apps' log streams.
    let schedule_logs = logs.clone();
    let addon_schedules = tokio::spawn(addons.clone().run_schedules(
        Arc::new(move |app: &str, line: String| {
            schedule_logs.publish(app, paas_logs::LogLine::api(line));
        }),
        shutdown.child_token(),
    ));
    let state = AppState {
        store,
        addons,
        settings: Arc::new(ApiSettings {
            domain: settings.domain.clone(),
            web_url,
            public_url: settings.public_url.clone(),
            local_url: local_url(settings.api_addr),
            instance: settings.dynos.instance.clone(),
            dyno_limits: settings.dynos.limits(),
            rendezvous_url: tls.as_ref().map(|(_, _, url)| url.clone()),
        }),
        builder,
        docker,
        nodes,
        nudge,
        rendezvous: Default::default(),
        logs,
        drains_changed,
        shutdown: shutdown.clone(),
        metrics: Some(Arc::new(metrics)),
        certs: certs_api,
    };
    let tls = tls.map(|(listener, acceptor, _)| {
        tokio::spawn(paas_api::tls::serve(
            listener,
            acceptor,
            state.clone(),
            shutdown.child_token(),
        ))
    });
    let listener = tokio::net::TcpListener::bind(settings.api_addr)
        .await
        .with_context(|| {
            format!(
                "binding the control API on PAAS_API_ADDR={}",
                settings.api_addr
            )
        })?;
    tracing::info!(addr = %listener.local_addr()?, public_url = %settings.public_url, "control API listening");
    axum::serve(listener, paas_api::router(state))
        .with_graceful_shutdown(shutdown.clone().cancelled_owned())
        .await
        .context("serving the control API")?;
    tracing::info!("control API stopped");
    shutdown.cancel();
    if let Some(tls) = tls
        && let Err(e) = tls.await
    {
        tracing::error!(error = %e, task = "tls", "a task panicked");
    }
    for (name, task) in [
        ("supervisor", supervisor),
        ("add-on supervisor", addon_supervisor),
        ("add-on metrics", addon_sampler),
        ("scheduled add-on backups", addon_schedules),
        ("router", router),
        ("log collector", collector),
        ("log drains", drains),
        ("token watch", token_watch),
        ("scheduled backups", backups),
    ] {
        if let Err(e) = task.await {
            tracing::error!(error = %e, task = name, "a task panicked");
        }
    }
    Ok(())
}

/// The supervisor's loop on `runtime`, and the receiving end of its route table.
fn spawn_supervisor<R: paas_core::runtime::ContainerRuntime + std::fmt::Debug>(
    store: &Store,
    runtime: R,
    settings: paas_supervisor::SupervisorSettings,
    logs: &Arc<paas_logs::LogHub>,
    nudge: &Arc<paas_supervisor::Nudges>,
    shutdown: &CancellationToken,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<Arc<paas_core::routes::RouteTable>>,
    Arc<dyn paas_core::runtime::NodeList>,
) {
    let nodes: Arc<dyn paas_core::runtime::NodeList> = Arc::new(runtime.clone());
    let (supervisor, routes) = paas_supervisor::Supervisor::new(store.clone(), runtime, settings);
    let supervisor = supervisor.with_logs(logs.clone());
    let task = tokio::spawn(Arc::new(supervisor).run(nudge.clone(), shutdown.child_token()));
    (task, routes, nodes)
}

/// The log collector, following dyno output through `runtime`.
fn spawn_collector<R: paas_core::runtime::ContainerRuntime + std::fmt::Debug>(
    store: &Store,
    runtime: R,
    settings: &Settings,
    logs: &Arc<paas_logs::LogHub>,
    shutdown: &CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        Arc::new(paas_logs::Collector::new(
            runtime,
            store.clone(),
            logs.clone(),
            settings.dynos.instance.clone(),
        ))
        .run(shutdown.child_token()),
    )
}

/// `paasd tokens create`: prints a new token once; only its hash is stored.
pub async fn create_token(settings: &Settings, name: &str) -> anyhow::Result<String> {
    tokens::create(settings, name, None).await
}
