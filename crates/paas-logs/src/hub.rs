//! The log hub: each app's stream, as a bounded history and a live feed.
//!
//! Writers (dyno output, the router, the supervisor, the API) never wait: a line goes
//! into the app's history (the newest [`HISTORY_LINES`], in time order) and out to live
//! readers through a bounded broadcast channel. A reader that falls behind loses the
//! oldest lines it has not read and is told how many ([`Delivery::Missed`]); nobody else
//! notices.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use paas_core::logline::{HISTORY_LINES, LogFilter, LogLine};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Longer messages are cut here (Heroku's limit is 10 KB).
pub const MAX_MESSAGE_BYTES: usize = 10_000;

/// A live reader can be this many lines behind before it starts losing lines.
const LIVE_BUFFER: usize = 4096;

/// A log session's URL works this long.
const SESSION_TTL: Duration = Duration::from_secs(600);

/// Every app's log stream, and the open log sessions.
#[derive(Debug)]
pub struct LogHub {
    apps: Mutex<HashMap<String, Arc<AppStream>>>,
    sessions: Mutex<HashMap<Uuid, LogSession>>,
    live_buffer: usize,
}

#[derive(Debug)]
struct AppStream {
    lines: Mutex<Lines>,
}

/// One app's history and its live feed, under one lock: a reader that takes history and
/// subscribes under it neither misses nor repeats a line.
#[derive(Debug)]
struct Lines {
    history: VecDeque<Arc<LogLine>>,
    /// Only while somebody reads live: a channel holds `live_buffer` slots from the
    /// start (132 KB for 4,096, measured), which an idle platform of 200 apps would pay
    /// 200 times over (26 MB) for readers nobody opened.
    live: Option<broadcast::Sender<Arc<LogLine>>>,
}

impl Lines {
    fn subscribe(&mut self, live_buffer: usize) -> broadcast::Receiver<Arc<LogLine>> {
        self.live
            .get_or_insert_with(|| broadcast::channel(live_buffer).0)
            .subscribe()
    }
}

/// What a log session asked for (`POST /apps/{app}/log-sessions`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSession {
    pub app: String,
    /// Lines of history to send first.
    pub lines: usize,
    /// Keep streaming new lines.
    pub tail: bool,
    pub filter: LogFilter,
    /// The API token that opened it: its stream ends when that token is revoked.
    pub token_id: Option<Uuid>,
    expires: Instant,
}

/// What a reader gets next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Line(Arc<LogLine>),
    /// The reader was too slow: this many lines went by unread.
    Missed(u64),
}

/// A live reader of one app's stream.
#[derive(Debug)]
pub struct Subscription {
    live: broadcast::Receiver<Arc<LogLine>>,
    filter: LogFilter,
}

