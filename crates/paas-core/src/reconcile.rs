//! The reconcile plan: desired formation against observed dynos → actions.
//!
//! Pure and level-triggered: the supervisor observes the runtime (labels are the record),
//! calls [`plan`], executes the actions and plans again later; planning the same state
//! twice gives the same answer, and a state that needs nothing gives no actions. Every
//! decision the supervisor acts on is taken here, from data: the clock, the health
//! timeout and when each starting dyno was first seen starting are inputs.
//!
//! Rules, per process type and dyno index 1..=quantity (a "slot", named by its
//! [`DynoName`]):
//! - a slot with no dyno of the desired release gets one started at once (scale-up and
//!   first deploys do not wait on anything);
//! - a slot whose old-release dyno still serves is rolled: the new dyno starts, and the
//!   old one is retired only once the new one is ready (healthy for `web`, running for
//!   the others); at most one such replacement per type is in flight, so a rollout
//!   never takes more than one dyno of a type out of service;
//! - a dyno of the desired release that was made but never started (its start was
//!   interrupted, say by a restart of paasd) is started, so a rollout never stalls on it;
//! - a crashed dyno of the desired release is replaced when its back-off has elapsed;
//! - a dyno still not ready when the health timeout has passed since it was first seen
//!   starting is unhealthy: removed, and counted as a crash;
//! - a rollout fails (the release is marked failed, the previous one is current again)
//!   when a new release's web dyno is unhealthy or exits before it ever served while
//!   dynos of an older release serve; nothing else is done in that pass;
//! - dynos beyond the quantity, of types no longer in the formation, or of apps that no
//!   longer exist are retired, highest index first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use uuid::Uuid;

use crate::{DynoName, ProcessType};

pub use crate::dyno_settings::DynoSettings;

/// What should run for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub release: Uuid,
    pub version: i32,
    /// Process type → quantity.
    pub formation: BTreeMap<ProcessType, u32>,
    /// Process type → restart generation (`ps:restart`); absent means 0.
    pub generations: BTreeMap<ProcessType, u32>,
    /// How long a starting dyno may take to become ready.
    pub health_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynoState {
    /// Running; `ready` is true once it accepts connections (web) or at once (others).
    /// `since_secs` is when it was first seen not ready (on the clock of `now_secs`).
    Running { ready: bool, since_secs: u64 },
    /// Exited; `at_secs` is when, on the same clock as `now_secs` in [`plan`].
    Exited {
        at_secs: u64,
        exit_code: Option<i64>,
    },
    /// Made but never started.
    Created,
    /// Being stopped, paused or restarted by the engine: neither serving nor crashed.
    Other,
}

impl DynoState {
    /// A dyno that runs and is ready (first seen at any time).
    pub const fn up() -> Self {
        Self::Running {
            ready: true,
            since_secs: 0,
        }
    }

    fn is_ready(self) -> bool {
        matches!(self, Self::Running { ready: true, .. })
    }
}

/// One container the supervisor owns, as its labels and state describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedDyno {
    pub container: String,
    pub name: DynoName,
    pub release: Uuid,
    pub version: i32,
    /// The restart generation it was started in.
    pub generation: u32,
    pub state: DynoState,
}

/// Why a rollout failed; the supervisor adds the dyno's last output to the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutFailure {
    /// The new web dyno did not become ready within the health timeout.
    NeverReady { name: DynoName, timeout: Duration },
    /// The new web dyno exited before it ever served.
    ExitedBeforeServing {
        container: String,
        name: DynoName,
        exit_code: Option<i64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a dyno of the desired release in this slot.
    Start { name: DynoName },
    /// Take this dyno out of service (de-route, SIGTERM, grace, SIGKILL) and remove it.
    Retire { container: String, name: DynoName },
    /// Remove an exited container (it is not serving anything).
    Remove { container: String },
    /// Not ready within the health timeout: remove it now and count a crash.
    Unhealthy {
        container: String,
        name: DynoName,
        timeout: Duration,
    },
    /// Mark the desired release failed; its predecessor is current again.
    FailRollout { failure: RolloutFailure },
}

/// Crash back-off: the first restart is immediate, then 1 s, 2 s, 4 s … capped at 5 min.
pub fn backoff_for(crashes: u32) -> Duration {
    match crashes {
        0 | 1 => Duration::ZERO,
        n => Duration::from_secs((1u64 << (n - 2).min(16)).min(300)),
    }
}

