//! The supervisor: a level-triggered reconcile loop that runs every app's formation.
//!
//! Each pass reads the desired state from Postgres (current release, image, config,
//! formation) and the observed state from Docker's labels (never from a cache, so a
//! restarted paasd adopts what runs), asks [`paas_core::reconcile::plan`] what to do, and
//! does it. Passes run on a nudge (the API after a release or scale), on a short tick
//! while anything is starting, and on a periodic resync. Web dynos count as ready once
//! they accept TCP on their port; only ready dynos are published in the route table, and
//! a retiring dyno leaves the table before it gets SIGTERM. Dynos are never stopped when
//! paasd stops.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use paas_core::logline::{Discard, LogSink};
use paas_core::reconcile::{self, Action, Desired, DynoSettings, DynoState, ObservedDyno, Slot};
use paas_core::routes::{AppRoutes, Backend, RouteTable};
use paas_core::runtime::{ContainerRuntime, DynoSpec, ObservedContainer, app_network_name};
use paas_store::{DesiredApp, DynoReport, Store, StoreError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Runtime(Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone)]
pub struct SupervisorSettings {
    /// Apps answer at `<app>.<domain>`.
    pub domain: String,
    pub memory_bytes: i64,
    pub pids: i64,
    /// SIGTERM → SIGKILL grace when a dyno is retired.
    pub grace_secs: i32,
    /// How long a new web dyno may take to accept connections.
    pub health_timeout: Duration,
    /// Periodic resync when nothing is in flight.
    pub resync: Duration,
    /// The port web dynos listen on inside their container (`$PORT`).
    pub web_port: u16,
    /// Labels this paasd's containers, so two installations (or test runs) sharing one
    /// Docker engine never touch each other's dynos.
    pub instance: String,
    /// An exited one-off dyno nobody removed (its client or paasd went away) is removed
    /// this long after it exited.
    pub one_off_ttl: Duration,
    /// A network of an app this pass does not know is removed only when older than this.
    pub network_min_age: Duration,
}

impl Default for SupervisorSettings {
    fn default() -> Self {
        Self {
            domain: "localhost".into(),
            memory_bytes: 512 << 20,
            pids: 512,
            grace_secs: 30,
            health_timeout: Duration::from_secs(60),
            resync: Duration::from_secs(5),
            web_port: 5000,
            instance: "paas".into(),
            one_off_ttl: Duration::from_secs(300),
            network_min_age: Duration::from_secs(60),
        }
    }
}

/// An exited `run:detached` dyno is removed this long after it exited.
const DETACHED_ONE_OFF_TTL: Duration = Duration::from_secs(10);

/// A dyno that ran at least this long before exiting resets its crash count.
const STABLE_AFTER_SECS: i64 = 60;

#[derive(Debug, Default)]
struct Memory {
    /// Recent crashes per app and slot, for the back-off.
    crashes: HashMap<(String, Slot), u32>,
    /// Exits already counted.
    seen_exits: HashSet<String>,
    /// When each not-yet-ready web dyno was first seen starting.
    starting_since: HashMap<String, Instant>,
    /// Releases whose malformed dyno settings were already reported.
    warned_releases: HashSet<Uuid>,
    /// When networks of deleted apps were last looked for.
    networks_swept: Option<Instant>,
    /// Dynos whose coming up was told to their app's log stream.
    announced_up: HashSet<String>,
}

/// How often networks of deleted apps are looked for.
const NETWORK_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// What one app's pass found: whether it needs another look soon, and its routes.
#[derive(Debug, Default)]
struct AppPass {
    busy: bool,
    /// Host → the app's ready web dynos.
    routes: Vec<(String, AppRoutes)>,
}

/// Apps reconciled side by side in one pass.
const APPS_IN_PARALLEL: usize = 8;

#[derive(Debug)]
pub struct Supervisor<R> {
    store: Store,
    runtime: R,
    settings: SupervisorSettings,
    routes: watch::Sender<Arc<RouteTable>>,
    retiring: Arc<Mutex<HashSet<String>>>,
    /// Retirements decided in this pass, stopped only after the route table without
    /// them is published.
    to_stop: Mutex<Vec<Stopping>>,
    memory: Mutex<Memory>,
    /// Dyno state changes go to the apps' log streams (`heroku[web.1]`).
    logs: Arc<dyn LogSink>,
}

