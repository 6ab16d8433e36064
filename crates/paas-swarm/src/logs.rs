//! Dyno output on a cluster, for the log collector (`ContainerRuntime::follow_output`):
//! a formation dyno's output is its service's logs (`GET /services/{id}/logs` on the
//! manager), which Swarm gathers from whichever node runs the task, with the node
//! engine's own timestamps; one-offs run on the manager's engine and are its
//! containers (`paas_docker`). A service's source id is `service:<service id>`, a
//! one-off's its container id.

use std::collections::HashMap;
use std::time::Duration;

use bollard::query_parameters::{EventsOptionsBuilder, InspectServiceOptions};
use futures::StreamExt;
use paas_core::runtime::{LogSource, OutputLine, Printer};
use paas_docker::DockerError;
use paas_docker::labels::{self, Kind};

use crate::{Swarm, SwarmError, is_not_found};

const SERVICE: &str = "service:";

/// A service that still exists keeps its log stream open for good (Swarm ends it
/// neither when the task exits nor when the service is removed): how often a follower
/// checks that its service is still there.
const GONE_CHECK: Duration = Duration::from_secs(5);

fn service_source(id: &str, labels: &HashMap<String, String>) -> Option<LogSource> {
    let (app_name, dyno) = labels::decode_printer(labels)?;
    Some(LogSource {
        id: format!("{SERVICE}{id}"),
        printer: Printer::Dyno { app_name, dyno },
    })
}

fn gone(e: &DockerError) -> bool {
    matches!(e, DockerError::Api(e) if is_not_found(e))
}

enum Start {
    Service(Result<bollard::models::EventMessage, bollard::errors::Error>),
    Container(Result<LogSource, DockerError>),
}

impl Swarm {
    /// Every formation service of `instance`, and the one-off containers of the
    /// manager's engine.
    pub async fn log_sources(&self, instance: &str) -> Result<Vec<LogSource>, SwarmError> {
        let services = self.services_of(instance, Kind::Formation, &[]).await?;
        let mut sources: Vec<LogSource> = services
            .into_iter()
            .filter_map(|s| service_source(s.id.as_deref()?, s.spec?.labels.as_ref()?))
            .collect();
        sources.extend(self.docker.log_sources(instance).await?);
        Ok(sources)
    }

    /// Services of `instance` as they are made, and one-off containers of the
    /// manager's engine as they start.
    pub async fn watch_log_sources<F: FnMut(LogSource) + Send>(
        &self,
        instance: &str,
        mut on_source: F,
    ) -> Result<(), SwarmError> {
        let api = self.api().await?;
        // Service events carry no labels to filter on: each made service is looked at.
        let filters = HashMap::from([
            ("type".to_owned(), vec!["service".to_owned()]),
            ("event".to_owned(), vec!["create".to_owned()]),
        ]);
        let services = api
            .events(Some(
                EventsOptionsBuilder::default().filters(&filters).build(),
            ))
            .map(Start::Service);
        let containers = self
            .docker
            .log_source_starts(instance)
            .await?
            .map(Start::Container);
        let mut starts = std::pin::pin!(futures::stream::select(services, containers));
        while let Some(start) = starts.next().await {
            match start {
                Start::Container(source) => on_source(source?),
                Start::Service(event) => {
                    let Some(id) = event?.actor.and_then(|a| a.id) else {
                        continue;
                    };
                    let service = match api
                        .inspect_service(&id, None::<InspectServiceOptions>)
                        .await
                    {
                        Ok(service) => service,
                        Err(e) if is_not_found(&e) => continue,
                        Err(e) => return Err(e.into()),
                    };
                    let labels = service.spec.and_then(|s| s.labels).unwrap_or_default();
                    if labels::is_of(&labels, instance, Kind::Formation)
                        && let Some(source) = service_source(&id, &labels)
                    {
                        on_source(source);
                    }
                }
            }
        }
        Ok(())
    }

    /// A service's logs (from every node its task ran on) until the service is
    /// removed, or a one-off container's until it stops.
    pub async fn follow_output<F: FnMut(OutputLine) + Send>(
        &self,
        id: &str,
        since_secs: i64,
        mut on_line: F,
    ) -> Result<(), SwarmError> {
        let Some(service) = id.strip_prefix(SERVICE) else {
            let mut lines = std::pin::pin!(self.docker.follow_output(id, since_secs).await?);
            while let Some(line) = lines.next().await {
                on_line(line?);
            }
            return Ok(());
        };
        let api = self.api().await?;
        let options = paas_docker::logs::follow_options(since_secs);
        let mut lines = std::pin::pin!(paas_docker::logs::output_lines(
            api.service_logs(service, Some(options))
        ));
        let mut check = tokio::time::interval(GONE_CHECK);
        check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Some(Ok(line)) => on_line(line),
                    Some(Err(e)) if gone(&e) => return Ok(()),
                    Some(Err(e)) => return Err(e.into()),
                    None => return Ok(()),
                },
                _ = check.tick() => match api
                    .inspect_service(service, None::<InspectServiceOptions>)
                    .await
                {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => return Ok(()),
                    Err(e) => return Err(e.into()),
                },
            }
        }
    }
}
