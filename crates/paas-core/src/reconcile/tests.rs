//! The plan's table tests and its convergence property.

use super::*;
use DynoState::*;

fn slot(kind: &str, index: u32) -> DynoName {
    DynoName {
        process_type: ProcessType::parse(kind).unwrap(),
        index,
    }
}

/// The test's two releases, `r1` (old) and `r2` (desired).
fn release(name: &str) -> Uuid {
    match name {
        "r1" => Uuid::from_u128(1),
        "r2" => Uuid::from_u128(2),
        other => panic!("no release {other}"),
    }
}

fn kind(k: &str) -> ProcessType {
    ProcessType::parse(k).unwrap()
}

fn desired(formation: &[(&str, u32)]) -> Desired {
    Desired {
        release: release("r2"),
        version: 2,
        formation: formation.iter().map(|(k, q)| (kind(k), *q)).collect(),
        generations: BTreeMap::new(),
        health_timeout: Duration::from_secs(3600),
    }
}

fn exited(at_secs: u64) -> DynoState {
    Exited {
        at_secs,
        exit_code: Some(1),
    }
}

fn dyno(container: &str, kind: &str, index: u32, release: &str, state: DynoState) -> ObservedDyno {
    ObservedDyno {
        container: container.into(),
        name: slot(kind, index),
        release: self::release(release),
        version: if release == "r2" { 2 } else { 1 },
        generation: 0,
        state,
    }
}

const UP: DynoState = DynoState::up();
const STARTING: DynoState = Running {
    ready: false,
    since_secs: 9_000,
};

fn check(desired: Option<&Desired>, observed: &[ObservedDyno], expected: &[Action]) {
    assert_eq!(plan(desired, observed, &BTreeMap::new(), 1000), expected);
}

fn start(kind: &str, index: u32) -> Action {
    Action::Start {
        name: slot(kind, index),
    }
}

fn retire(container: &str, kind: &str, index: u32) -> Action {
    Action::Retire {
        container: container.into(),
        name: slot(kind, index),
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
        dyno("x", "web", 2, "r2", exited(1)),
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
    d.generations.insert(kind("web"), 1);
    let running = [
        dyno("w", "web", 1, "r2", UP),
        dyno("k", "worker", 1, "r2", UP),
    ];
    check(Some(&d), &running, &[start("web", 1)]);
}

#[test]
fn crashed_dynos_restart_after_their_backoff() {
    let d = desired(&[("web", 1)]);
    let crashed = [dyno("c", "web", 1, "r2", exited(990))];
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
        &[dyno("o", "web", 1, "r1", exited(1))],
        &[
            Action::Remove {
                container: "o".into(),
            },
            start("web", 1),
        ],
    );
}

#[test]
fn a_dyno_not_ready_within_the_health_timeout_is_unhealthy_and_fails_the_rollout() {
    let mut d = desired(&[("web", 1)]);
    d.health_timeout = Duration::from_secs(30);
    let starting_since = |since_secs| Running {
        ready: false,
        since_secs,
    };
    let old = dyno("o1", "web", 1, "r1", UP);
    // Within the timeout: wait.
    check(
        Some(&d),
        &[old.clone(), dyno("n1", "web", 1, "r2", starting_since(980))],
        &[],
    );
    // Past it, with the old release serving: remove it, and fail the rollout.
    check(
        Some(&d),
        &[old, dyno("n1", "web", 1, "r2", starting_since(900))],
        &[
            Action::Unhealthy {
                container: "n1".into(),
                name: slot("web", 1),
                timeout: Duration::from_secs(30),
            },
            Action::FailRollout {
                failure: RolloutFailure::NeverReady {
                    name: slot("web", 1),
                    timeout: Duration::from_secs(30),
                },
            },
        ],
    );
    // A first deploy with nothing older serving: removed and tried again (back-off).
    check(
        Some(&d),
        &[dyno("n1", "web", 1, "r2", starting_since(900))],
        &[
            Action::Unhealthy {
                container: "n1".into(),
                name: slot("web", 1),
                timeout: Duration::from_secs(30),
            },
            start("web", 1),
        ],
    );
}

#[test]
fn a_new_web_dyno_that_exits_while_the_old_release_serves_fails_the_rollout() {
    let d = desired(&[("web", 2)]);
    check(
        Some(&d),
        &[
            dyno("o1", "web", 1, "r1", UP),
            dyno("o2", "web", 2, "r1", UP),
            dyno("n1", "web", 1, "r2", exited(999)),
        ],
        &[Action::FailRollout {
            failure: RolloutFailure::ExitedBeforeServing {
                container: "n1".into(),
                name: slot("web", 1),
                exit_code: Some(1),
            },
        }],
    );
    // A worker of the new release crashing is the back-off's business.
    let d = desired(&[("web", 1), ("worker", 1)]);
    check(
        Some(&d),
        &[
            dyno("o1", "web", 1, "r1", UP),
            dyno("w1", "worker", 1, "r2", exited(1)),
        ],
        &[
            Action::Remove {
                container: "w1".into(),
            },
            start("worker", 1),
            start("web", 1),
        ],
    );
}

/// A restart of paasd between creating a dyno and starting it left the container
/// made but never started; the rollout must go on (it used to wait on it forever).
#[test]
fn a_dyno_made_but_never_started_is_started_and_the_rollout_goes_on() {
    let d = desired(&[("web", 3), ("worker", 1)]);
    let observed = [
        dyno("n1", "web", 1, "r2", UP),
        dyno("n2", "web", 2, "r2", Created),
        dyno("o2", "web", 2, "r1", UP),
        dyno("o3", "web", 3, "r1", UP),
        dyno("w1", "worker", 1, "r2", UP),
    ];
    check(Some(&d), &observed, &[start("web", 2)]);
}

/// Applying a plan's actions to the observation (starts come up ready) and planning
/// again converges to nothing within a few rounds, for every mix of inputs.
#[test]
fn applying_plans_converges() {
    let states = [UP, STARTING, Other, Created, exited(1)];
    let mut cases = 0;
    for quantity in 0..3u32 {
        for s1 in states {
            for s2 in states {
                for (r1, r2) in [("r1", "r2"), ("r2", "r2"), ("r1", "r1")] {
                    let mut d = desired(&[("web", quantity)]);
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
                                Action::Start { name } => {
                                    next_id += 1;
                                    observed.push(ObservedDyno {
                                        container: format!("n{next_id}"),
                                        name,
                                        release: d.release,
                                        version: d.version,
                                        generation: 0,
                                        state: UP,
                                    });
                                }
                                Action::Retire { container, .. }
                                | Action::Remove { container }
                                | Action::Unhealthy { container, .. } => {
                                    observed.retain(|o| o.container != container)
                                }
                                // The store makes the previous release current again.
                                Action::FailRollout { .. } => {
                                    d.release = release("r1");
                                    d.version = 1;
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
                        .filter(|o| o.release == d.release && o.state == UP)
                        .count();
                    assert_eq!(serving as u32, quantity, "{observed:?}");
                    cases += 1;
                }
            }
        }
    }
    assert_eq!(cases, 3 * 25 * 3);
}
