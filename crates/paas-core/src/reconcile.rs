//! The reconcile plan: desired formation against observed dynos → actions.
//!
//! Pure and level-triggered: the supervisor observes Docker (labels are the record),
//! calls [`plan`], executes the actions and plans again later; planning the same state
//! twice gives the same answer, and a state that needs nothing gives no actions.
//!
//! Rules, per process type and dyno index 1..=quantity (a "slot"):
//! - a slot with no dyno of the desired release gets one started at once (scale-up and
//!   first deploys do not wait on anything);
//! - a slot whose old-release dyno still serves is rolled: the new dyno starts, and the
//!   old one is retired only once the new one is ready (healthy for `web`, running for
//!   the others); at most one such replacement per type is in flight, so a rollout
//!   never takes more than one dyno of a type out of service;
//! - a crashed dyno of the desired release is replaced when its back-off has elapsed;
//! - dynos beyond the quantity, of types no longer in the formation, or of apps that no
//!   longer exist are retired, highest index first.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

pub use crate::dyno_settings::DynoSettings;

/// One dyno slot's identity: process type and index (`web.2`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Slot {
    pub process_type: String,
    pub index: u32,
}

/// What should run for one app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Desired {
    pub release: String,
    pub version: i32,
    /// Process type → quantity.
    pub formation: BTreeMap<String, u32>,
    /// Process type → restart generation (`ps:restart`); absent means 0.
    pub generations: BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynoState {
    /// Running; `ready` is true once it accepts connections (web) or at once (others).
    Running { ready: bool },
    /// Exited; `at_secs` is when, on the same clock as `now_secs` in [`plan`].
    Exited { at_secs: u64 },
    /// Created, or being stopped: neither serving nor crashed.
    Other,
}

/// One container the supervisor owns, as its labels and state describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedDyno {
    pub container: String,
    pub slot: Slot,
    pub release: String,
    pub version: i32,
    /// The restart generation it was started in.
    pub generation: u32,
    pub state: DynoState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start a dyno of the desired release in this slot.
    Start { slot: Slot },
    /// Take this dyno out of service (de-route, SIGTERM, grace, SIGKILL) and remove it.
    Retire { container: String, slot: Slot },
    /// Remove an exited container (it is not serving anything).
    Remove { container: String },
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
/// for the back-off; `now_secs` is the clock `DynoState::Exited` uses.
pub fn plan(
    desired: Option<&Desired>,
    observed: &[ObservedDyno],
    crashes: &BTreeMap<Slot, u32>,
    now_secs: u64,
) -> Vec<Action> {
    let mut actions = Vec::new();
    let Some(desired) = desired else {
        for dyno in sorted_for_retirement(observed.iter().collect()) {
            actions.push(retire_or_remove(dyno));
        }
        return actions;
    };
    let wanted: BTreeSet<Slot> = desired
        .formation
        .iter()
        .flat_map(|(kind, qty)| {
            (1..=*qty).map(|index| Slot {
                process_type: kind.clone(),
                index,
            })
        })
        .collect();

    // Anything outside the formation goes, highest index first.
    let extra: Vec<&ObservedDyno> = observed
        .iter()
        .filter(|d| !wanted.contains(&d.slot))
        .collect();
    for dyno in sorted_for_retirement(extra) {
        actions.push(retire_or_remove(dyno));
    }

    let mut in_flight: BTreeMap<&str, u32> = BTreeMap::new();
    let mut rolls: Vec<(&Slot, Vec<&ObservedDyno>)> = Vec::new();
    for slot in &wanted {
        let here: Vec<&ObservedDyno> = observed.iter().filter(|d| &d.slot == slot).collect();
        let generation = desired
            .generations
            .get(&slot.process_type)
            .copied()
            .unwrap_or(0);
        let (current, old): (Vec<&ObservedDyno>, Vec<&ObservedDyno>) = here
            .into_iter()
            .partition(|d| d.release == desired.release && d.generation == generation);
        // Old dynos that no longer serve are just cleaned up.
        let (old_serving, old_dead): (Vec<&ObservedDyno>, Vec<&ObservedDyno>) = old
            .into_iter()
            .partition(|d| matches!(d.state, DynoState::Running { .. } | DynoState::Other));
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
            Some(DynoState::Running { ready: true }) => {
                for dyno in old_serving {
                    actions.push(Action::Retire {
                        container: dyno.container.clone(),
                        slot: slot.clone(),
                    });
                }
            }
            Some(DynoState::Running { ready: false }) | Some(DynoState::Other) => {
                // A replacement is starting; the old one keeps serving meanwhile.
                *in_flight.entry(slot.process_type.as_str()).or_default() += 1;
            }
            Some(DynoState::Exited { at_secs }) => {
                let crashed = keep.map(|d| d.container.clone()).unwrap_or_default();
                let wait = backoff_for(crashes.get(slot).copied().unwrap_or(1)).as_secs();
                if now_secs >= at_secs.saturating_add(wait) {
                    actions.push(Action::Remove { container: crashed });
                    actions.push(Action::Start { slot: slot.clone() });
                }
            }
            None if old_serving.is_empty() => actions.push(Action::Start { slot: slot.clone() }),
            None => rolls.push((slot, old_serving)),
        }
    }
    // Rolling replacements: one at a time per process type.
    for (slot, _old) in rolls {
        let busy = in_flight.entry(slot.process_type.as_str()).or_default();
        if *busy == 0 {
            *busy += 1;
            actions.push(Action::Start { slot: slot.clone() });
        }
    }
    actions
}