/// A dyno to stop once the routes without it are out.
#[derive(Debug)]
struct Stopping {
    container: String,
    grace_secs: i32,
    app_name: String,
    dyno: String,
}

impl<R: ContainerRuntime> Supervisor<R> {
    /// The supervisor and the receiving end of its route table.
    pub fn new(
        store: Store,
        runtime: R,
        settings: SupervisorSettings,
    ) -> (Self, watch::Receiver<Arc<RouteTable>>) {
        let (routes, rx) = watch::channel(Arc::new(RouteTable::default()));
        let supervisor = Self {
            store,
            runtime,
            settings,
            routes,
            retiring: Arc::default(),
            to_stop: Mutex::default(),
            memory: Mutex::default(),
            logs: Arc::new(Discard),
        };
        (supervisor, rx)
    }

    /// Dyno state changes go to these streams.
    pub fn with_logs(mut self, logs: Arc<dyn LogSink>) -> Self {
        self.logs = logs;
        self
    }

    /// Reconciles until `shutdown`; never stops dynos on the way out. Besides `nudge`
    /// (the API after a release or scale) and the periodic resync, Docker's own events
    /// wake the loop, so a crash or a container removed behind paasd's back is seen at
    /// once rather than at the next resync.
    pub async fn run(self: Arc<Self>, nudge: Arc<Notify>, shutdown: CancellationToken) {
        tracing::info!("supervisor started");
        let events = tokio::spawn(
            watch_runtime(
                self.runtime.clone(),
                self.settings.instance.clone(),
                nudge.clone(),
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("container_events")),
        );
        let mut failures = 0u32;
        loop {
            let wait = match self.reconcile_once().await {
                Ok(busy) => {
                    failures = 0;
                    if busy {
                        Duration::from_millis(250)
                    } else {
                        self.settings.resync
                    }
                }
                // Postgres or Docker away: retry, less often the longer it lasts.
                Err(e) => {
                    failures += 1;
                    let wait = reconcile::backoff_for(failures + 1).clamp(
                        Duration::from_millis(250),
                        self.settings.resync.max(Duration::from_secs(1)),
                    );
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "reconcile failed; retrying");
                    wait
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = nudge.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        let _ = events.await;
        tracing::info!("supervisor stopped (dynos keep running)");
    }

    /// One pass over every app. Returns whether anything is still in flight (starting,
    /// waiting for a back-off), so the caller looks again soon.
    ///
    /// Apps are reconciled side by side (at most [`APPS_IN_PARALLEL`] at once), each from
    /// its own slice of the observation, so one app with a slow start or a crash loop does
    /// not hold up the others; an app whose pass hits an error still publishes the routes
    /// its observation supports.
    pub async fn reconcile_once(&self) -> Result<bool, SupervisorError> {
        let desired = self.store.desired_apps().await?;
        let observed = self
            .runtime
            .list_dynos(&self.settings.instance)
            .await
            .map_err(runtime_error)?;
        let retiring = self.retiring.lock().map(|r| r.clone()).unwrap_or_default();
        let mut by_app: BTreeMap<String, Vec<ObservedContainer>> = BTreeMap::new();
        for container in observed.into_iter().filter(|c| !retiring.contains(&c.id)) {
            by_app
                .entry(container.app_id.clone())
                .or_default()
                .push(container);
        }
        let desired: BTreeMap<String, DesiredApp> = desired
            .into_iter()
            .map(|d| (d.app_id.to_string(), d))
            .collect();
        let apps: BTreeSet<String> = by_app.keys().chain(desired.keys()).cloned().collect();
        // What the memory says of containers and apps that no longer exist goes.
        if let Ok(mut m) = self.memory.lock() {
            let present: HashSet<&str> = by_app.values().flatten().map(|c| c.id.as_str()).collect();
            m.seen_exits.retain(|id| present.contains(id.as_str()));
            m.starting_since
                .retain(|id, _| present.contains(id.as_str()));
            m.announced_up.retain(|id| present.contains(id.as_str()));
            m.crashes.retain(|(app, _), _| apps.contains(app));
        }

        let passes = apps.into_iter().map(|app_id| {
            let containers = by_app.remove(&app_id).unwrap_or_default();
            let want = desired.get(&app_id);
            async move { self.reconcile_app(&app_id, want, &containers).await }
        });
        let passes: Vec<AppPass> = futures::stream::iter(passes)
            .buffer_unordered(APPS_IN_PARALLEL)
            .collect()
            .await;

        let mut busy = false;
        let mut table = RouteTable::default();
        for pass in passes {
            busy |= pass.busy;
            for (host, routes) in pass.routes {
                table.insert(&host, routes);
            }
        }
        self.routes.send_if_modified(|current| {
            if **current == table {
                false
            } else {
                *current = Arc::new(table);
                true
            }
        });
        // Only now that no route leads to them: stop what this pass retired.
        let to_stop = self
            .to_stop
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default();
        for stopping in to_stop {
            self.stop_in_background(stopping);
        }
        if let Err(e) = self.reap_one_offs().await {
            tracing::warn!(error = %e, "reaping exited one-off dynos failed");
        }
        let sweep_due = self.memory.lock().is_ok_and(|mut m| {
            let due = m
                .networks_swept
                .is_none_or(|at| at.elapsed() >= NETWORK_SWEEP_EVERY);
            if due {
                m.networks_swept = Some(Instant::now());
            }
            due
        });
        if sweep_due {
            let keep: HashSet<&str> = desired.values().map(|d| d.app_name.as_str()).collect();
            if let Err(e) = self.sweep_networks(&keep).await {
                tracing::warn!(error = %e, "removing networks of deleted apps failed");
            }
        }
        Ok(busy)
    }

    /// Removes this installation's networks of apps that no longer exist, once no
    /// container uses them (a network younger than a minute is left: its app may be
    /// newer than this pass's snapshot).
    async fn sweep_networks(&self, keep: &HashSet<&str>) -> Result<(), SupervisorError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        for network in self
            .runtime
            .app_networks(&self.settings.instance)
            .await
            .map_err(runtime_error)?
        {
            let young = network
                .created_secs
                .is_some_and(|at| now.saturating_sub(at) < self.settings.network_min_age.as_secs());
            if keep.contains(network.app_name.as_str()) || young {
                continue;
            }
            if self
                .runtime
                .remove_network(&network.id)
                .await
                .map_err(runtime_error)?
            {
                tracing::info!(app = %network.app_name, "removed the network of a deleted app");
            }
        }
        Ok(())
    }

    /// Removes one-off dynos that exited more than `one_off_ttl` ago: whoever was to
    /// read their output and remove them is gone, and nothing the platform owns is left
    /// behind.
    async fn reap_one_offs(&self) -> Result<(), SupervisorError> {
        let now = chrono::Utc::now();
        for one_off in self
            .runtime
            .exited_one_offs(&self.settings.instance)
            .await
            .map_err(runtime_error)?
        {
            let exited = parse_time(one_off.finished_at.as_deref()).unwrap_or(now);
            // A detached one-off's output goes only to the log stream: it is kept just
            // long enough for the collector to read it to the end.
            let ttl = if one_off.detached {
                DETACHED_ONE_OFF_TTL.min(self.settings.one_off_ttl)
            } else {
                self.settings.one_off_ttl
            };
            if (now - exited).to_std().unwrap_or_default() >= ttl {
                tracing::info!(app = %one_off.app_name, dyno = %one_off.dyno, detached = one_off.detached, "removing an exited one-off dyno");
                self.runtime
                    .remove_now(&one_off.id)
                    .await
                    .map_err(runtime_error)?;
            }
        }
        Ok(())
    }

    /// Observes, plans and acts for one app. Errors are logged and make the app `busy`
    /// (looked at again soon); they never cost it its routes.
    async fn reconcile_app(
        &self,
        app_id: &str,
        want: Option<&DesiredApp>,
        containers: &[ObservedContainer],
    ) -> AppPass {
        let now = chrono::Utc::now();
        let mut busy = false;
        let app_settings = want.map(|w| self.dyno_settings(w));
        let health_timeout = app_settings
            .as_ref()
            .map_or(self.settings.health_timeout, |s| s.health_timeout);
        let mut observed = Vec::new();
        let mut unhealthy = Vec::new();
        for c in containers {
            let slot = Slot {
                process_type: c.process_type.clone(),
                index: c.index,
            };
            let state = if c.running {
                let ready = c.process_type != "web" || self.ready(c).await;
                if !ready {
                    busy = true;
                    let since = self.remember_starting(&c.id);
                    if since.elapsed() > health_timeout {
                        unhealthy.push(c.clone());
                        continue;
                    }
                } else if let Ok(mut m) = self.memory.lock() {
                    m.starting_since.remove(&c.id);
                    if m.announced_up.insert(c.id.clone()) {
                        self.logs.dyno_event(
                            &c.app_name,
                            &format!("{}.{}", c.process_type, c.index),
                            "State changed from starting to up".to_owned(),
                        );
                    }
                }
                DynoState::Running { ready }
            } else if c.status == "exited" || c.status == "dead" {
                let at = parse_time(c.finished_at.as_deref()).unwrap_or(now);
                self.count_crash(app_id, &slot, c, want, now);
                DynoState::Exited {
                    at_secs: at.timestamp().max(0) as u64,
                }
            } else {
                busy = true;
                DynoState::Other
            };
            observed.push(ObservedDyno {
                container: c.id.clone(),
                slot,
                release: c.release_id.clone(),
                version: c.version,
                generation: c.generation,
                state,
            });
        }
        let mut rollout_failed = false;
        for c in unhealthy {
            busy = true;
            let tail = self.runtime.tail(&c.id, 10).await;
            tracing::error!(
                app = %c.app_name, dyno = %format!("{}.{}", c.process_type, c.index), release = %format!("v{}", c.version),
                last_lines = %tail.join(" | "),
                "web dyno did not accept connections on $PORT within {}s; stopping it, the previous dynos keep serving",
                health_timeout.as_secs()
            );
            let slot = Slot {
                process_type: c.process_type.clone(),
                index: c.index,
            };
            if let Err(e) = self.runtime.remove_now(&c.id).await {
                tracing::warn!(app = %c.app_name, error = %e, "removing an unhealthy dyno failed");
                continue;
            }
            let dyno = format!("{}.{}", c.process_type, c.index);
            self.logs.dyno_event(
                &c.app_name,
                &dyno,
                format!(
                    "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within {} seconds of launch",
                    health_timeout.as_secs()
                ),
            );
            self.logs.dyno_event(
                &c.app_name,
                &dyno,
                "Stopping process with SIGKILL".to_owned(),
            );
            if let Ok(mut m) = self.memory.lock() {
                *m.crashes.entry((app_id.to_owned(), slot)).or_default() += 1;
                m.starting_since.remove(&c.id);
            }
            // A rollout whose new web dyno never got ready stops here: the release is
            // marked failed, so the previous one (whose dynos still serve) is current
            // again. With nothing older serving, the crash back-off keeps trying instead.
            let older_serving = observed.iter().any(|o| {
                o.release != c.release_id && matches!(o.state, DynoState::Running { ready: true })
            });
            if let Some(want) =
                want.filter(|w| w.release_id.to_string() == c.release_id && older_serving)
            {
                let reason = format!(
                    "web.{} did not accept connections on $PORT within {}s; last output: {}",
                    c.index,
                    health_timeout.as_secs(),
                    tail.iter()
                        .rev()
                        .take(5)
                        .rev()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(" | ")
                );
                rollout_failed |= self.fail_rollout(&c.app_name, want, &reason).await;
            }
        }

        // A new release's web dyno that exits before it ever served, while an older
        // release's web dynos serve: the rollout stops there too, as for one that never
        // listens (a crash loop would otherwise keep the release half rolled forever).
        if let Some(want) = want.filter(|_| !rollout_failed) {
            let release = want.release_id.to_string();
            let older_serving = observed.iter().any(|o| {
                o.release != release
                    && o.slot.process_type == "web"
                    && matches!(o.state, DynoState::Running { ready: true })
            });
            let crashed = containers.iter().find(|c| {
                c.process_type == "web"
                    && c.release_id == release
                    && !c.running
                    && (c.status == "exited" || c.status == "dead")
            });
            if let (true, Some(c)) = (older_serving, crashed) {
                let tail = self.runtime.tail(&c.id, 5).await;
                let reason = format!(
                    "web.{} exited with status {} before it accepted connections; last output: {}",
                    c.index,
                    c.exit_code.unwrap_or(-1),
                    tail.join(" | ")
                );
                rollout_failed |= self.fail_rollout(&c.app_name, want, &reason).await;
            }
        }

        let crashes: BTreeMap<Slot, u32> = self
            .memory
            .lock()
            .map(|m| {
                m.crashes
                    .iter()
                    .filter(|((a, _), _)| a == app_id)
                    .map(|((_, s), n)| (s.clone(), *n))
                    .collect()
            })
            .unwrap_or_default();
        let core_desired = want.map(|d| Desired {
            release: d.release_id.to_string(),
            version: d.version,
            formation: d
                .formation
                .iter()
                .map(|(k, (q, _))| (k.clone(), *q))
                .collect(),
            generations: d.generations.clone(),
        });
        // After a failed rollout the desired state read at the start of this pass is
        // stale: act on nothing until the next pass re-reads it.
        let actions = if rollout_failed {
            busy = true;
            Vec::new()
        } else {
            reconcile::plan(
                core_desired.as_ref(),
                &observed,
                &crashes,
                now.timestamp().max(0) as u64,
            )
        };
        if observed
            .iter()
            .any(|o| matches!(o.state, DynoState::Exited { .. }))
        {
            busy = true;
        }
        busy |= !actions.is_empty();
        let retired: HashSet<String> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Retire { container, .. } | Action::Remove { container } => {
                    Some(container.clone())
                }
                Action::Start { .. } => None,
            })
            .collect();

