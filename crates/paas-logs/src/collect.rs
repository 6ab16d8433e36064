//! The collector: follows the output of every dyno container of this installation
//! (formation and one-off) through the Docker API into the apps' streams.
//!
//! A container is followed from the moment it starts (Docker's `start` events) and, as a
//! safety net, whenever a periodic listing finds one nobody follows. How far each
//! container was read (Docker's nanosecond timestamp of the last line) is kept in
//! Postgres, so a restarted paasd resumes there: lines Docker still holds are neither
//! lost nor repeated.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use paas_core::logline::{LogLine, Source};
use paas_docker::{Docker, LogSource};
use paas_store::Store;
use tokio_util::sync::CancellationToken;

use crate::LogHub;

/// How often read positions are saved, and followers are checked against Docker.
const SAVE_EVERY: Duration = Duration::from_secs(1);
const RESYNC_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Collector {
    docker: Docker,
    store: Store,
    hub: Arc<LogHub>,
    instance: String,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Containers with a follower running.
    following: HashSet<String>,
    /// Containers read to their end (stopped); followed again only if they start again.
    finished: HashSet<String>,
    /// Last line read per container, nanoseconds since the epoch.
    cursors: HashMap<String, i64>,
    /// Cursors not yet saved.
    dirty: HashSet<String>,
}

impl Collector {
    pub fn new(
        docker: Docker,
        store: Store,
        hub: Arc<LogHub>,
        instance: impl Into<String>,
    ) -> Self {
        Self {
            docker,
            store,
            hub,
            instance: instance.into(),
            state: Mutex::default(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Follows dyno output until `shutdown`; read positions are saved on the way out.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        // Positions from the previous run: without them every container would be read
        // from its start again.
        loop {
            match self.store.log_cursors().await {
                Ok(saved) => {
                    self.state().cursors.extend(saved);
                    break;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "loading log read positions failed; retrying");
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        let starts = tokio::spawn(self.clone().watch_starts(shutdown.clone()));
        let mut save = tokio::time::interval(SAVE_EVERY);
        let mut resync = tokio::time::interval(RESYNC_EVERY);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = save.tick() => self.save().await,
                _ = resync.tick() => {
                    if let Err(e) = self.resync(&shutdown).await {
                        tracing::warn!(error = %e, "listing dyno containers for logs failed");
                    }
                }
            }
        }
        let _ = starts.await;
        self.save().await;
    }

    async fn watch_starts(self: Arc<Self>, shutdown: CancellationToken) {
        loop {
            match self.docker.log_source_starts(&self.instance).await {
                Ok(starts) => {
                    let mut starts = std::pin::pin!(starts);
                    loop {
                        tokio::select! {
                            () = shutdown.cancelled() => return,
                            next = starts.next() => match next {
                                Some(Ok(source)) => {
                                    self.state().finished.remove(&source.id);
                                    self.follow(source, &shutdown);
                                }
                                Some(Err(e)) => {
                                    tracing::warn!(error = %e, "Docker events for logs failed");
                                    break;
                                }
                                None => break,
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "Docker events for logs unavailable"),
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Follows every container nobody follows yet, and forgets vanished ones.
    async fn resync(
        self: &Arc<Self>,
        shutdown: &CancellationToken,
    ) -> Result<(), paas_docker::DockerError> {
        let sources = self.docker.log_sources(&self.instance).await?;
        let present: HashSet<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        let vanished: Vec<String> = {
            let mut state = self.state();
            state.finished.retain(|id| present.contains(id.as_str()));
            let vanished: Vec<String> = state
                .cursors
                .keys()
                .filter(|id| !present.contains(id.as_str()) && !state.following.contains(*id))
                .cloned()
                .collect();
            for id in &vanished {
                state.cursors.remove(id);
                state.dirty.remove(id);
            }
            vanished
        };
        if !vanished.is_empty()
            && let Err(e) = self.store.forget_log_cursors(&vanished).await
        {
            tracing::warn!(error = %e, "forgetting log read positions failed");
        }
        for source in sources {
            let skip = {
                let state = self.state();
                state.following.contains(&source.id) || state.finished.contains(&source.id)
            };
            if !skip {
                self.follow(source, shutdown);
            }
        }
        Ok(())
    }

    /// Starts a follower for `source` unless one runs.
    fn follow(self: &Arc<Self>, source: LogSource, shutdown: &CancellationToken) {
        if !self.state().following.insert(source.id.clone()) {
            return;
        }
        let this = self.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let ended = tokio::select! {
                () = shutdown.cancelled() => None,
                ended = this.read(&source) => Some(ended),
            };
            let mut state = this.state();
            state.following.remove(&source.id);
            match ended {
                Some(Ok(())) => {
                    state.finished.insert(source.id.clone());
                }
                Some(Err(e)) => {
                    tracing::debug!(app = %source.app_name, dyno = %source.dyno, error = %e, "following dyno output stopped");
                }
                None => {}
            }
        });
    }

    /// Reads `source`'s output from where the last reader stopped until it stops.
    async fn read(&self, source: &LogSource) -> Result<(), paas_docker::DockerError> {
        let cursor = self.state().cursors.get(&source.id).copied();
        let since = cursor.map_or(0, |ns| ns.div_euclid(1_000_000_000));
        let output = self.docker.follow_output(&source.id, since).await?;
        let mut output = std::pin::pin!(output);
        let mut last = cursor.unwrap_or(i64::MIN);
        while let Some(line) = output.next().await {
            let line = line?;
            let Some(at) = DateTime::parse_from_rfc3339(&line.timestamp)
                .ok()
                .map(|t| t.with_timezone(&Utc))
            else {
                continue;
            };
            let ns = at.timestamp_nanos_opt().unwrap_or(i64::MAX);
            if ns <= last {
                // Read before the restart (Docker's `since` has whole seconds).
                continue;
            }
            last = ns;
            self.hub.publish(
                &source.app_name,
                LogLine {
                    at,
                    source: Source::App,
                    dyno: source.dyno.clone(),
                    message: line.text,
                },
            );
            let mut state = self.state();
            state.cursors.insert(source.id.clone(), ns);
            state.dirty.insert(source.id.clone());
        }
        Ok(())
    }

    async fn save(&self) {
        let batch: Vec<(String, i64)> = {
            let mut state = self.state();
            let dirty: Vec<String> = state.dirty.drain().collect();
            dirty
                .into_iter()
                .filter_map(|id| state.cursors.get(&id).map(|ns| (id, *ns)))
                .collect()
        };
        if let Err(e) = self.store.save_log_cursors(&batch).await {
            tracing::warn!(error = %e, "saving log read positions failed; will retry");
            let mut state = self.state();
            state.dirty.extend(batch.into_iter().map(|(id, _)| id));
        }
    }
}
