//! One pass: observe some apps (or all), plan each, act, publish the routes, and only
//! then stop what was retired.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use futures::StreamExt;
use paas_core::reconcile::{self, Action, Desired, DynoSettings, DynoState};
use paas_core::runtime::{ContainerRuntime, ObservedContainer};
use paas_core::{AppName, ProcessType, ReleaseVersion};
use paas_store::DesiredApp;
use uuid::Uuid;

use crate::{Supervisor, SupervisorError, runtime_error};

/// Apps reconciled side by side in one pass.
const APPS_IN_PARALLEL: usize = 8;

/// What should run for one app, parsed once from the store's answer.
#[derive(Debug)]
pub(crate) struct Want {
    pub app_id: Uuid,
    pub app_name: AppName,
    pub release_id: Uuid,
    pub version: ReleaseVersion,
    pub image: String,
    pub config: BTreeMap<String, String>,
    /// Process type → (quantity, command).
    pub formation: BTreeMap<ProcessType, (u32, String)>,
    pub generations: BTreeMap<ProcessType, u32>,
    pub hostnames: Vec<String>,
    pub maintenance: bool,
    pub settings: DynoSettings,
}

impl Want {
    fn desired(&self) -> Desired {
        Desired {
            release: self.release_id,
            version: self.version.get(),
            formation: self
                .formation
                .iter()
                .map(|(kind, (qty, _))| (kind.clone(), *qty))
                .collect(),
            generations: self.generations.clone(),
            health_timeout: self.settings.health_timeout,
        }
    }

    pub fn generation(&self, kind: &ProcessType) -> u32 {
        self.generations.get(kind).copied().unwrap_or(0)
    }
}

/// What one app's pass found: whether it needs another look soon.
pub(crate) struct AppPass {
    pub app_id: Uuid,
    pub busy: bool,
    /// A dyno of it is starting (or was just started): its readiness is due soon.
    pub starting: bool,
    /// Its web dynos that run, name no health path and did not answer their probe yet.
    pub booting: Vec<ObservedContainer>,
}

/// The apps a pass left with something in flight.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    pub apps: BTreeSet<Uuid>,
    /// Whether one of them has a dyno starting (looked at sooner than a back-off).
    pub starting: bool,
    /// Web dynos that run but are not ready yet and name no health path: the loop probes
    /// them while it waits, so the pass that publishes one (and takes a rollout's next
    /// step) comes as soon as it answers. Those with a health path are left to the
    /// passes' own probes (`controller.rs`, `BOOTING_PROBE_EVERY`).
    pub booting: Vec<ObservedContainer>,
}

impl<R: ContainerRuntime> Supervisor<R> {
    /// One pass over every app, and the housekeeping of one-off dynos. Returns whether
    /// anything is still in flight (starting, waiting for a back-off), so the caller
    /// looks again soon.
    pub async fn reconcile_once(&self) -> Result<bool, SupervisorError> {
        let busy = !self.reconcile(None).await?.apps.is_empty();
        self.reap().await;
        Ok(busy)
    }

    /// One pass over `scope` (every app when `None`). Returns the apps still in flight.
    ///
    /// Apps are reconciled side by side (at most [`APPS_IN_PARALLEL`] at once), each from
    /// its own slice of the observation, so one app with a slow start or a crash loop does
    /// not hold up the others; an app whose pass hits an error still publishes the routes
    /// its observation supports.
    pub(crate) async fn reconcile(
        &self,
        scope: Option<&BTreeSet<Uuid>>,
    ) -> Result<InFlight, SupervisorError> {
        if scope.is_some_and(BTreeSet::is_empty) {
            return Ok(InFlight::default());
        }
        let in_scope = |app: &Uuid| scope.is_none_or(|s| s.contains(app));
        // A pass over nudged apps reads only theirs (an idle platform of many apps pays
        // for one app's change, not for every app's).
        let stored = match scope {
            None => self.store.desired_apps().await?,
            Some(scope) => {
                let apps: Vec<Uuid> = scope.iter().copied().collect();
                self.store.desired_apps_in(&apps).await?
            }
        };
        let desired: BTreeMap<Uuid, Want> = stored
            .into_iter()
            .filter(|d| in_scope(&d.app_id))
            .filter_map(|d| self.want(d))
            .map(|w| (w.app_id, w))
            .collect();
        let only_app = scope
            .filter(|s| s.len() == 1)
            .and_then(|s| s.first().copied());
        // Read before listing: a retired dyno is removed before it leaves this set, so
        // one listed here is in it. Read after, a stop that finished in between would
        // show the listed dyno as exited and not ours to stop: a crash it never had.
        let retiring = self.state.retiring();
        let observed = self
            .runtime
            .list_dynos(&self.settings.instance, only_app)
            .await
            .map_err(runtime_error)?;
        let mut by_app: BTreeMap<Uuid, Vec<ObservedContainer>> = BTreeMap::new();
        for container in observed
            .into_iter()
            .filter(|c| !retiring.contains(&c.id) && in_scope(&c.dyno.app_id))
        {
            by_app
                .entry(container.dyno.app_id)
                .or_default()
                .push(container);
        }
        let apps: BTreeSet<Uuid> = by_app.keys().chain(desired.keys()).copied().collect();
        // What the state says of containers (and, on a full pass, apps) that no longer
        // exist goes.
        let present: HashSet<&str> = by_app.values().flatten().map(|c| c.id.as_str()).collect();
        if scope.is_none() {
            self.state.forget_absent(&present, Some(&apps));
        }

        let passes = apps.iter().copied().map(|app_id| {
            let containers = by_app.remove(&app_id).unwrap_or_default();
            let want = desired.get(&app_id);
            async move { self.reconcile_app(app_id, want, containers).await }
        });
        let passes: Vec<AppPass> = futures::stream::iter(passes)
            .buffer_unordered(APPS_IN_PARALLEL)
            .collect()
            .await;
        if let Some(scope) = scope {
            // Apps nudged but gone from both sides lose their routes.
            for app in scope.iter().filter(|a| !apps.contains(a)) {
                self.state.set_routes(*app, Vec::new());
            }
        }

        let table = self.state.route_table();
        self.routes.send_if_modified(|current| {
            if **current == table {
                false
            } else {
                *current = std::sync::Arc::new(table);
                true
            }
        });
        // Only now that no route leads to them: stop what this pass retired.
        for stopping in self.state.take_to_stop() {
            self.stop_in_background(stopping);
        }
        if scope.is_none() {
            self.sweep_networks_if_due(&desired).await;
        }
        let mut in_flight = InFlight {
            starting: passes.iter().any(|p| p.starting),
            ..InFlight::default()
        };
        for pass in passes {
            if pass.busy {
                in_flight.apps.insert(pass.app_id);
            }
            in_flight.booting.extend(pass.booting);
        }
        Ok(in_flight)
    }

