//! [`ContainerRuntime`] for [`Docker`]: the supervisor's port, by the inherent methods.

use futures::StreamExt;
use paas_core::runtime::{
    AppNetwork, ContainerRuntime, DynoEvent, DynoSpec, ExitedOneOff, NodeSummary, ObservedContainer,
};
use uuid::Uuid;

use crate::{Docker, DockerError};

/// The supervisor's port (`paas_core::runtime`), by the methods above.
impl ContainerRuntime for Docker {
    type Error = DockerError;

    fn ensure_network(
        &self,
        instance: &str,
        app_name: &str,
    ) -> impl Future<Output = Result<String, DockerError>> + Send {
        Docker::ensure_network(self, instance, app_name)
    }

    fn app_networks(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<AppNetwork>, DockerError>> + Send {
        Docker::app_networks(self, instance)
    }

    fn remove_network(&self, id: &str) -> impl Future<Output = Result<bool, DockerError>> + Send {
        Docker::remove_network(self, id)
    }

    fn run_dyno(
        &self,
        spec: &DynoSpec,
    ) -> impl Future<Output = Result<String, DockerError>> + Send {
        Docker::run_dyno(self, spec)
    }

    fn list_dynos(
        &self,
        instance: &str,
        app_id: Option<Uuid>,
    ) -> impl Future<Output = Result<Vec<ObservedContainer>, DockerError>> + Send {
        Docker::list_dynos(self, instance, app_id)
    }

    fn stop_and_remove(
        &self,
        id: &str,
        grace_secs: i32,
    ) -> impl Future<Output = Result<Option<i64>, DockerError>> + Send {
        Docker::stop_and_remove(self, id, grace_secs)
    }

    fn remove_now(&self, id: &str) -> impl Future<Output = Result<(), DockerError>> + Send {
        self.remove_container_now(id)
    }

    fn tail(
        &self,
        id: &str,
        lines: usize,
    ) -> impl Future<Output = Result<Vec<String>, DockerError>> + Send {
        Docker::tail(self, id, lines)
    }

    async fn watch_dynos<F: FnMut(DynoEvent) + Send>(
        &self,
        instance: &str,
        mut on_event: F,
    ) -> Result<(), DockerError> {
        let mut events = std::pin::pin!(self.dyno_events(instance).await?);
        while let Some(event) = events.next().await {
            on_event(event?);
        }
        Ok(())
    }

    /// One engine is one node: the engine's host name, its running dynos.
    async fn nodes(&self, instance: &str) -> Result<Vec<NodeSummary>, DockerError> {
        let name = self.host_name().await?;
        let dynos = Docker::list_dynos(self, instance, None)
            .await?
            .iter()
            .filter(|d| d.running())
            .count();
        Ok(vec![NodeSummary {
            name,
            addr: None,
            state: "ready".into(),
            availability: "active".into(),
            manager: false,
            dynos,
        }])
    }

    fn exited_one_offs(
        &self,
        instance: &str,
    ) -> impl Future<Output = Result<Vec<ExitedOneOff>, DockerError>> + Send {
        Docker::exited_one_offs(self, instance)
    }
}
