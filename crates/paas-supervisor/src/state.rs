//! The supervisor's only in-memory state, behind the methods of one type.
//!
//! Everything else is read anew each pass (desired state from Postgres, observed state
//! from the runtime), so losing this on a restart costs only crash back-off counts,
//! which dynos are known to be starting (their health clock starts again) and which
//! state lines were already told. One mutex, never held across an `.await`; a poisoned
//! lock (a panic while it was held) is taken over, not skipped: every method leaves the
//! state consistent before anything that could panic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use paas_core::DynoName;
use paas_core::routes::{AppRoutes, RouteTable};
use uuid::Uuid;

/// A dyno that ran at least this long before exiting resets its crash count.
const STABLE_AFTER_SECS: i64 = 60;

/// How often networks of deleted apps are looked for.
const NETWORK_SWEEP_EVERY: Duration = Duration::from_secs(30);

/// A dyno to stop once the routes without it are out.
#[derive(Debug, Clone)]
pub(crate) struct Stopping {
    pub container: String,
    pub grace_secs: i32,
    pub app_name: String,
    pub dyno: DynoName,
}

/// An app whose dynos could not be started: when to try again, and why.
#[derive(Debug, Clone)]
pub(crate) struct StartFailure {
    pub failures: u32,
    pub retry_at: Instant,
    pub reason: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// Recent crashes per app and dyno, for the back-off.
    crashes: HashMap<(Uuid, DynoName), u32>,
    /// Exits already counted.
    seen_exits: HashSet<String>,
    /// When each not-yet-ready dyno was first seen starting (Unix seconds).
    starting_since: HashMap<String, u64>,
    /// Releases whose malformed dyno settings were already reported.
    warned_releases: HashSet<Uuid>,
    /// When networks of deleted apps were last looked for.
    networks_swept: Option<Instant>,
    /// Dynos whose coming up was told to their app's log stream.
    announced_up: HashSet<String>,
    /// Containers being retired: out of the routes and of the plan's view.
    retiring: HashSet<String>,
    /// Retirements decided in this pass, stopped only after the route table without
    /// them is published.
    to_stop: Vec<Stopping>,
    /// Each app's routes as its last pass found them.
    routes: BTreeMap<Uuid, Vec<(String, AppRoutes)>>,
    /// Apps whose dynos the engine refused to start.
    start_failures: HashMap<Uuid, StartFailure>,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    inner: Mutex<Inner>,
}

impl State {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets what it knows of containers that no longer exist (`present`), and, on a
    /// full pass, of apps that are gone (`apps`).
    pub fn forget_absent(&self, present: &HashSet<&str>, apps: Option<&BTreeSet<Uuid>>) {
        let mut m = self.lock();
        m.seen_exits.retain(|id| present.contains(id.as_str()));
        m.starting_since
            .retain(|id, _| present.contains(id.as_str()));
        m.announced_up.retain(|id| present.contains(id.as_str()));
        if let Some(apps) = apps {
            m.crashes.retain(|(app, _), _| apps.contains(app));
            m.routes.retain(|app, _| apps.contains(app));
            m.start_failures.retain(|app, _| apps.contains(app));
        }
    }

    /// When `container` was first seen starting, remembering `now` if this is the first.
    pub fn starting_since(&self, container: &str, now_secs: u64) -> u64 {
        *self
            .lock()
            .starting_since
            .entry(container.to_owned())
            .or_insert(now_secs)
    }

    /// `container` is up; true the first time (its state line is due).
    pub fn came_up(&self, container: &str) -> bool {
        let mut m = self.lock();
        m.starting_since.remove(container);
        m.announced_up.insert(container.to_owned())
    }

    /// True the first time this exit is seen.
    pub fn first_sight_of_exit(&self, container: &str) -> bool {
        self.lock().seen_exits.insert(container.to_owned())
    }