fn rank(state: DynoState) -> u8 {
    match state {
        DynoState::Running { ready: true } => 0,
        DynoState::Running { ready: false } => 1,
        DynoState::Other => 2,
        DynoState::Exited { .. } => 3,
    }
}

fn retire_or_remove(dyno: &ObservedDyno) -> Action {
    match dyno.state {
        DynoState::Exited { .. } => Action::Remove {
            container: dyno.container.clone(),
        },
        _ => Action::Retire {
            container: dyno.container.clone(),
            slot: dyno.slot.clone(),
        },
    }
}

fn sorted_for_retirement(mut dynos: Vec<&ObservedDyno>) -> Vec<&ObservedDyno> {
    dynos.sort_by(|a, b| {
        b.slot
            .index
            .cmp(&a.slot.index)
            .then(a.slot.process_type.cmp(&b.slot.process_type))
    });
    dynos
}

#[cfg(test)]
mod tests {
    use super::*;
    use DynoState::*;

    fn slot(kind: &str, index: u32) -> Slot {
        Slot {
            process_type: kind.into(),
            index,
        }
    }

    fn desired(formation: &[(&str, u32)]) -> Desired {
        Desired {
            release: "r2".into(),
            version: 2,
            formation: formation.iter().map(|(k, q)| (k.to_string(), *q)).collect(),
            generations: BTreeMap::new(),
        }
    }

    fn dyno(
        container: &str,
        kind: &str,
        index: u32,
        release: &str,
        state: DynoState,
    ) -> ObservedDyno {
        ObservedDyno {
            container: container.into(),
            slot: slot(kind, index),
            release: release.into(),
            version: if release == "r2" { 2 } else { 1 },
            generation: 0,
            state,
        }
    }

    const UP: DynoState = Running { ready: true };
    const STARTING: DynoState = Running { ready: false };

    fn check(desired: Option<&Desired>, observed: &[ObservedDyno], expected: &[Action]) {
        assert_eq!(plan(desired, observed, &BTreeMap::new(), 1000), expected);
    }

    fn start(kind: &str, index: u32) -> Action {
        Action::Start {
            slot: slot(kind, index),
        }
    }

    fn retire(container: &str, kind: &str, index: u32) -> Action {
        Action::Retire {
            container: container.into(),
            slot: slot(kind, index),
        }
    }

    #[test]
    fn nothing_running_starts_the_whole_formation_at_once() {
        check(
            Some(&desired(&[("web", 2), ("worker", 1), ("clock", 0)])),
            &[],
            &[start("web", 1), start("web", 2), start("worker", 1)],
        );
    }

    #[test]
    fn a_converged_app_needs_nothing() {
        let d = desired(&[("web", 2)]);
        check(
            Some(&d),
            &[dyno("a", "web", 1, "r2", UP), dyno("b", "web", 2, "r2", UP)],
            &[],
        );
    }

    #[test]
    fn scaling_down_retires_the_highest_numbers_first_and_removes_gone_types() {
        let d = desired(&[("web", 1)]);
        check(
            Some(&d),
            &[
                dyno("a", "web", 1, "r2", UP),
                dyno("b", "web", 2, "r2", UP),
                dyno("c", "web", 3, "r2", UP),
                dyno("w", "worker", 1, "r2", UP),
            ],
            &[
                retire("c", "web", 3),
                retire("b", "web", 2),
                retire("w", "worker", 1),
            ],
        );
    }

    #[test]
    fn scaling_to_zero_and_deleted_apps_retire_everything() {
        let running = [
            dyno("a", "web", 1, "r2", UP),
            dyno("x", "web", 2, "r2", Exited { at_secs: 1 }),
        ];
        let expected = [
            retire("a", "web", 1),
            Action::Remove {
                container: "x".into(),
            },
        ];
        let mut expected = expected.to_vec();
        expected.reverse();
        check(Some(&desired(&[("web", 0)])), &running, &expected);
        check(None, &running, &expected);
    }

    #[test]
    fn a_new_release_rolls_one_dyno_at_a_time_and_retires_old_ones_only_when_new_ones_are_ready() {
        let d = desired(&[("web", 2)]);
        let old = [
            dyno("o1", "web", 1, "r1", UP),
            dyno("o2", "web", 2, "r1", UP),
        ];
        // Step 1: one replacement starts; the old ones keep serving.
        check(Some(&d), &old, &[start("web", 1)]);
        // Step 2: it is starting but not ready: wait.
        let mut step = old.to_vec();
        step.push(dyno("n1", "web", 1, "r2", STARTING));
        check(Some(&d), &step, &[]);
        // Step 3: ready: retire its predecessor; the next slot waits for that.
        step.pop();
        step.push(dyno("n1", "web", 1, "r2", UP));
        check(Some(&d), &step, &[retire("o1", "web", 1), start("web", 2)]);
    }

