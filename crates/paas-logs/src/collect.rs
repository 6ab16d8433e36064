//! The collector: follows the output of every dyno of this installation (formation and
//! one-off) through the runtime port (`ContainerRuntime::follow_output`) into the apps'
//! streams: a container's output on one engine, a service's (from whichever node runs
//! its task) on a Swarm cluster.
//!
//! A source is followed from the moment it starts (the runtime's `watch_log_sources`)
//! and, as a safety net, whenever a periodic listing finds one nobody follows. How far
//! each source was read (the engine's nanosecond timestamp of the last line) is kept in
//! Postgres, so a restarted paasd resumes there: lines the engine still holds are
//! neither lost nor repeated.
//!
//! An add-on's container is a source too (its server's output): each of its lines goes
//! to the apps attached to it at that moment, as `app[postgres]` / `app[redis]` with the
//! attachment's name first (`[DATABASE] …`, Heroku's form). Who is attached is read
//! from the store before an add-on is followed and every [`SAVE_EVERY`] while one is,
//! so a detached app stops getting its lines within that.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paas_core::logline::{LogLine, Source};
use paas_core::runtime::{ContainerRuntime, LogSource, Printer};
use paas_store::Store;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::LogHub;

/// How often read positions are saved, and followers are checked against Docker.
const SAVE_EVERY: Duration = Duration::from_secs(1);
const RESYNC_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Collector<R> {
    runtime: R,
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
    /// Add-on containers with a follower running.
    addon_sources: HashSet<String>,
    /// Per add-on, the apps attached to it and under which name (`DATABASE`).
    attached: HashMap<Uuid, Vec<(String, String)>>,
}

impl<R: ContainerRuntime> Collector<R> {
    pub fn new(runtime: R, store: Store, hub: Arc<LogHub>, instance: impl Into<String>) -> Self {
        Self {
            runtime,
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
                _ = save.tick() => {
                    self.save().await;
                    if !self.state().addon_sources.is_empty() {
                        self.refresh_attachments().await;
                    }
                }
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
            let this = self.clone();
            let watching = self.runtime.watch_log_sources(&self.instance, |source| {
                this.state().finished.remove(&source.id);
                this.follow(source, &shutdown);
            });
            tokio::select! {
                () = shutdown.cancelled() => return,
                watched = watching => if let Err(e) = watched {
                    tracing::warn!(error = %e, "the engine's events for logs failed");
                },
            }
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
        }
    }

    /// Follows every source nobody follows yet, and forgets vanished ones.
    async fn resync(self: &Arc<Self>, shutdown: &CancellationToken) -> Result<(), R::Error> {
        let sources = self.runtime.log_sources(&self.instance).await?;
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
        {
            let mut state = self.state();
            if !state.following.insert(source.id.clone()) {
                return;
            }
            if matches!(source.printer, Printer::Addon { .. }) {
                state.addon_sources.insert(source.id.clone());
            }
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
            state.addon_sources.remove(&source.id);
            match ended {
                Some(Ok(())) => {
                    state.finished.insert(source.id.clone());
                }
                Some(Err(e)) => {
                    tracing::debug!(source = ?source.printer, error = %e, "following dyno output stopped");
                }
                None => {}
            }
        });
    }

    /// Reads `source`'s output from where the last reader stopped until it stops.
    async fn read(&self, source: &LogSource) -> Result<(), R::Error> {
        if matches!(source.printer, Printer::Addon { .. }) {
            // Its first lines go to the apps attached now, not to a stale list.
            self.refresh_attachments().await;
        }
        let cursor = self.state().cursors.get(&source.id).copied();
        let since = cursor.map_or(0, |ns| ns.div_euclid(1_000_000_000));
        // Only lines up to the saved cursor were read before. Within this stream lines
        // may come out of time order (the engine copies stdout and stderr from separate
        // pipes): an earlier-stamped stderr line after a stdout one is new, not a repeat.
        let read_before = cursor.unwrap_or(i64::MIN);
        let mut newest = read_before;
        let dyno = match &source.printer {
            Printer::Dyno { dyno, .. } => dyno.to_string(),
            Printer::Addon { service, .. } => service.log_dyno().to_owned(),
        };
        self.runtime
            .follow_output(&source.id, since, |line| {
                let ns = line.at.timestamp_nanos_opt().unwrap_or(i64::MAX);
                if ns <= read_before {
                    // Read before the restart (the engine's `since` has whole seconds).
                    return;
                }
                newest = newest.max(ns);
                let mut state = self.state();
                match &source.printer {
                    Printer::Dyno { app_name, .. } => self.hub.publish(
                        app_name.as_str(),
                        LogLine {
                            at: line.at,
                            source: Source::App,
                            dyno: dyno.clone(),
                            message: line.text,
                        },
                    ),
                    Printer::Addon { addon_id, service } => {
                        for (app, attachment) in state.attached.get(addon_id).into_iter().flatten()
                        {
                            self.hub.publish(
                                app,
                                LogLine {
                                    at: line.at,
                                    source: Source::App,
                                    dyno: dyno.clone(),
                                    message: service.log_message(attachment, &line.text),
                                },
                            );
                        }
                    }
                }
                state.cursors.insert(source.id.clone(), newest);
                state.dirty.insert(source.id.clone());
            })
            .await
    }

    /// Who is attached to which add-on, from the store (kept as it was if that fails).
    async fn refresh_attachments(&self) {
        match self.store.attachments(None, None).await {
            Ok(all) => {
                let mut attached: HashMap<Uuid, Vec<(String, String)>> = HashMap::new();
                for a in all {
                    attached
                        .entry(a.addon_id)
                        .or_default()
                        .push((a.app_name, a.name));
                }
                self.state().attached = attached;
            }
            Err(e) => tracing::warn!(error = %e, "reading add-on attachments for logs failed"),
        }
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
