//! The controller loop: when to pass and over which apps.
//!
//! A nudge names the app whose desired state changed (a release, a scale, a restart),
//! and the next pass reconciles just that app; apps with something in flight (a dyno
//! starting, a back-off running) are looked at again every 100 ms (a dyno starting) or
//! 250 ms, and at once when a booting web dyno starts to listen (one without a health
//! path is probed every 20 ms between passes); the periodic resync reconciles every
//! app, so whatever a nudge missed (or a paasd restart interrupted) is caught within
//! one resync. The runtime's own events (a crash, a container removed
//! behind paasd's back) nudge the app they concern, so on an engine that reports them
//! the resync is only the safety net and can be rare (a minute by default): an idle
//! platform of many apps then costs one pass a minute, not one every few seconds.
//! Exited one-off dynos are reaped on a short timer of their own ([`REAP_EVERY`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use paas_core::reconcile;
use paas_core::runtime::{ContainerRuntime, ObservedContainer};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use uuid::Uuid;

use crate::Supervisor;

/// How soon apps with something in flight (a crash back-off running) are looked at
/// again.
const BUSY_TICK: Duration = Duration::from_millis(250);
/// How soon apps with a dyno starting are looked at again (a container created but not
/// yet running, a stop under way).
const STARTING_TICK: Duration = Duration::from_millis(100);
/// How often a web dyno that runs but is not ready yet is probed between passes: this
/// bounds how late its `up` (and a rollout's next step) comes after it starts to listen.
/// A probe is one TCP connect, so a boot of a second costs about fifty of them. Dynos
/// with a health path are left to the passes' own probes (every [`STARTING_TICK`]), so
/// the app's log does not get fifty health checks a second.
const BOOTING_PROBE_EVERY: Duration = Duration::from_millis(20);
/// The longest pause between retries of a failing pass (Postgres or Docker away),
/// however rare the resync.
const MOST_BETWEEN_RETRIES: Duration = Duration::from_secs(5);
/// How often exited one-off dynos are looked for.
const REAP_EVERY: Duration = Duration::from_secs(5);

/// Nudges for the supervisor: which apps changed since its last pass.
#[derive(Debug, Default)]
pub struct Nudges {
    notify: Notify,
    pending: Mutex<Pending>,
}

#[derive(Debug, Default)]
struct Pending {
    apps: BTreeSet<Uuid>,
    all: bool,
}

impl Nudges {
    /// `app`'s desired state changed: reconcile it soon.
    pub fn app(&self, app: Uuid) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .apps
            .insert(app);
        self.notify.notify_one();
    }

    /// Reconcile every app soon.
    pub fn all(&self) {
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .all = true;
        self.notify.notify_one();
    }

    /// The apps nudged since the last call (`None`: all of them).
    fn take(&self) -> Option<BTreeSet<Uuid>> {
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        let taken = std::mem::take(&mut *pending);
        (!taken.all).then_some(taken.apps)
    }
}

impl paas_core::runtime::Nudge for Nudges {
    fn app_changed(&self, app: Uuid) {
        self.app(app);
    }
}

impl<R: ContainerRuntime> Supervisor<R> {
    /// Reconciles until `shutdown`; never stops dynos on the way out.
    pub async fn run(self: Arc<Self>, nudges: Arc<Nudges>, shutdown: CancellationToken) {
        tracing::info!("supervisor started");
        // The back-off starts afresh with this process, and so does what it recorded.
        if let Err(e) = self.store.clear_start_failures().await {
            tracing::warn!(error = %e, "clearing recorded start failures failed");
        }
        let events = tokio::spawn(
            watch_runtime(
                self.runtime.clone(),
                self.settings.instance.clone(),
                nudges.clone(),
                shutdown.clone(),
            )
            .instrument(tracing::info_span!("container_events")),
        );
        let mut failures = 0u32;
        // `None`: every app.
        let mut scope: Option<BTreeSet<Uuid>> = None;
        let mut last_full = Instant::now();
        let mut last_reap: Option<Instant> = None;
        loop {
            if scope.is_none() {
                last_full = Instant::now();
            }
            let pass_started = Instant::now();
            let mut booting = Vec::new();
            let wait = match self.reconcile(scope.as_ref()).await {
                Ok(in_flight) => {
                    failures = 0;
                    tracing::debug!(
                        full = scope.is_none(),
                        apps = scope.as_ref().map_or(0, BTreeSet::len),
                        in_flight = in_flight.apps.len(),
                        starting = in_flight.starting,
                        took_ms = pass_started.elapsed().as_millis() as u64,
                        "pass done"
                    );
                    let wait = if in_flight.starting {
                        STARTING_TICK
                    } else if !in_flight.apps.is_empty() {
                        BUSY_TICK
                    } else {
                        self.settings.resync
                    };
                    scope = Some(in_flight.apps);
                    booting = in_flight.booting;
                    wait
                }
                // Postgres or Docker away: retry everything, less often the longer it lasts.
                Err(e) => {
                    failures += 1;
                    scope = None;
                    let most = self
                        .settings
                        .resync
                        .clamp(Duration::from_secs(1), MOST_BETWEEN_RETRIES);
                    let wait = reconcile::backoff_for(failures + 1).clamp(BUSY_TICK, most);
                    tracing::warn!(error = %e, retry_in_ms = wait.as_millis() as u64, "reconcile failed; retrying");
                    wait
                }
            };
            if last_reap.is_none_or(|at| at.elapsed() >= REAP_EVERY) {
                self.reap().await;
                last_reap = Some(Instant::now());
            }
            let since_reap = last_reap.map_or(Duration::ZERO, |at| at.elapsed());
            let wait = wait
                .min(self.settings.resync.saturating_sub(last_full.elapsed()))
                .min(REAP_EVERY.saturating_sub(since_reap));
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = nudges.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = self.first_ready(&booting) => {}
            }
            let nudged = nudges.take();
            scope = match (scope, nudged) {
                _ if last_full.elapsed() >= self.settings.resync => None,
                (Some(busy), Some(nudged)) => Some(busy.union(&nudged).copied().collect()),
                _ => None,
            };
        }
        let _ = events.await;
        tracing::info!("supervisor stopped (dynos keep running)");
    }
}

impl<R: ContainerRuntime> Supervisor<R> {
    /// Returns once one of `booting` answers its readiness probe (never when there are
    /// none): the next pass then marks it `up` without waiting for the next tick.
    async fn first_ready(&self, booting: &[ObservedContainer]) {
        if booting.is_empty() {
            return std::future::pending().await;
        }
        let mut every = tokio::time::interval(BOOTING_PROBE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let probes = booting.iter().map(|c| self.ready(c));
            if futures::future::join_all(probes)
                .await
                .into_iter()
                .any(|ready| ready)
            {
                return;
            }
        }
    }
}

/// Nudges the loop on the runtime's events for this installation's dynos, reconnecting
/// (with a growing pause) whenever the engine goes away.
async fn watch_runtime<R: ContainerRuntime>(
    runtime: R,
    instance: String,
    nudges: Arc<Nudges>,
    shutdown: CancellationToken,
) {
    const FIRST_PAUSE: Duration = Duration::from_millis(500);
    let mut pause = FIRST_PAUSE;
    loop {
        let since = Instant::now();
        let watch = runtime.watch_dynos(&instance, |event| {
            tracing::debug!(container = %event.container.get(..12).unwrap_or_default(), action = %event.action, "container event");
            match event.app_id {
                Some(app) => nudges.app(app),
                None => nudges.all(),
            }
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
        // The engine may have restarted: everything is looked at again.
        nudges.all();
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}