        // Routes: ready web dynos that are not leaving, whatever happens below.
        let mut routes = Vec::new();
        if let Some(want) = want {
            let backends: Vec<Backend> = containers
                .iter()
                .zip(observed.iter())
                .filter(|(c, o)| {
                    c.process_type == "web"
                        && !retired.contains(&c.id)
                        && matches!(o.state, DynoState::Running { ready: true })
                })
                .filter_map(|(c, _)| {
                    c.ip.map(|ip| Backend {
                        dyno: format!("web.{}", c.index),
                        addr: SocketAddr::new(ip, self.settings.web_port),
                        version: c.version,
                    })
                })
                .collect();
            let app_routes = AppRoutes {
                maintenance: want.maintenance,
                app: want.app_name.clone(),
                backends,
            };
            for host in &want.hostnames {
                routes.push((host.clone(), app_routes.clone()));
            }
            routes.push((
                format!("{}.{}", want.app_name, self.settings.domain),
                app_routes,
            ));
        }

        // The app's network, once, before any concurrent start needs it.
        let mut can_start = true;
        if let Some(want) =
            want.filter(|_| actions.iter().any(|a| matches!(a, Action::Start { .. })))
            && let Err(e) = self
                .runtime
                .ensure_network(&self.settings.instance, &want.app_name)
                .await
        {
            tracing::warn!(app = %want.app_name, error = %e, "creating the app's network failed");
            can_start = false;
        }
        let grace_secs = app_settings.as_ref().map_or(self.settings.grace_secs, |s| {
            i32::try_from(s.grace.as_secs()).unwrap_or(self.settings.grace_secs)
        });
        let mut starts = Vec::new();
        for action in actions {
            match action {
                Action::Start { slot } => {
                    if let Some(want) = want.filter(|_| can_start) {
                        starts.push(self.start(want, slot));
                    }
                }
                Action::Retire { container, slot } => {
                    self.retire(container, slot, containers, grace_secs);
                }
                Action::Remove { container } => {
                    if let Err(e) = self.runtime.remove_now(&container).await {
                        tracing::warn!(app = %app_id, error = %e, "removing an exited dyno failed");
                    }
                }
            }
        }
        for result in futures::future::join_all(starts).await {
            if let Err(e) = result {
                tracing::warn!(app = %app_id, error = %e, "starting a dyno failed");
            }
        }
        if let Some(want) = want {
            self.record(want.app_id, containers, &observed, &retired)
                .await;
        }
        AppPass { busy, routes }
    }

    /// The app's dyno settings: paasd's defaults, overridden by its config vars. A
    /// malformed value is reported once per release and otherwise ignored.
    fn dyno_settings(&self, want: &DesiredApp) -> DynoSettings {
        let defaults = DynoSettings {
            grace: Duration::from_secs(u64::try_from(self.settings.grace_secs).unwrap_or(30)),
            health_timeout: self.settings.health_timeout,
            health_path: None,
        };
        let (settings, problems) = DynoSettings::from_config(&want.config, &defaults);
        if !problems.is_empty()
            && self
                .memory
                .lock()
                .is_ok_and(|mut m| m.warned_releases.insert(want.release_id))
        {
            for problem in problems {
                tracing::warn!(app = %want.app_name, release = %format!("v{}", want.version), "{problem}; using the default");
            }
        }
        settings
    }

    /// A web dyno is ready once it accepts TCP on `$PORT`, and, when its release named a
    /// health path (`PAAS_HEALTH_PATH`, kept in the dyno's labels), once that path
    /// answers 2xx or 3xx.
    async fn ready(&self, c: &ObservedContainer) -> bool {
        let Some(ip) = c.ip else { return false };
        let addr = SocketAddr::new(ip, self.settings.web_port);
        let Ok(Ok(stream)) = tokio::time::timeout(
            Duration::from_millis(500),
            tokio::net::TcpStream::connect(addr),
        )
        .await
        else {
            return false;
        };
        let Some(path) = c.health_path.as_deref() else {
            return true;
        };
        let host = format!("{}.{}", c.app_name, self.settings.domain);
        matches!(
            tokio::time::timeout(Duration::from_secs(2), http_status(stream, &host, path)).await,
            Ok(Ok(200..=399))
        )
    }

    /// Marks `want`'s release failed (the previous one is current again) and says so in
    /// the app's stream. True when this pass must not act on the desired state it read.
    async fn fail_rollout(&self, app_name: &str, want: &DesiredApp, reason: &str) -> bool {
        match self.store.fail_rollout(want.release_id, reason).await {
            Ok(true) => {
                tracing::error!(app = %app_name, release = %format!("v{}", want.version), reason = %reason, "rollout failed; the previous release is current again");
                self.logs.api_event(
                    app_name,
                    format!(
                        "Release v{} failed: {reason}; deploy failed, the previous release keeps serving",
                        want.version
                    ),
                );
                true
            }
            Ok(false) => false,
            Err(e) => {
                tracing::warn!(app = %app_name, error = %e, "marking a rollout failed did not work");
                true
            }
        }
    }

    fn remember_starting(&self, id: &str) -> Instant {
        self.memory
            .lock()
            .map(|mut m| {
                *m.starting_since
                    .entry(id.to_owned())
                    .or_insert_with(Instant::now)
            })
            .unwrap_or_else(|_| Instant::now())
    }

    fn count_crash(
        &self,
        app_id: &str,
        slot: &Slot,
        c: &ObservedContainer,
        want: Option<&DesiredApp>,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let Ok(mut m) = self.memory.lock() else {
            return;
        };
        if !m.seen_exits.insert(c.id.clone()) {
            return;
        }
        let retiring = self.retiring.lock().is_ok_and(|r| r.contains(&c.id));
        if !retiring {
            let dyno = format!("{}.{}", slot.process_type, slot.index);
            let status = c.exit_code.unwrap_or(-1);
            self.logs.dyno_event(
                &c.app_name,
                &dyno,
                format!("Process exited with status {status}"),
            );
            self.logs.dyno_event(
                &c.app_name,
                &dyno,
                "State changed from up to crashed".to_owned(),
            );
        }
        if want.map(|w| w.release_id.to_string()) != Some(c.release_id.clone()) {
            return;
        }
        let ran = match (
            parse_time(c.started_at.as_deref()),
            parse_time(c.finished_at.as_deref()),
        ) {
            (Some(start), Some(end)) => (end - start).num_seconds(),
            _ => 0,
        };
        let count = m
            .crashes
            .entry((app_id.to_owned(), slot.clone()))
            .or_default();
        *count = if ran >= STABLE_AFTER_SECS {
            1
        } else {
            *count + 1
        };
        let wait = reconcile::backoff_for(*count).as_secs();
        tracing::warn!(
            app = %c.app_name, dyno = %format!("{}.{}", slot.process_type, slot.index), release = %format!("v{}", c.version),
            exit_code = c.exit_code.unwrap_or(-1), crashes = *count, restart_in_secs = wait, at = %now,
            "dyno crashed"
        );
    }

    async fn start(&self, want: &DesiredApp, slot: Slot) -> Result<(), SupervisorError> {
        let Some((_, command)) = want.formation.get(&slot.process_type) else {
            return Ok(());
        };
        let network = app_network_name(&want.app_name);
        let dyno = format!("{}.{}", slot.process_type, slot.index);
        let mut env: Vec<String> = want
            .config
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("DYNO={dyno}"));
        env.push(format!("PS={dyno}"));
        if slot.process_type == "web" {
            env.push(format!("PORT={}", self.settings.web_port));
        }
        let spec = DynoSpec {
            instance: self.settings.instance.clone(),
            app_id: want.app_id.to_string(),
            app_name: want.app_name.clone(),
            release_id: want.release_id.to_string(),
            version: want.version,
            process_type: slot.process_type.clone(),
            index: slot.index,
            generation: want
                .generations
                .get(&slot.process_type)
                .copied()
                .unwrap_or(0),
            image: want.image.clone(),
            command: command.clone(),
            env,
            memory_bytes: self.settings.memory_bytes,
            pids: self.settings.pids,
            network,
            health_path: (slot.process_type == "web")
                .then(|| self.dyno_settings(want).health_path)
                .flatten(),
        };
        self.logs.dyno_event(
            &want.app_name,
            &dyno,
            format!("Starting process with command `{command}`"),
        );
        let id = self.runtime.run_dyno(&spec).await.map_err(runtime_error)?;
        if slot.process_type != "web" {
            // Only web dynos have a readiness check; the others are up once started.
            self.logs.dyno_event(
                &want.app_name,
                &dyno,
                "State changed from starting to up".to_owned(),
            );
            if let Ok(mut m) = self.memory.lock() {
                m.announced_up.insert(id.clone());
            }
        }
        tracing::info!(app = %want.app_name, dyno = %dyno, release = %format!("v{}", want.version), container = %&id[..12.min(id.len())], "dyno starting");
        Ok(())
    }

    /// Marks a dyno as leaving: it is left out of this pass's route table, and stopped once
    /// that table is published.
    fn retire(
        &self,
        container: String,
        slot: Slot,
        containers: &[ObservedContainer],
        grace_secs: i32,
    ) {
        if let Ok(mut r) = self.retiring.lock() {
            r.insert(container.clone());
        }
        let who = containers.iter().find(|c| c.id == container);
        tracing::info!(
            app = %who.map(|c| c.app_name.as_str()).unwrap_or("?"),
            dyno = %format!("{}.{}", slot.process_type, slot.index),
            release = %format!("v{}", who.map_or(0, |c| c.version)),
            "dyno stopping (SIGTERM, then SIGKILL after {grace_secs}s)"
        );
        if let Ok(mut v) = self.to_stop.lock() {
            v.push(Stopping {
                container,
                grace_secs,
                app_name: who.map(|c| c.app_name.clone()).unwrap_or_default(),
                dyno: format!("{}.{}", slot.process_type, slot.index),
            });
        }
    }

    /// SIGTERM after a short drain (routers finish requests already sent to the dyno),
    /// SIGKILL after the grace period, then removal.
    fn stop_in_background(&self, stopping: Stopping) {
        let runtime = self.runtime.clone();
        let retiring = self.retiring.clone();
        let logs = self.logs.clone();
        tokio::spawn(async move {
            let Stopping {
                container,
                grace_secs,
                app_name,
                dyno,
            } = stopping;
            tokio::time::sleep(Duration::from_millis(500)).await;
            logs.dyno_event(
                &app_name,
                &dyno,
                "Stopping all processes with SIGTERM".to_owned(),
            );
            match runtime.stop_and_remove(&container, grace_secs).await {
                Ok(Some(status)) => {
                    if status == 137 {
                        logs.dyno_event(
                            &app_name,
                            &dyno,
                            format!("Error R12 (Exit timeout) -> At least one process failed to exit within {grace_secs} seconds of SIGTERM; stopped with SIGKILL"),
                        );
                    }
                    logs.dyno_event(
                        &app_name,
                        &dyno,
                        format!("Process exited with status {status}"),
                    );
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(container = %container, error = %e, "stopping a dyno failed");
                }
            }
            if let Ok(mut r) = retiring.lock() {
                r.remove(&container);
            }
        });
    }

    async fn record(
        &self,
        app_id: Uuid,
        containers: &[ObservedContainer],
        observed: &[ObservedDyno],
        retired: &HashSet<String>,
    ) {
        let reports: Vec<DynoReport> = containers
            .iter()
            .zip(observed.iter())
            .filter(|(c, _)| !retired.contains(&c.id))
            .map(|(c, o)| DynoReport {
                name: format!("{}.{}", c.process_type, c.index),
                process_type: c.process_type.clone(),
                release_id: c.release_id.parse().ok(),
                command: c.command.clone(),
                state: match o.state {
                    DynoState::Running { ready: true } => "up",
                    DynoState::Running { ready: false } => "starting",
                    DynoState::Exited { .. } => "crashed",
                    DynoState::Other => "starting",
                },
                container_id: c.id.clone(),
                exit_code: c
                    .exit_code
                    .and_then(|e| i32::try_from(e).ok())
                    .filter(|_| !c.running),
                started_at: parse_time(c.started_at.as_deref()),
            })
            .collect();
        if let Err(e) = self.store.record_dynos(app_id, &reports).await {
            tracing::warn!(error = %e, "recording dynos failed");
        }
    }
}