    #[test]
    fn rollouts_of_different_types_proceed_side_by_side() {
        let d = desired(&[("web", 1), ("worker", 1)]);
        let old = [
            dyno("o1", "web", 1, "r1", UP),
            dyno("w1", "worker", 1, "r1", UP),
        ];
        check(Some(&d), &old, &[start("web", 1), start("worker", 1)]);
    }

    #[test]
    fn a_restart_replaces_the_types_dynos_like_a_new_release() {
        let mut d = desired(&[("web", 1), ("worker", 1)]);
        d.generations.insert("web".into(), 1);
        let running = [
            dyno("w", "web", 1, "r2", UP),
            dyno("k", "worker", 1, "r2", UP),
        ];
        check(Some(&d), &running, &[start("web", 1)]);
    }

    #[test]
    fn crashed_dynos_restart_after_their_backoff() {
        let d = desired(&[("web", 1)]);
        let crashed = [dyno("c", "web", 1, "r2", Exited { at_secs: 990 })];
        let restart = vec![
            Action::Remove {
                container: "c".into(),
            },
            start("web", 1),
        ];
        // First crash: at once.
        assert_eq!(
            plan(
                Some(&d),
                &crashed,
                &BTreeMap::from([(slot("web", 1), 1)]),
                990
            ),
            restart
        );
        // Fifth crash: 8 s back-off, 10 s elapsed → restart; at 5 s elapsed → wait.
        let crashes = BTreeMap::from([(slot("web", 1), 5)]);
        assert_eq!(plan(Some(&d), &crashed, &crashes, 1000), restart);
        assert_eq!(plan(Some(&d), &crashed, &crashes, 995), vec![]);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_for(1), Duration::ZERO);
        assert_eq!(backoff_for(2), Duration::from_secs(1));
        assert_eq!(backoff_for(4), Duration::from_secs(4));
        assert_eq!(backoff_for(40), Duration::from_secs(300));
    }

    #[test]
    fn duplicates_in_a_slot_keep_the_best_one() {
        let d = desired(&[("web", 1)]);
        check(
            Some(&d),
            &[
                dyno("a", "web", 1, "r2", STARTING),
                dyno("b", "web", 1, "r2", UP),
            ],
            &[retire("a", "web", 1)],
        );
    }

    #[test]
    fn exited_old_dynos_are_removed_and_the_slot_started() {
        let d = desired(&[("web", 1)]);
        check(
            Some(&d),
            &[dyno("o", "web", 1, "r1", Exited { at_secs: 1 })],
            &[
                Action::Remove {
                    container: "o".into(),
                },
                start("web", 1),
            ],
        );
    }

    /// Applying a plan's actions to the observation (starts come up ready) and planning
    /// again converges to nothing within a few rounds, for every mix of inputs.
    #[test]
    fn applying_plans_converges() {
        let states = [UP, STARTING, Other, Exited { at_secs: 1 }];
        let mut cases = 0;
        for quantity in 0..3u32 {
            for s1 in states {
                for s2 in states {
                    for (r1, r2) in [("r1", "r2"), ("r2", "r2"), ("r1", "r1")] {
                        let d = desired(&[("web", quantity)]);
                        let mut observed =
                            vec![dyno("a", "web", 1, r1, s1), dyno("b", "web", 3, r2, s2)];
                        let mut next_id = 0;
                        for _round in 0..10 {
                            let actions = plan(Some(&d), &observed, &BTreeMap::new(), 10_000);
                            if actions.is_empty() {
                                break;
                            }
                            for action in actions {
                                match action {
                                    Action::Start { slot } => {
                                        next_id += 1;
                                        observed.push(ObservedDyno {
                                            container: format!("n{next_id}"),
                                            slot,
                                            release: "r2".into(),
                                            version: 2,
                                            generation: 0,
                                            state: UP,
                                        });
                                    }
                                    Action::Retire { container, .. }
                                    | Action::Remove { container } => {
                                        observed.retain(|o| o.container != container)
                                    }
                                }
                            }
                            // Anything still starting becomes ready.
                            for o in &mut observed {
                                if o.state == STARTING || o.state == Other {
                                    o.state = UP;
                                }
                            }
                        }
                        assert!(
                            plan(Some(&d), &observed, &BTreeMap::new(), 10_000).is_empty(),
                            "{observed:?}"
                        );
                        let serving = observed
                            .iter()
                            .filter(|o| o.release == "r2" && o.state == UP)
                            .count();
                        assert_eq!(serving as u32, quantity, "{observed:?}");
                        cases += 1;
                    }
                }
            }
        }
        assert_eq!(cases, 3 * 16 * 3);
    }
}
