//! Observation: the runtime's containers → the plan's `ObservedDyno`s.
//!
//! Web dynos that run are probed for readiness side by side (a slow or silent dyno
//! costs one probe timeout, not one per dyno); the first sight of an exit is counted as
//! a crash (for the back-off) and told to the app's log stream.

use chrono::{DateTime, Utc};
use paas_core::ContainerStatus;
use paas_core::reconcile::{self, DynoState, ObservedDyno};
use paas_core::runtime::{ContainerRuntime, ObservedContainer};
use uuid::Uuid;

use crate::Supervisor;
use crate::pass::Want;

impl<R: ContainerRuntime> Supervisor<R> {
    pub(crate) async fn observe(
        &self,
        app_id: Uuid,
        want: Option<&Want>,
        containers: &[ObservedContainer],
        now: DateTime<Utc>,
    ) -> Vec<ObservedDyno> {
        let now_secs = now.timestamp().max(0) as u64;
        let readiness = futures::future::join_all(containers.iter().map(|c| async move {
            match c.status {
                ContainerStatus::Running if c.dyno.is_web() => self.ready(c).await,
                _ => true,
            }
        }))
        .await;
        containers
            .iter()
            .zip(readiness)
            .map(|(c, ready)| {
                let state = match c.status {
                    ContainerStatus::Running if ready => {
                        if self.state.came_up(&c.id) {
                            tracing::info!(app = %c.dyno.app_name, dyno = %c.dyno.name, release = %c.dyno.version, container = %c.id.get(..12).unwrap_or_default(), "dyno up");
                            self.logs.dyno_event(
                                c.dyno.app_name.as_str(),
                                &c.dyno.name.to_string(),
                                "State changed from starting to up".to_owned(),
                            );
                        }
                        DynoState::Running {
                            ready: true,
                            since_secs: 0,
                        }
                    }
                    ContainerStatus::Running => DynoState::Running {
                        ready: false,
                        since_secs: self.state.starting_since(&c.id, now_secs),
                    },
                    status if status.has_exited() => {
                        self.count_exit(app_id, c, want, now);
                        DynoState::Exited {
                            at_secs: c.finished_at.unwrap_or(now).timestamp().max(0) as u64,
                            exit_code: c.exit_code,
                        }
                    }
                    ContainerStatus::Created => DynoState::Created,
                    _ => DynoState::Other,
                };
                ObservedDyno {
                    container: c.id.clone(),
                    name: c.dyno.name.clone(),
                    release: c.dyno.release_id,
                    version: c.dyno.version.get(),
                    generation: c.dyno.generation,
                    state,
                }
            })
            .collect()
    }

    /// The first sight of a dyno's exit: told to its stream (unless paas stopped it),
    /// and counted as a crash when it ran the desired release.
    fn count_exit(
        &self,
        app_id: Uuid,
        c: &ObservedContainer,
        want: Option<&Want>,
        now: DateTime<Utc>,
    ) {
        if !self.state.first_sight_of_exit(&c.id) {
            return;
        }
        let dyno = c.dyno.name.to_string();
        if !self.state.is_retiring(&c.id) {
            let status = c.exit_code.unwrap_or(-1);
            let app = c.dyno.app_name.as_str();
            self.logs
                .dyno_event(app, &dyno, format!("Process exited with status {status}"));
            self.logs
                .dyno_event(app, &dyno, "State changed from up to crashed".to_owned());
        }
        if want.map(|w| w.release_id) != Some(c.dyno.release_id) {
            return;
        }
        let ran = match (c.started_at, c.finished_at) {
            (Some(start), Some(end)) => (end - start).num_seconds(),
            _ => 0,
        };
        let count = self.state.count_crash(app_id, &c.dyno.name, ran);
        let wait = reconcile::backoff_for(count).as_secs();
        tracing::warn!(
            app = %c.dyno.app_name, dyno = %dyno, release = %c.dyno.version,
            exit_code = c.exit_code.unwrap_or(-1), crashes = count, restart_in_secs = wait, at = %now,
            "dyno crashed"
        );
    }
}
