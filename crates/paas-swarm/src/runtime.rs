//! [`ContainerRuntime`] for [`Swarm`]: the supervisor's port, by the inherent methods;
//! networks' listing and removal and one-off dynos are the manager engine's, through
//! `paas_docker`.

use futures::StreamExt;
use paas_core::AppName;
use paas_core::runtime::{
    AppNetwork, ContainerRuntime, DynoEvent, DynoSpec, ExitedOneOff, LogSource, NodeSummary,
    ObservedContainer, OutputLine,
};
use uuid::Uuid;

use crate::{Swarm, SwarmError};

impl ContainerRuntime for Swarm {
    type Error = SwarmError;

    fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> impl Future<Output = Result<String, SwarmError>> + Send {
        Swarm::ensure_network(self, instance, app_name)
    }

    async fn app_networks(&self, instance: &str) -> Result<Vec<AppNetwork>, SwarmError> {
        Ok(self.docker.app_networks(instance).await?)
    }

    async fn remove_network(&self, id: &str) -> Result<bool, SwarmError> {
        Ok(self.docker.remove_network(id).await?)
    }

    fn forget_app_images(
        &self,
        instance: &str,
        app_name: &AppName,
    ) -> impl Future<Output = Result<usize, SwarmError>> + Send {
        self.forget_app(instance, app_name)
    }

    fn reap_jobs(&self, instance: &str) -> impl Future<Output = Result<usize, SwarmError>> + Send {
        self.reap_collectors(instance)
    }

    fn run_dyno(&self, spec: &DynoSpec) -> impl Future<Output = Result<String, SwarmError>> + Send {
        Swarm::run_dyno(self, spec)
    }

    fn list_dynos(
        &self,
        instance: &str,
        app_id: Option<Uuid>,
    ) -> impl Future<Output = Result<Vec<ObservedContainer>, SwarmError>> + Send {
        Swarm::list_dynos(self, instance, app_id)
    }

    fn stop_and_remove(
        &self,
        id: &str,
        grace_secs: i32,
    ) -> impl Future<Output = Result<Option<i64>, SwarmError>> + Send {
        Swarm::stop_and_remove(self, id, grace_secs)
    }

    fn remove_now(&self, id: &str) -> impl Future<Output = Result<(), SwarmError>> + Send {
        Swarm::remove_now(self, id)
    }

    fn tail(
        &self,
        id: &str,
        lines: usize,
    ) -> impl Future<Output = Result<Vec<String>, SwarmError>> + Send {
        Swarm::tail(self, id, lines)
    }

    /// Swarm reports no task events: service and node changes nudge every app, and a
    /// task that exits is seen by the next resync (`SupervisorSettings::resync`).
    async fn watch_dynos<F: FnMut(DynoEvent) + Send>(
        &self,
        _instance: &str,
        mut on_event: F,
    ) -> Result<(), SwarmError> {
        let filters = std::collections::HashMap::from([(
            "type".to_owned(),
            vec!["service".to_owned(), "node".to_owned()],
        )]);
        let options = bollard::query_parameters::EventsOptionsBuilder::default()
            .filters(&filters)
            .build();
        let api = self.api().await?;
        let mut events = std::pin::pin!(api.events(Some(options)));
        while let Some(event) = events.next().await {
            let event = event?;
            on_event(DynoEvent {
                container: event.actor.and_then(|a| a.id).unwrap_or_default(),
                app_id: None,
                action: event.action.unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn nodes(&self, instance: &str) -> Result<Vec<NodeSummary>, SwarmError> {
        let dynos = Swarm::list_dynos(self, instance, None).await?;
        Ok(Swarm::cluster_nodes(self)
            .await?
            .into_iter()
            .map(|n| NodeSummary {
                dynos: dynos
                    .iter()
                    .filter(|d| d.running() && d.node.as_deref() == Some(n.hostname.as_str()))
                    .count(),
                name: n.hostname,
                addr: n.addr,
                state: n.state,
                availability: n.availability,
                manager: n.manager,
            })
            .collect())
    }

    async fn exited_one_offs(&self, instance: &str) -> Result<Vec<ExitedOneOff>, SwarmError> {
        Ok(self.docker.exited_one_offs(instance).await?)
    }

    fn log_sources(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<LogSource>, SwarmError>> + Send {
        Swarm::log_sources(self, instance)
    }

    fn watch_log_sources<F: FnMut(LogSource) + Send>(
        &self,
        instance: &str,
        on_source: F,
    ) -> impl Future<Output = Result<(), SwarmError>> + Send {
        Swarm::watch_log_sources(self, instance, on_source)
    }

    fn follow_output<F: FnMut(OutputLine) + Send>(
        &self,
        id: &str,
        since_secs: i64,
        on_line: F,
    ) -> impl Future<Output = Result<(), SwarmError>> + Send {
        Swarm::follow_output(self, id, since_secs, on_line)
    }
}