/// Wakes the loop on the runtime's events for this installation's dynos, reconnecting
/// (with a growing pause) whenever the engine goes away.
async fn watch_runtime<R: ContainerRuntime>(
    runtime: R,
    instance: String,
    nudge: Arc<Notify>,
    shutdown: CancellationToken,
) {
    const FIRST_PAUSE: Duration = Duration::from_millis(500);
    let mut pause = FIRST_PAUSE;
    loop {
        let since = Instant::now();
        let watch = runtime.watch_dynos(&instance, |event| {
            tracing::debug!(container = %event.container.get(..12).unwrap_or_default(), action = %event.action, "container event");
            nudge.notify_one();
        });
        let result = tokio::select! {
            _ = shutdown.cancelled() => return,
            result = watch => result,
        };
        match result {
            Ok(()) => tracing::debug!("container event stream ended; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "cannot follow container events; retrying"),
        }
        if since.elapsed() > Duration::from_secs(30) {
            pause = FIRST_PAUSE;
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

fn runtime_error<E: std::error::Error + Send + Sync + 'static>(e: E) -> SupervisorError {
    SupervisorError::Runtime(Box::new(e))
}

/// The status code of `GET path` on an open connection to a dyno.
async fn http_status(
    mut stream: tokio::net::TcpStream,
    host: &str,
    path: &str,
) -> std::io::Result<u16> {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: paas-health-check\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 64];
    while !head.contains(&b'\n') && head.len() < 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    // `HTTP/1.1 200 OK`
    String::from_utf8_lossy(&head)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::other("not an HTTP response"))
}

fn parse_time(raw: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    chrono::DateTime::parse_from_rfc3339(raw?)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}