impl Subscription {
    /// The next matching line; `None` once the app's stream is gone (app destroyed).
    pub async fn next(&mut self) -> Option<Delivery> {
        loop {
            match self.live.recv().await {
                Ok(line) if self.filter.matches(&line) => return Some(Delivery::Line(line)),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => return Some(Delivery::Missed(n)),
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl paas_core::logline::LogSink for LogHub {
    fn publish(&self, app: &str, line: LogLine) {
        LogHub::publish(self, app, line);
    }
}

impl Default for LogHub {
    fn default() -> Self {
        Self::new()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind, still usable.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl LogHub {
    pub fn new() -> Self {
        Self::with_live_buffer(LIVE_BUFFER)
    }

    /// A hub whose live readers may fall `lines` behind (tests use a small one).
    pub fn with_live_buffer(lines: usize) -> Self {
        Self {
            apps: Mutex::default(),
            sessions: Mutex::default(),
            live_buffer: lines.max(1),
        }
    }

    fn stream(&self, app: &str) -> Arc<AppStream> {
        let mut apps = lock(&self.apps);
        if let Some(stream) = apps.get(app) {
            return stream.clone();
        }
        let stream = Arc::new(AppStream {
            lines: Mutex::new(Lines {
                history: VecDeque::new(),
                live: None,
            }),
        });
        apps.insert(app.to_owned(), stream.clone());
        stream
    }

    /// Adds a line to `app`'s stream. Never waits for readers.
    pub fn publish(&self, app: &str, mut line: LogLine) {
        if line.message.len() > MAX_MESSAGE_BYTES {
            let mut cut = MAX_MESSAGE_BYTES;
            while !line.message.is_char_boundary(cut) {
                cut -= 1;
            }
            line.message.truncate(cut);
        }
        let line = Arc::new(line);
        let stream = self.stream(app);
        let mut lines = lock(&stream.lines);
        let history = &mut lines.history;
        // Lines arrive nearly in time order; a late one (a dyno's output read after a
        // restart) is put in its place.
        let at = history
            .iter()
            .rposition(|l| l.at <= line.at)
            .map_or(0, |i| i + 1);
        history.insert(at, line.clone());
        if history.len() > HISTORY_LINES {
            history.pop_front();
        }
        // The last live reader gone, the channel goes too.
        if let Some(live) = &lines.live
            && live.send(line).is_err()
        {
            lines.live = None;
        }
    }

    /// The newest `lines` matching lines of history and, atomically with it, a live
    /// subscription for what comes after.
    pub fn open(
        &self,
        app: &str,
        filter: &LogFilter,
        lines: usize,
    ) -> (Vec<Arc<LogLine>>, Subscription) {
        let stream = self.stream(app);
        let mut held = lock(&stream.lines);
        let mut recent: Vec<Arc<LogLine>> = held
            .history
            .iter()
            .rev()
            .filter(|l| filter.matches(l))
            .take(lines)
            .cloned()
            .collect();
        recent.reverse();
        let live = held.subscribe(self.live_buffer);
        drop(held);
        (
            recent,
            Subscription {
                live,
                filter: filter.clone(),
            },
        )
    }

    /// Live lines only (drains).
    pub fn subscribe(&self, app: &str) -> Subscription {
        Subscription {
            live: lock(&self.stream(app).lines).subscribe(self.live_buffer),
            filter: LogFilter::default(),
        }
    }

    /// Drops an app's stream (the app was destroyed); its readers see the end.
    pub fn forget(&self, app: &str) {
        lock(&self.apps).remove(app);
    }

    /// Registers a log session; its id is the secret in the session's URL.
    pub fn create_session(&self, app: &str, lines: usize, tail: bool, filter: LogFilter) -> Uuid {
        self.create_session_by(app, lines, tail, filter, None)
    }

    /// [`LogHub::create_session`] on behalf of the API token `token_id`.
    pub fn create_session_by(
        &self,
        app: &str,
        lines: usize,
        tail: bool,
        filter: LogFilter,
        token_id: Option<Uuid>,
    ) -> Uuid {
        let now = Instant::now();
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| s.expires > now);
        let id = Uuid::new_v4();
        sessions.insert(
            id,
            LogSession {
                app: app.to_owned(),
                lines: lines.min(HISTORY_LINES),
                tail,
                filter,
                token_id,
                expires: now + SESSION_TTL,
            },
        );
        id
    }

    /// The session `id`, unless it is unknown or expired.
    pub fn session(&self, id: Uuid) -> Option<LogSession> {
        lock(&self.sessions)
            .get(&id)
            .filter(|s| s.expires > Instant::now())
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use paas_core::logline::Source;

    use super::*;

    fn line(dyno: &str, message: &str) -> LogLine {
        LogLine::new(Source::App, dyno, message)
    }

    #[tokio::test]
    async fn history_then_live_lines_without_gap_or_repeat() {
        let hub = LogHub::new();
        hub.publish("demo", line("web.1", "one"));
        hub.publish("other", line("web.1", "not mine"));
        hub.publish("demo", line("web.1", "two"));
        let (history, mut live) = hub.open("demo", &LogFilter::default(), 100);
        let messages: Vec<&str> = history.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["one", "two"]);
        hub.publish("demo", line("web.1", "three"));
        match live.next().await {
            Some(Delivery::Line(l)) => assert_eq!(l.message, "three"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn history_keeps_the_newest_lines_in_time_order() {
        let hub = LogHub::new();
        for i in 0..HISTORY_LINES + 10 {
            hub.publish("demo", line("web.1", &i.to_string()));
        }
        // Stamped between two kept lines, so it has a place among them however fast the
        // lines above were published (`now - 1 ms` was older than all of them when they
        // took less than a millisecond).
        let (kept, _) = hub.open("demo", &LogFilter::default(), usize::MAX);
        let mut late = line("web.2", "late");
        late.at = kept[HISTORY_LINES / 2].at - TimeDelta::nanoseconds(1);
        hub.publish("demo", late);
        let (history, _) = hub.open("demo", &LogFilter::default(), usize::MAX);
        assert_eq!(history.len(), HISTORY_LINES);
        assert!(history.windows(2).all(|w| w[0].at <= w[1].at));
        assert!(history.iter().any(|l| l.message == "late"));
        assert!(!history.iter().any(|l| l.message == "10"), "oldest dropped");
        let (last, _) = hub.open("demo", &LogFilter::default(), 2);
        assert_eq!(last.len(), 2);
        assert_eq!(last[1].message, (HISTORY_LINES + 9).to_string());
    }

    #[tokio::test]
    async fn a_slow_reader_is_told_what_it_missed_and_blocks_nobody() {
        let hub = LogHub::with_live_buffer(8);
        let mut slow = hub.subscribe("demo");
        for i in 0..100 {
            hub.publish("demo", line("web.1", &i.to_string()));
        }
        assert_eq!(slow.next().await, Some(Delivery::Missed(92)));
        match slow.next().await {
            Some(Delivery::Line(l)) => assert_eq!(l.message, "92"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn filters_apply_to_history_and_live_lines() {
        let hub = LogHub::new();
        hub.publish("demo", line("web.1", "web"));
        hub.publish("demo", line("worker.1", "worker"));
        let filter = LogFilter {
            source: None,
            dyno: Some("worker".into()),
        };
        let (history, mut live) = hub.open("demo", &filter, 10);
        assert_eq!(history.len(), 1);
        hub.publish("demo", line("web.2", "skipped"));
        hub.publish("demo", line("worker.2", "seen"));
        match live.next().await {
            Some(Delivery::Line(l)) => assert_eq!(l.message, "seen"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn only_an_app_somebody_reads_live_holds_a_live_channel() {
        let hub = LogHub::new();
        let live = |hub: &LogHub| lock(&hub.stream("demo").lines).live.is_some();
        hub.publish("demo", line("web.1", "before"));
        assert!(!live(&hub));
        let mut reader = hub.subscribe("demo");
        assert!(live(&hub));
        hub.publish("demo", line("web.1", "read"));
        match reader.next().await {
            Some(Delivery::Line(l)) => assert_eq!(l.message, "read"),
            other => panic!("{other:?}"),
        }
        drop(reader);
        hub.publish("demo", line("web.1", "after"));
        assert!(!live(&hub), "the channel goes with its last reader");
        // A reader that comes back gets history and live lines again.
        let (history, mut again) = hub.open("demo", &LogFilter::default(), 10);
        assert_eq!(history.len(), 3);
        hub.publish("demo", line("web.1", "again"));
        match again.next().await {
            Some(Delivery::Line(l)) => assert_eq!(l.message, "again"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn forgetting_an_app_ends_its_readers_and_long_lines_are_cut() {
        let hub = LogHub::new();
        let mut reader = hub.subscribe("demo");
        hub.publish("demo", line("web.1", &"é".repeat(MAX_MESSAGE_BYTES)));
        match reader.next().await {
            Some(Delivery::Line(l)) => assert!(l.message.len() <= MAX_MESSAGE_BYTES),
            other => panic!("{other:?}"),
        }
        hub.forget("demo");
        assert_eq!(reader.next().await, None);
    }

    #[test]
    fn sessions_are_found_by_id_only() {
        let hub = LogHub::new();
        let id = hub.create_session("demo", 5000, true, LogFilter::default());
        let session = hub.session(id).unwrap();
        assert_eq!(
            (session.app.as_str(), session.lines, session.tail),
            ("demo", HISTORY_LINES, true)
        );
        assert!(hub.session(Uuid::new_v4()).is_none());
    }
}