    /// Counts a crash of `dyno`, which ran `ran_secs` (a long run resets the count);
    /// returns the count.
    pub fn count_crash(&self, app: Uuid, dyno: &DynoName, ran_secs: i64) -> u32 {
        let mut m = self.lock();
        let count = m.crashes.entry((app, dyno.clone())).or_default();
        *count = if ran_secs >= STABLE_AFTER_SECS {
            1
        } else {
            *count + 1
        };
        *count
    }

    /// An unhealthy dyno removed: a crash, and its health clock is over.
    pub fn count_unhealthy(&self, app: Uuid, dyno: &DynoName, container: &str) {
        let mut m = self.lock();
        *m.crashes.entry((app, dyno.clone())).or_default() += 1;
        m.starting_since.remove(container);
    }

    pub fn crashes_of(&self, app: Uuid) -> BTreeMap<DynoName, u32> {
        self.lock()
            .crashes
            .iter()
            .filter(|((a, _), _)| *a == app)
            .map(|((_, d), n)| (d.clone(), *n))
            .collect()
    }

    /// True the first time `release`'s settings problems are to be reported.
    pub fn first_warning_for(&self, release: Uuid) -> bool {
        self.lock().warned_releases.insert(release)
    }

    /// Whether networks of deleted apps are due to be looked for (and if so, now they
    /// are).
    pub fn network_sweep_due(&self) -> bool {
        let mut m = self.lock();
        let due = m
            .networks_swept
            .is_none_or(|at| at.elapsed() >= NETWORK_SWEEP_EVERY);
        if due {
            m.networks_swept = Some(Instant::now());
        }
        due
    }

    pub fn retiring(&self) -> HashSet<String> {
        self.lock().retiring.clone()
    }

    pub fn is_retiring(&self, container: &str) -> bool {
        self.lock().retiring.contains(container)
    }

    /// `stopping` leaves the routes now and is stopped once they are published.
    pub fn retire(&self, stopping: Stopping) {
        let mut m = self.lock();
        m.retiring.insert(stopping.container.clone());
        m.to_stop.push(stopping);
    }

    pub fn take_to_stop(&self) -> Vec<Stopping> {
        std::mem::take(&mut self.lock().to_stop)
    }

    /// A retired container is gone.
    pub fn stopped(&self, container: &str) {
        self.lock().retiring.remove(container);
    }

    /// `app`'s routes as this pass found them (none: the app has none any more).
    pub fn set_routes(&self, app: Uuid, routes: Vec<(String, AppRoutes)>) {
        let mut m = self.lock();
        if routes.is_empty() {
            m.routes.remove(&app);
        } else {
            m.routes.insert(app, routes);
        }
    }

    /// Every app's routes, as one table.
    pub fn route_table(&self) -> RouteTable {
        let m = self.lock();
        let mut table = RouteTable::default();
        for (host, routes) in m.routes.values().flatten() {
            table.insert(host, routes.clone());
        }
        table
    }

    /// Whether `app`'s starts are held back after the engine refused them.
    pub fn start_held(&self, app: Uuid) -> Option<StartFailure> {
        self.lock()
            .start_failures
            .get(&app)
            .filter(|f| f.retry_at > Instant::now())
            .cloned()
    }

    /// The engine refused to start `app`'s dynos: hold its starts back, longer each
    /// time (1 s, 2 s, … 5 min), instead of trying in a hot loop. Returns the failure.
    pub fn start_failed(&self, app: Uuid, reason: String) -> StartFailure {
        let mut m = self.lock();
        let failures = m.start_failures.get(&app).map_or(1, |f| f.failures + 1);
        let wait = paas_core::reconcile::backoff_for(failures + 1);
        let failure = StartFailure {
            failures,
            retry_at: Instant::now() + wait,
            reason,
        };
        m.start_failures.insert(app, failure.clone());
        failure
    }

    /// `app`'s dynos start again. Whether they had failed to.
    pub fn start_succeeded(&self, app: Uuid) -> bool {
        self.lock().start_failures.remove(&app).is_some()
    }
}