    /// Observes, plans and acts for one app. Errors are logged and make the app `busy`
    /// (looked at again soon); they never cost it its routes.
    async fn reconcile_app(
        &self,
        app_id: Uuid,
        want: Option<&Want>,
        containers: Vec<ObservedContainer>,
    ) -> AppPass {
        let now = chrono::Utc::now();
        let now_secs = now.timestamp().max(0) as u64;
        let observed = self.observe(app_id, want, &containers, now).await;
        let actions = reconcile::plan(
            want.map(Want::desired).as_ref(),
            &observed,
            &self.state.crashes_of(app_id),
            now_secs,
        );
        let busy = !actions.is_empty()
            || observed
                .iter()
                .any(|o| !matches!(o.state, DynoState::Running { ready: true, .. }));
        let starting = actions.iter().any(|a| matches!(a, Action::Start { .. }))
            || observed.iter().any(|o| {
                matches!(
                    o.state,
                    DynoState::Running { ready: false, .. } | DynoState::Created | DynoState::Other
                )
            });
        let leaving: HashSet<&str> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Retire { container, .. }
                | Action::Remove { container }
                | Action::Unhealthy { container, .. } => Some(container.as_str()),
                Action::Start { .. } | Action::FailRollout { .. } => None,
            })
            .collect();
        // Routes: ready web dynos that are not leaving, whatever happens below.
        let routes = want.map_or_else(Vec::new, |want| {
            self.app_routes(want, &containers, &observed, &leaving)
        });
        self.state.set_routes(app_id, routes);
        let leaving: HashSet<String> = leaving.into_iter().map(str::to_owned).collect();
        let booting = containers
            .iter()
            .zip(&observed)
            .filter(|(c, o)| {
                c.dyno.is_web()
                    && c.health_path.is_none()
                    && !leaving.contains(&c.id)
                    && matches!(o.state, DynoState::Running { ready: false, .. })
            })
            .map(|(c, _)| c.clone())
            .collect();
        self.act(app_id, want, &containers, actions).await;
        if let Some(want) = want {
            self.record(want, &containers, &observed, &leaving).await;
        }
        AppPass {
            app_id,
            busy,
            starting,
            booting,
        }
    }

    /// The store's answer parsed once; an app whose stored names no longer parse is
    /// left alone (and said so), not guessed at.
    fn want(&self, d: DesiredApp) -> Option<Want> {
        let (app_name, version) = match (
            AppName::parse(&d.app_name),
            ReleaseVersion::new(d.version),
        ) {
            (Ok(name), Ok(version)) => (name, version),
            _ => {
                tracing::error!(app = %d.app_name, version = d.version, "the stored app name or release version is invalid; leaving the app alone");
                return None;
            }
        };
        let mut formation = BTreeMap::new();
        for (kind, entry) in d.formation {
            match ProcessType::parse(&kind) {
                Ok(kind) => {
                    formation.insert(kind, entry);
                }
                Err(e) => {
                    tracing::error!(app = %app_name, process_type = %kind, error = %e, "a stored process type is invalid; not running it")
                }
            }
        }
        let generations = d
            .generations
            .into_iter()
            .filter_map(|(kind, g)| Some((ProcessType::parse(&kind).ok()?, g)))
            .collect();
        let defaults = DynoSettings {
            grace: Duration::from_secs(u64::try_from(self.settings.grace_secs).unwrap_or(30)),
            health_timeout: self.settings.health_timeout,
            health_path: None,
        };
        let (settings, problems) = DynoSettings::from_config(&d.config, &defaults);
        if !problems.is_empty() && self.state.first_warning_for(d.release_id) {
            for problem in problems {
                tracing::warn!(app = %app_name, release = %version, "{problem}; using the default");
            }
        }
        Some(Want {
            app_id: d.app_id,
            app_name,
            release_id: d.release_id,
            version,
            image: d.image,
            config: d.config,
            formation,
            generations,
            hostnames: d.hostnames,
            maintenance: d.maintenance,
            settings,
        })
    }
}
