//! The `dyno` rows: what `GET /apps/{app}/dynos` and a waiting push read.

use std::collections::HashSet;

use paas_core::reconcile::{DynoState, ObservedDyno};
use paas_core::runtime::{ContainerRuntime, ObservedContainer};
use paas_store::{DynoReport, DynoState as Recorded};

use crate::Supervisor;
use crate::pass::Want;

impl<R: ContainerRuntime> Supervisor<R> {
    pub(crate) async fn record(
        &self,
        want: &Want,
        containers: &[ObservedContainer],
        observed: &[ObservedDyno],
        leaving: &HashSet<String>,
    ) {
        let reports: Vec<DynoReport> = containers
            .iter()
            .zip(observed)
            .filter(|(c, _)| !leaving.contains(&c.id))
            .map(|(c, o)| DynoReport {
                name: c.dyno.name.to_string(),
                process_type: c.dyno.name.process_type.to_string(),
                release_id: Some(c.dyno.release_id),
                command: c.command.clone(),
                state: match o.state {
                    DynoState::Running { ready: true, .. } => Recorded::Up,
                    DynoState::Running { ready: false, .. } => Recorded::Starting,
                    DynoState::Exited { .. } => Recorded::Crashed,
                    DynoState::Created | DynoState::Other => Recorded::Starting,
                },
                container_id: c.id.clone(),
                exit_code: c
                    .exit_code
                    .and_then(|e| i32::try_from(e).ok())
                    .filter(|_| !c.running()),
                started_at: c.started_at,
                node: c.node.clone(),
            })
            .collect();
        if let Err(e) = self.store.record_dynos(want.app_id, &reports).await {
            tracing::warn!(error = %e, "recording dynos failed");
        }
    }
}
