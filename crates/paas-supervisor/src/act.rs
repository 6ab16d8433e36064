//! Acting on the plan: starting, retiring, stopping and removing dynos, and failing a
//! rollout. Nothing here decides; each function carries out one `Action`.

use std::collections::HashMap;
use std::time::Duration;

use paas_core::DynoIdentity;
use paas_core::DynoName;
use paas_core::dyno_env;
use paas_core::reconcile::{Action, RolloutFailure};
use paas_core::runtime::{ContainerRuntime, DynoSpec, ObservedContainer, app_network_name};
use uuid::Uuid;

use crate::pass::Want;
use crate::state::Stopping;
use crate::{Supervisor, SupervisorError, runtime_error};

/// A retired dyno gets SIGTERM this long after the routes without it are published, so
/// routers finish the requests already sent to it.
const DRAIN_BEFORE_SIGTERM: Duration = Duration::from_millis(500);

impl<R: ContainerRuntime> Supervisor<R> {
    pub(crate) async fn act(
        &self,
        app_id: Uuid,
        want: Option<&Want>,
        containers: &[ObservedContainer],
        actions: Vec<Action>,
    ) {
        let find = |id: &str| containers.iter().find(|c| c.id == id);
        let grace_secs = want.map_or(self.settings.grace_secs, |w| {
            i32::try_from(w.settings.grace.as_secs()).unwrap_or(self.settings.grace_secs)
        });
        // The app's network, once, before any concurrent start needs it; none while the
        // engine keeps refusing (the back-off holds the app's starts).
        let mut can_start = false;
        if let Some(want) =
            want.filter(|_| actions.iter().any(|a| matches!(a, Action::Start { .. })))
        {
            can_start = match self.state.start_held(app_id) {
                Some(_) => false,
                None => match self
                    .runtime
                    .ensure_network(&self.settings.instance, want.app_name.as_str())
                    .await
                {
                    Ok(_) => true,
                    Err(e) => {
                        self.start_failed(want, format!("creating the app's network failed: {e}"))
                            .await;
                        false
                    }
                },
            };
        }
        let mut tails: HashMap<DynoName, Vec<String>> = HashMap::new();
        let mut starts = Vec::new();
        for action in actions {
            match action {
                Action::Start { name } => {
                    if let Some(want) = want.filter(|_| can_start) {
                        starts.push(self.start(want, name));
                    }
                }
                Action::Retire { container, name } => {
                    let who = find(&container);
                    tracing::info!(
                        app = %who.map(|c| c.dyno.app_name.as_str()).unwrap_or("?"),
                        dyno = %name,
                        release = %who.map_or(0, |c| c.dyno.version.get()),
                        "dyno stopping (SIGTERM, then SIGKILL after {grace_secs}s)"
                    );
                    self.state.retire(Stopping {
                        container,
                        grace_secs,
                        app_name: who.map(|c| c.dyno.app_name.to_string()).unwrap_or_default(),
                        dyno: name,
                    });
                }
                Action::Remove { container } => {
                    if let Err(e) = self.runtime.remove_now(&container).await {
                        tracing::warn!(app = %app_id, error = %e, "removing an exited dyno failed");
                    }
                }
                Action::Unhealthy {
                    container,
                    name,
                    timeout,
                } => {
                    if let Some(c) = find(&container) {
                        let tail = self.unhealthy(app_id, c, timeout).await;
                        tails.insert(name, tail);
                    }
                }
                Action::FailRollout { failure } => {
                    if let Some(want) = want {
                        self.fail_rollout(want, &failure, &tails).await;
                    }
                }
            }
        }
        if let Some(want) = want {
            let results = futures::future::join_all(starts).await;
            let failed = results.iter().find_map(|r| r.as_ref().err());
            match failed {
                Some(e) => self.start_failed(want, e.to_string()).await,
                None if !results.is_empty() && self.state.start_succeeded(app_id) => {
                    if let Err(e) = self.store.clear_start_failure(app_id).await {
                        tracing::warn!(app = %want.app_name, error = %e, "clearing a start failure failed");
                    }
                }
                None => {}
            }
        }
    }

    /// The engine refused to start `want`'s dynos: say so once per failure, record why
    /// (for a waiting push and `paas ps`), and hold the app's starts back for a while
    /// (the state's back-off).
    async fn start_failed(&self, want: &Want, reason: String) {
        let failure = self.state.start_failed(want.app_id, reason);
        if let Err(e) = self
            .store
            .record_start_failure(
                want.app_id,
                want.release_id,
                &failure.reason,
                failure.failures,
            )
            .await
        {
            tracing::warn!(app = %want.app_name, error = %e, "recording a start failure failed");
        }
        tracing::warn!(
            app = %want.app_name, release = %want.version, failures = failure.failures,
            retry_in_ms = failure.retry_at.saturating_duration_since(std::time::Instant::now()).as_millis() as u64,
            reason = %failure.reason, "starting the app's dynos failed"
        );
        if failure.failures == 1 {
            self.logs.api_event(
                want.app_name.as_str(),
                format!(
                    "Dynos of {} could not be started: {}",
                    want.version, failure.reason
                ),
            );
        }
    }

