//! Log lines: the unit of an app's log stream, in Heroku's shape, with the rules for
//! filtering them and framing them for syslog drains.
//!
//! A line is `<timestamp> <source>[<dyno>]: <message>`, where the source is `app` (what
//! the app printed, and `app[api]` for platform events) or `heroku` (`heroku[router]`
//! request lines and `heroku[web.1]` state changes).

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

/// Heroku keeps this many lines of history per app.
pub const HISTORY_LINES: usize = 1500;

/// Who wrote a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The app's own output, and platform events (`app[api]`).
    App,
    /// The platform about the app: the router and dyno state changes.
    Heroku,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::App => "app",
            Source::Heroku => "heroku",
        }
    }

    /// `app` or `heroku`, as `--source` takes it.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "app" => Some(Source::App),
            "heroku" => Some(Source::Heroku),
            _ => None,
        }
    }
}

/// One line of an app's log stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: DateTime<Utc>,
    pub source: Source,
    /// `web.1`, `run.3`, `router`, `api`.
    pub dyno: String,
    pub message: String,
}

impl LogLine {
    pub fn new(source: Source, dyno: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            at: Utc::now(),
            source,
            dyno: dyno.into(),
            message: message.into(),
        }
    }

    /// A platform event: `app[api]: Set FOO config vars by user admin`.
    pub fn api(message: impl Into<String>) -> Self {
        Self::new(Source::App, "api", message)
    }

    /// `2026-11-22T14:07:00.123456+00:00 app[web.1]: message`.
    pub fn heroku_format(&self) -> String {
        let mut out = String::with_capacity(48 + self.message.len());
        let _ = write!(
            out,
            "{} {}[{}]: {}",
            timestamp(self.at),
            self.source.as_str(),
            self.dyno,
            self.message
        );
        out
    }

    /// One RFC 5424 message with RFC 6587 octet counting (`<len> <msg>`), as Heroku's
    /// drains send: `<190>1 <time> <drain token> <app|heroku> <dyno> - - <message>` (the
    /// drain's token in the hostname field tells a shared receiver whose line it is).
    pub fn syslog_frame(&self, hostname: &str) -> String {
        let msg = format!(
            "<190>1 {} {} {} {} - - {}",
            timestamp(self.at),
            syslog_field(hostname),
            self.source.as_str(),
            syslog_field(&self.dyno),
            self.message
        );
        format!("{} {msg}", msg.len())
    }
}

/// Microseconds and `+00:00`, Heroku's timestamp shape.
fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, false)
}

/// A syslog header field: printable US-ASCII without spaces, `-` when empty.
fn syslog_field(raw: &str) -> String {
    let field: String = raw
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(48)
        .collect();
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// Where the platform writes into apps' log streams (the supervisor's `heroku[web.1]`
/// state changes, the builder's `app[api]` events). A port, so those crates need not
/// know the stream's machinery; `paas_logs::LogHub` is the implementation. It must not
/// block.
pub trait LogSink: Send + Sync + std::fmt::Debug {
    fn publish(&self, app: &str, line: LogLine);

    /// A platform event (`app[api]`).
    fn api_event(&self, app: &str, message: String) {
        self.publish(app, LogLine::api(message));
    }

    /// A dyno state change (`heroku[web.1]`).
    fn dyno_event(&self, app: &str, dyno: &str, message: String) {
        self.publish(app, LogLine::new(Source::Heroku, dyno, message));
    }
}

/// Throws lines away (tests, tools that run without a stream).
#[derive(Debug, Clone, Copy, Default)]
pub struct Discard;

impl LogSink for Discard {
    fn publish(&self, _: &str, _: LogLine) {}
}

/// Which lines a reader wants (`paas logs --dyno web --source app`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogFilter {
    pub source: Option<Source>,
    /// A dyno (`web.1`), a process type (`web`: every web dyno) or `router`/`api`.
    pub dyno: Option<String>,
}

impl LogFilter {
    pub fn matches(&self, line: &LogLine) -> bool {
        if self.source.is_some_and(|s| s != line.source) {
            return false;
        }
        match &self.dyno {
            None => true,
            Some(want) => {
                line.dyno == *want
                    || line
                        .dyno
                        .strip_prefix(want.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            }
        }
    }
}

/// Splits a chunk of output into lines, keeping an unfinished last line in `pending`
/// for the next chunk; `\r\n` endings lose their `\r`.
pub fn split_lines(pending: &mut String, chunk: &str) -> Vec<String> {
    pending.push_str(chunk);
    let mut out = Vec::new();
    while let Some(newline) = pending.find('\n') {
        let line: String = pending.drain(..=newline).collect();
        out.push(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(source: Source, dyno: &str) -> LogLine {
        LogLine {
            at: DateTime::parse_from_rfc3339("2026-11-22T14:07:00.123456789Z")
                .unwrap()
                .with_timezone(&Utc),
            source,
            dyno: dyno.into(),
            message: "hello world".into(),
        }
    }

    #[test]
    fn lines_look_like_herokus() {
        assert_eq!(
            line(Source::App, "web.1").heroku_format(),
            "2026-11-22T14:07:00.123456+00:00 app[web.1]: hello world"
        );
        assert_eq!(
            line(Source::Heroku, "router").heroku_format(),
            "2026-11-22T14:07:00.123456+00:00 heroku[router]: hello world"
        );
    }

    #[test]
    fn syslog_frames_count_their_octets() {
        let frame = line(Source::App, "web.1").syslog_frame("demo");
        let (len, msg) = frame.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len());
        assert_eq!(
            msg,
            "<190>1 2026-11-22T14:07:00.123456+00:00 demo app web.1 - - hello world"
        );
        let mut unicode = line(Source::App, "web.1");
        unicode.message = "héllo ✓".into();
        let frame = unicode.syslog_frame("");
        let (len, msg) = frame.split_once(' ').unwrap();
        assert_eq!(len.parse::<usize>().unwrap(), msg.len(), "bytes, not chars");
        assert!(msg.contains(" - app web.1 "), "{msg}");
    }

    #[test]
    fn filters_by_source_dyno_and_process_type() {
        let web1 = line(Source::App, "web.1");
        let web12 = line(Source::App, "web.12");
        let worker = line(Source::App, "worker.1");
        let router = line(Source::Heroku, "router");
        let all = LogFilter::default();
        assert!([&web1, &worker, &router].iter().all(|l| all.matches(l)));
        let app = LogFilter {
            source: Some(Source::App),
            dyno: None,
        };
        assert!(app.matches(&web1) && !app.matches(&router));
        let web = LogFilter {
            source: None,
            dyno: Some("web".into()),
        };
        assert!(web.matches(&web1) && web.matches(&web12) && !web.matches(&worker));
        let one = LogFilter {
            source: None,
            dyno: Some("web.1".into()),
        };
        assert!(one.matches(&web1) && !one.matches(&web12));
        let routed = LogFilter {
            source: None,
            dyno: Some("router".into()),
        };
        assert!(routed.matches(&router) && !routed.matches(&web1));
    }

    #[test]
    fn splits_chunks_into_lines() {
        let mut pending = String::new();
        assert_eq!(split_lines(&mut pending, "a\r\nb"), ["a"]);
        assert_eq!(split_lines(&mut pending, "c\nd\n"), ["bc", "d"]);
        assert!(pending.is_empty());
    }
}