/// The actions that move `observed` toward `desired` (`None`: the app is gone or has no
/// release to run, so everything of it goes). `crashes` counts recent crashes per slot,
/// for the back-off; `now_secs` is the clock the dyno states use.
pub fn plan(
    desired: Option<&Desired>,
    observed: &[ObservedDyno],
    crashes: &BTreeMap<DynoName, u32>,
    now_secs: u64,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let Some(desired) = desired else {
        for dyno in sorted_for_retirement(observed.iter().collect()) {
            actions.push(retire_or_remove(dyno));
        }
        return actions;
    };

    // Dynos that never got ready in time go first; what is left is planned as usual.
    let timeout = desired.health_timeout;
    let (unhealthy, observed): (Vec<&ObservedDyno>, Vec<&ObservedDyno>) =
        observed.iter().partition(|d| match d.state {
            DynoState::Running {
                ready: false,
                since_secs,
            } => now_secs.saturating_sub(since_secs) > timeout.as_secs(),
            _ => false,
        });
    for dyno in &unhealthy {
        actions.push(Action::Unhealthy {
            container: dyno.container.clone(),
            name: dyno.name.clone(),
            timeout,
        });
    }
    if let Some(failure) = rollout_failure(desired, &unhealthy, &observed) {
        actions.push(Action::FailRollout { failure });
        return actions;
    }

    let wanted: BTreeSet<DynoName> = desired
        .formation
        .iter()
        .flat_map(|(kind, qty)| {
            (1..=*qty).map(|index| DynoName {
                process_type: kind.clone(),
                index,
            })
        })
        .collect();

    // Anything outside the formation goes, highest index first.
    let extra: Vec<&ObservedDyno> = observed
        .iter()
        .copied()
        .filter(|d| !wanted.contains(&d.name))
        .collect();
    for dyno in sorted_for_retirement(extra) {
        actions.push(retire_or_remove(dyno));
    }

    let mut in_flight: BTreeMap<&ProcessType, u32> = BTreeMap::new();
    let mut rolls: Vec<&DynoName> = Vec::new();
    for name in &wanted {
        let here = observed.iter().copied().filter(|d| &d.name == name);
        let generation = desired
            .generations
            .get(&name.process_type)
            .copied()
            .unwrap_or(0);
        let (current, old): (Vec<&ObservedDyno>, Vec<&ObservedDyno>) =
            here.partition(|d| d.release == desired.release && d.generation == generation);
        // Old dynos that no longer serve are just cleaned up.
        let (old_serving, old_dead): (Vec<&ObservedDyno>, Vec<&ObservedDyno>) =
            old.into_iter().partition(|d| {
                matches!(
                    d.state,
                    DynoState::Running { .. } | DynoState::Other | DynoState::Created
                )
            });
        for dyno in old_dead {
            actions.push(Action::Remove {
                container: dyno.container.clone(),
            });
        }

        // Of several current dynos in one slot, keep the best one.
        let mut current = current;
        current.sort_by_key(|d| (rank(d.state), std::cmp::Reverse(d.container.clone())));
        let keep = current.first().copied();
        for dup in current.iter().skip(1) {
            actions.push(retire_or_remove(dup));
        }

        match keep.map(|d| d.state) {
            Some(DynoState::Running { ready: true, .. }) => {
                for dyno in old_serving {
                    actions.push(Action::Retire {
                        container: dyno.container.clone(),
                        name: name.clone(),
                    });
                }
            }
            Some(DynoState::Running { ready: false, .. }) | Some(DynoState::Other) => {
                // A replacement is starting; the old one keeps serving meanwhile.
                *in_flight.entry(&name.process_type).or_default() += 1;
            }
            Some(DynoState::Created) => {
                // Its start was interrupted: starting the slot adopts and starts it.
                *in_flight.entry(&name.process_type).or_default() += 1;
                actions.push(Action::Start { name: name.clone() });
            }
            Some(DynoState::Exited { at_secs, .. }) => {
                let crashed = keep.map(|d| d.container.clone()).unwrap_or_default();
                let wait = backoff_for(crashes.get(name).copied().unwrap_or(1)).as_secs();
                if now_secs >= at_secs.saturating_add(wait) {
                    actions.push(Action::Remove { container: crashed });
                    actions.push(Action::Start { name: name.clone() });
                }
            }
            None if old_serving.is_empty() => actions.push(Action::Start { name: name.clone() }),
            None => rolls.push(name),
        }
    }
    // Rolling replacements: one at a time per process type.
    for name in rolls {
        let busy = in_flight.entry(&name.process_type).or_default();
        if *busy == 0 {
            *busy += 1;
            actions.push(Action::Start { name: name.clone() });
        }
    }
    actions
}

/// A new release's web dyno that never got ready, or exited before it ever served,
/// while an older release's dynos serve: the rollout stops there (a crash loop would
/// otherwise keep the release half rolled forever). With nothing older serving, the
/// crash back-off keeps trying instead.
fn rollout_failure(
    desired: &Desired,
    unhealthy: &[&ObservedDyno],
    others: &[&ObservedDyno],
) -> Option<RolloutFailure> {
    let older_serving = |web_only: bool| {
        others.iter().any(|o| {
            o.release != desired.release
                && (!web_only || o.name.process_type.is_web())
                && o.state.is_ready()
        })
    };
    if let Some(dyno) = unhealthy.iter().find(|d| d.release == desired.release)
        && older_serving(false)
    {
        return Some(RolloutFailure::NeverReady {
            name: dyno.name.clone(),
            timeout: desired.health_timeout,
        });
    }
    let crashed = others.iter().find(|d| {
        d.name.process_type.is_web()
            && d.release == desired.release
            && matches!(d.state, DynoState::Exited { .. })
    })?;
    let DynoState::Exited { exit_code, .. } = crashed.state else {
        return None;
    };
    older_serving(true).then(|| RolloutFailure::ExitedBeforeServing {
        container: crashed.container.clone(),
        name: crashed.name.clone(),
        exit_code,
    })
}

fn rank(state: DynoState) -> u8 {
    match state {
        DynoState::Running { ready: true, .. } => 0,
        DynoState::Running { ready: false, .. } => 1,
        DynoState::Other => 2,
        DynoState::Created => 3,
        DynoState::Exited { .. } => 4,
    }
}

fn retire_or_remove(dyno: &ObservedDyno) -> Action {
    match dyno.state {
        DynoState::Exited { .. } | DynoState::Created => Action::Remove {
            container: dyno.container.clone(),
        },
        _ => Action::Retire {
            container: dyno.container.clone(),
            name: dyno.name.clone(),
        },
    }
}

fn sorted_for_retirement(mut dynos: Vec<&ObservedDyno>) -> Vec<&ObservedDyno> {
    dynos.sort_by(|a, b| {
        b.name
            .index
            .cmp(&a.name.index)
            .then(a.name.process_type.cmp(&b.name.process_type))
    });
    dynos
}

#[cfg(test)]
mod tests;