    async fn start(&self, want: &Want, name: DynoName) -> Result<(), SupervisorError> {
        let Some((_, command)) = want.formation.get(&name.process_type) else {
            return Ok(());
        };
        let web = name.process_type.is_web();
        let spec = DynoSpec {
            instance: self.settings.instance.clone(),
            env: dyno_env(&want.config, &name, web.then_some(self.settings.web_port)),
            dyno: DynoIdentity {
                app_id: want.app_id,
                app_name: want.app_name.clone(),
                release_id: want.release_id,
                version: want.version,
                generation: want.generation(&name.process_type),
                name,
            },
            image: want.image.clone(),
            command: command.clone(),
            limits: self.settings.limits,
            network: app_network_name(&self.settings.instance, want.app_name.as_str()),
            health_path: web.then(|| want.settings.health_path.clone()).flatten(),
            grace_secs: i32::try_from(want.settings.grace.as_secs())
                .unwrap_or(self.settings.grace_secs),
        };
        let app = want.app_name.as_str();
        let dyno = spec.dyno.name.to_string();
        self.logs.dyno_event(
            app,
            &dyno,
            format!("Starting process with command `{command}`"),
        );
        let id = self.runtime.run_dyno(&spec).await.map_err(runtime_error)?;
        if !web {
            // Only web dynos have a readiness check; the others are up once started.
            if self.state.came_up(&id) {
                self.logs
                    .dyno_event(app, &dyno, "State changed from starting to up".to_owned());
            }
        }
        tracing::info!(app = %app, dyno = %dyno, release = %want.version, container = %&id[..12.min(id.len())], "dyno starting");
        Ok(())
    }

    /// Removes a dyno that did not get ready in time, counting a crash; returns its last
    /// output.
    async fn unhealthy(
        &self,
        app_id: Uuid,
        c: &ObservedContainer,
        timeout: Duration,
    ) -> Vec<String> {
        let tail = self.runtime.tail(&c.id, 10).await.unwrap_or_else(|e| {
            tracing::warn!(container = %c.id, error = %e, "reading a dyno's last output failed");
            Vec::new()
        });
        let app = c.dyno.app_name.as_str();
        let dyno = c.dyno.name.to_string();
        tracing::error!(
            app = %app, dyno = %dyno, release = %c.dyno.version,
            last_lines = %tail.join(" | "),
            "web dyno did not accept connections on $PORT within {}s; stopping it, the previous dynos keep serving",
            timeout.as_secs()
        );
        if let Err(e) = self.runtime.remove_now(&c.id).await {
            tracing::warn!(app = %app, error = %e, "removing an unhealthy dyno failed");
            return tail;
        }
        self.logs.dyno_event(
            app,
            &dyno,
            format!(
                "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within {} seconds of launch",
                timeout.as_secs()
            ),
        );
        self.logs
            .dyno_event(app, &dyno, "Stopping process with SIGKILL".to_owned());
        self.state.count_unhealthy(app_id, &c.dyno.name, &c.id);
        tail
    }

    /// Marks `want`'s release failed (the previous one is current again) and says so in
    /// the app's stream.
    async fn fail_rollout(
        &self,
        want: &Want,
        failure: &RolloutFailure,
        tails: &HashMap<DynoName, Vec<String>>,
    ) {
        let last = |lines: &[String], n: usize| lines[lines.len().saturating_sub(n)..].join(" | ");
        let reason = match failure {
            RolloutFailure::NeverReady { name, timeout } => format!(
                "{name} did not accept connections on $PORT within {}s; last output: {}",
                timeout.as_secs(),
                last(tails.get(name).map_or(&[][..], Vec::as_slice), 5)
            ),
            RolloutFailure::ExitedBeforeServing {
                container,
                name,
                exit_code,
            } => {
                let tail = self.runtime.tail(container, 5).await.unwrap_or_default();
                format!(
                    "{name} exited with status {} before it accepted connections; last output: {}",
                    exit_code.unwrap_or(-1),
                    tail.join(" | ")
                )
            }
        };
        let app = want.app_name.as_str();
        match self.store.fail_rollout(want.release_id, &reason).await {
            Ok(true) => {
                tracing::error!(app = %app, release = %want.version, reason = %reason, "rollout failed; the previous release is current again");
                self.logs.api_event(
                    app,
                    format!(
                        "Release {} failed: {reason}; deploy failed, the previous release keeps serving",
                        want.version
                    ),
                );
            }
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(app = %app, error = %e, "marking a rollout failed did not work");
            }
        }
    }

    /// SIGTERM after a short drain, SIGKILL after the grace period, then removal.
    pub(crate) fn stop_in_background(&self, stopping: Stopping) {
        let runtime = self.runtime.clone();
        let state = self.state.clone();
        let logs = self.logs.clone();
        tokio::spawn(async move {
            let Stopping {
                container,
                grace_secs,
                app_name,
                dyno,
            } = stopping;
            let dyno = dyno.to_string();
            tokio::time::sleep(DRAIN_BEFORE_SIGTERM).await;
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
            state.stopped(&container);
        });
    }
}
