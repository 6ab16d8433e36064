//! After a push's release: waiting until its web dynos are up, or its rollout failed.

use std::time::{Duration, Instant};

use paas_store::Rollout;
use tokio::sync::mpsc;

use crate::output::{detail, header};
use crate::{BuildError, Builder, PushTicket};

/// How long a push waits for its web dynos (the supervisor's own limit is 60 s).
const ROLLOUT_WAIT: Duration = Duration::from_secs(100);

impl Builder {
    /// After a push's release: waits until its web dynos are up, or the supervisor marks
    /// the release failed (its web dynos never listened), and says which in the push
    /// output. `false` when the rollout failed (the previous release is current again and
    /// keeps serving) or the engine refuses to start the release's dynos: the push then
    /// fails.
    pub async fn await_rollout(
        &self,
        ticket: &PushTicket,
        version: i32,
        tx: &mpsc::Sender<String>,
    ) -> Result<bool, BuildError> {
        let started = Instant::now();
        let mut announced = false;
        loop {
            let (up, wanted) = match self.store.rollout(ticket.app_id, version).await? {
                Rollout::Failed { reason } => {
                    let reason = reason.unwrap_or_default();
                    let _ = tx
                        .send(format!(" !     v{version} failed to start: {reason}"))
                        .await;
                    let _ = tx
                        .send(" !     Push rejected: the previous release is current again and keeps serving (see `paas logs` and `paas releases`).".to_owned())
                        .await;
                    return Ok(false);
                }
                Rollout::Crashed { dyno, exit_code } => {
                    // Nothing older serves (else the supervisor would fail the rollout):
                    // the release stays, like on Heroku, and the crash back-off keeps
                    // trying.
                    let _ = tx
                        .send(format!(
                            " !     {dyno} of v{version} crashed (exit status {}); it will be restarted. See `paas logs -d {dyno}`.",
                            exit_code.unwrap_or(-1),
                        ))
                        .await;
                    return Ok(true);
                }
                Rollout::Done { up, wanted } => {
                    if announced || wanted > 0 {
                        let _ = tx
                            .send(detail(&format!(
                                "{up} of {wanted} web dynos of v{version} up ({:.1}s)",
                                started.elapsed().as_secs_f64()
                            )))
                            .await;
                    }
                    return Ok(true);
                }
                // Twice in a row, so a refusal the next try gets past is not reported.
                Rollout::CannotStart { reason, failures } if failures >= 2 => {
                    let _ = tx
                        .send(format!(
                            " !     Dynos of v{version} could not be started: {reason}"
                        ))
                        .await;
                    let _ = tx
                        .send(format!(" !     Push failed: v{version} is the current release but does not run; paasd keeps retrying with back-off (`paas ps` shows the reason)."))
                        .await;
                    return Ok(false);
                }
                Rollout::CannotStart { .. } => (0, 0),
                Rollout::Starting { up, wanted } => (up, wanted),
            };
            tracing::debug!(app = %ticket.app, version, up, wanted, "waiting for the rollout");
            if !announced {
                announced = true;
                let _ = tx
                    .send(header(&format!(
                        "Waiting for the web dynos of v{version} to accept connections..."
                    )))
                    .await;
            }
            if started.elapsed() > ROLLOUT_WAIT {
                let _ = tx
                    .send(detail(&format!(
                        "still starting after {}s; `paas ps` shows how it goes",
                        ROLLOUT_WAIT.as_secs()
                    )))
                    .await;
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}
