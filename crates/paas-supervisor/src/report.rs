//! The `dyno` rows: what `GET /apps/{app}/dynos` and a waiting push read.
//!
//! A crashed dyno is recorded as `crashed`, with its exit status, in the pass that sees
//! it exited, even when that same pass removes it to start its replacement (a first
//! crash is restarted at once): otherwise a crash that is replaced before its back-off
//! ever holds it would never show in the record at all, and whether `paas ps` (or a
//! waiting push) sees it would depend on how fast the passes run. The next pass records
//! the replacement in its slot.

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
        // Leaving dynos are not recorded, except exited ones (removed, not retired),
        // which come last so that a slot's other dyno, if it has one, is its record.
        let mut kept: Vec<(&ObservedContainer, &ObservedDyno)> = containers
            .iter()
            .zip(observed)
            .filter(|(c, o)| {
                !leaving.contains(&c.id) || matches!(o.state, DynoState::Exited { .. })
            })
            .collect();
        kept.sort_by_key(|(c, _)| leaving.contains(&c.id));
        let reports: Vec<DynoReport> = kept
            .into_iter()
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
