//! After a push's release: waiting until its web dynos are up, or its rollout failed.

use std::time::{Duration, Instant};

use paas_store::StoreError;
use tokio::sync::mpsc;

use crate::output::{detail, header};
use crate::{BuildError, Builder, PushTicket};

/// How long a push waits for its web dynos (the supervisor's own limit is 60 s).
const ROLLOUT_WAIT: Duration = Duration::from_secs(100);

impl Builder {
    /// After a push's release: waits until its web dynos are up, or the supervisor marks
    /// the release failed (its web dynos never listened), and says which in the push
    /// output. `false` when the rollout failed: the push is then rejected, as the
    /// previous release is current again and keeps serving.
    pub async fn await_rollout(
        &self,
        ticket: &PushTicket,
        version: i32,
        tx: &mpsc::Sender<String>,
    ) -> Result<bool, BuildError> {
        let started = Instant::now();
        let mut announced = false;
        loop {
            let release = self
                .store
                .release(
                    ticket.app_id,
                    &paas_core::ReleaseRef::Version(
                        paas_core::ReleaseVersion::new(version).map_err(StoreError::from)?,
                    ),
                )
                .await?;
            if release.status == "failed" {
                let reason = release.status_reason.unwrap_or_default();
                let _ = tx
                    .send(format!(" !     v{version} failed to start: {reason}"))
                    .await;
                let _ = tx
                    .send(" !     Push rejected: the previous release is current again and keeps serving (see `paas logs` and `paas releases`).".to_owned())
                    .await;
                return Ok(false);
            }
            let wanted = self
                .store
                .formation(ticket.app_id)
                .await?
                .iter()
                .find(|f| f.process_type == "web")
                .map_or(0, |f| f.quantity);
            let dynos = self.store.dynos(ticket.app_id).await?;
            let up = dynos
                .iter()
                .filter(|d| {
                    d.process_type == "web" && d.version == Some(version) && d.state == "up"
                })
                .count();
            if let Some(crashed) = dynos.iter().find(|d| {
                d.process_type == "web" && d.version == Some(version) && d.state == "crashed"
            }) {
                // Nothing older serves (else the supervisor would fail the rollout): the
                // release stays, like on Heroku, and the crash back-off keeps trying.
                let _ = tx
                    .send(format!(
                        " !     {} of v{version} crashed (exit status {}); it will be restarted. See `paas logs -d {}`.",
                        crashed.name,
                        crashed.exit_code.unwrap_or(-1),
                        crashed.name
                    ))
                    .await;
                return Ok(true);
            }
            let superseded = dynos.iter().any(|d| d.version.is_some_and(|v| v > version));
            if wanted == 0 || superseded || up >= usize::try_from(wanted).unwrap_or(0) {
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
