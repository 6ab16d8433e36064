//! Dyno output, as Docker keeps it: which containers of an installation print (formation
//! and one-off alike), when new ones start, and each one's output with Docker's own
//! timestamps, so a follower can resume where it stopped.

use std::collections::HashMap;

use bollard::container::LogOutput;
use bollard::query_parameters::{EventsOptionsBuilder, LogsOptions, LogsOptionsBuilder};
use futures::{Stream, StreamExt};

use paas_core::runtime::{LogSource, OutputLine, Printer};

use crate::{Docker, DockerError, labels};

fn instance_filter(instance: &str) -> HashMap<String, Vec<String>> {
    labels::filters(instance, None, &[])
}

/// A dyno's container, or an add-on's.
fn source_from_labels(id: String, labels: &HashMap<String, String>) -> Option<LogSource> {
    let printer = match labels::decode_printer(labels) {
        Some((app_name, dyno)) => Printer::Dyno { app_name, dyno },
        None => {
            let (addon_id, service) = labels::decode_addon_printer(labels)?;
            Printer::Addon { addon_id, service }
        }
    };
    Some(LogSource { id, printer })
}

impl Docker {
    /// Every dyno container (formation and one-off) and add-on container, in any
    /// state, of `instance`.
    pub async fn log_sources(&self, instance: &str) -> Result<Vec<LogSource>, DockerError> {
        let filters = instance_filter(instance);
        let found = self.containers(&filters).await?;
        Ok(found
            .into_iter()
            .filter_map(|c| source_from_labels(c.id?, &c.labels.unwrap_or_default()))
            .collect())
    }

    /// The dyno containers of `instance` that start from now on, as they start; the
    /// stream ends when the connection to the engine does (the caller reconnects).
    pub async fn log_source_starts(
        &self,
        instance: &str,
    ) -> Result<impl Stream<Item = Result<LogSource, DockerError>> + Send + 'static, DockerError>
    {
        let api = self.api().await?;
        let mut filters = instance_filter(instance);
        filters.insert("type".to_owned(), vec!["container".to_owned()]);
        filters.insert("event".to_owned(), vec!["start".to_owned()]);
        let options = EventsOptionsBuilder::default().filters(&filters).build();
        Ok(api.events(Some(options)).filter_map(|event| async move {
            match event {
                Err(e) => Some(Err(e.into())),
                Ok(event) => {
                    let actor = event.actor?;
                    source_from_labels(actor.id?, &actor.attributes.unwrap_or_default()).map(Ok)
                }
            }
        }))
    }

    /// A container's output (stdout and stderr) from `since_secs` (Unix seconds; 0 for
    /// all Docker holds) on, following it until the container stops.
    pub async fn follow_output(
        &self,
        id: &str,
        since_secs: i64,
    ) -> Result<impl Stream<Item = Result<OutputLine, DockerError>> + Send + 'static, DockerError>
    {
        let api = self.api().await?;
        let options = follow_options(since_secs);
        Ok(output_lines(api.logs(id, Some(options))))
    }
}

/// Both streams from `since_secs` (Unix seconds; 0 for all Docker holds) on, followed and
/// with timestamps, as [`output_lines`] reads them: for a container's logs and a Swarm
/// service's alike.
pub fn follow_options(since_secs: i64) -> LogsOptions {
    LogsOptionsBuilder::default()
        .follow(true)
        .stdout(true)
        .stderr(true)
        .timestamps(true)
        .since(i32::try_from(since_secs).unwrap_or(0))
        .build()
}

/// Both streams' last `lines` lines, for a container's logs and a Swarm service's alike.
pub fn tail_options(lines: usize) -> LogsOptions {
    LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .tail(&lines.to_string())
        .build()
}

/// Docker's log frames (`--timestamps`) as lines with their times: each line comes as a
/// frame that starts with its timestamp; a line longer than Docker's 16 KiB buffer comes
/// as several such frames. Lines without a readable time are dropped. The Swarm adapter
/// reads a service's logs (the same frames) through this too.
pub fn output_lines<E: Into<DockerError>>(
    frames: impl Stream<Item = Result<LogOutput, E>> + Send + 'static,
) -> impl Stream<Item = Result<OutputLine, DockerError>> + Send + 'static {
    frames
        .map(|chunk| -> Result<Vec<OutputLine>, DockerError> {
            let bytes = match chunk.map_err(Into::into)? {
                LogOutput::StdOut { message }
                | LogOutput::StdErr { message }
                | LogOutput::Console { message }
                | LogOutput::StdIn { message } => message,
            };
            Ok(String::from_utf8_lossy(&bytes)
                .split_terminator('\n')
                .filter_map(|line| {
                    let line = line.trim_end_matches('\r');
                    let (timestamp, text) = line.split_once(' ').unwrap_or((line, ""));
                    let at = chrono::DateTime::parse_from_rfc3339(timestamp).ok()?;
                    Some(OutputLine {
                        at: at.with_timezone(&chrono::Utc),
                        text: text.to_owned(),
                    })
                })
                .collect())
        })
        .flat_map(|lines| {
            futures::stream::iter(match lines {
                Ok(lines) => lines.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        })
}
