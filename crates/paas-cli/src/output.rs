//! Text for people and JSON for scripts.
//!
//! Human output copies the heroku CLI's layout (`=== title` headings, aligned
//! `KEY: value` lists, column tables without borders, `Doing X... done` on stderr) so
//! its users feel at home. Everything here builds strings, which keeps it testable;
//! [`print`] is the one place that writes to stdout.

use std::borrow::Cow;
use std::fmt::Display;
use std::io::{self, Write as _};

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Writes `text` to stdout, adding a final newline if missing. A closed pipe
/// (`paas apps | head -1`) is not an error.
pub fn print(text: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    let result = out
        .write_all(text.as_bytes())
        .and_then(|()| {
            if text.ends_with('\n') {
                Ok(())
            } else {
                out.write_all(b"\n")
            }
        })
        .and_then(|()| out.flush());
    match result {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Pretty-printed JSON, for `--json`.
pub fn print_json(value: &Value) -> io::Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(io::Error::other)?;
    print(&text)
}

/// `=== title`
pub fn heading(title: impl Display) -> String {
    format!("=== {title}\n")
}

/// A borderless table: columns separated by two spaces, padded to the widest cell, with
/// an optional header row underlined by dashes.
#[derive(Debug, Clone, Default)]
pub struct Table {
    header: Option<Vec<String>>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_header<I, S>(header: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            header: Some(header.into_iter().map(Into::into).collect()),
            rows: Vec::new(),
        }
    }

    pub fn row<I, S>(&mut self, cells: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rows.push(cells.into_iter().map(Into::into).collect());
        self
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let columns = self
            .header
            .iter()
            .chain(&self.rows)
            .map(Vec::len)
            .max()
            .unwrap_or(0);
        let mut widths = vec![0; columns];
        for row in self.header.iter().chain(&self.rows) {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let mut out = String::new();
        if let Some(header) = &self.header {
            push_row(&mut out, header, &widths);
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            push_row(&mut out, &rule, &widths);
        }
        for row in &self.rows {
            push_row(&mut out, row, &widths);
        }
        out
    }
}

fn width(cell: &str) -> usize {
    cell.chars().count()
}

fn push_row(out: &mut String, row: &[String], widths: &[usize]) {
    let mut line = String::new();
    for (i, cell) in row.iter().enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        line.extend(std::iter::repeat_n(' ', widths[i] - width(cell)));
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// `KEY: value` lines with the values aligned, like heroku's `config` and `apps:info`.
/// Continuation lines of a multi-line value are indented to the value column.
pub fn pairs<K: AsRef<str>, V: AsRef<str>>(rows: &[(K, V)]) -> String {
    let key_width = rows
        .iter()
        .map(|(k, _)| width(k.as_ref()) + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in rows {
        let label = format!("{}:", key.as_ref());
        let mut lines = value.as_ref().split('\n');
        let first = lines.next().unwrap_or_default();
        let line = format!("{label:<key_width$} {first}");
        out.push_str(line.trim_end());
        out.push('\n');
        for more in lines {
            let line = format!("{:key_width$} {more}", "");
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Heroku's timestamp: `2026/11/22 14:07:00 +0000 (~ 3m ago)`.
pub fn timestamp(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    format!("{} ({})", at.format("%Y/%m/%d %H:%M:%S %z"), ago(at, now))
}

/// How long ago, coarsely: `~ 42s ago`, `~ 3m ago`, `~ 5h ago`, `~ 12d ago`.
pub fn ago(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - at).num_seconds();
    match secs {
        ..0 => "just now".to_owned(),
        0..60 => format!("~ {secs}s ago"),
        60..3_600 => format!("~ {}m ago", secs / 60),
        3_600..86_400 => format!("~ {}h ago", secs / 3_600),
        _ => format!("~ {}d ago", secs / 86_400),
    }
}

/// Quotes `value` for a POSIX shell when it needs it, so `eval "$(paas config --shell)"`
/// is safe; plain values stay as they are.
pub fn shell_quote(value: &str) -> Cow<'_, str> {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_@%+=:,./-".contains(c));
    if plain {
        Cow::Borrowed(value)
    } else {
        Cow::Owned(format!("'{}'", value.replace('\'', r"'\''")))
    }
}

/// The `Doing X... done` line on stderr around a request. If the action is dropped
/// without [`Action::done`] (an error is on its way), the line ends with `!`.
/// A spinner is only worth it for long waits; these requests are quick.
#[must_use = "call done() when the action succeeds"]
pub struct Action {
    finished: bool,
}

impl Action {
    pub fn start(what: impl Display) -> Self {
        eprint!("{what}... ");
        let _ = io::stderr().flush();
        Self { finished: false }
    }

    pub fn done(mut self) {
        self.finished = true;
        eprintln!("done");
    }

    /// `done, <detail>`, e.g. `done, v7`.
    pub fn done_with(mut self, detail: impl Display) {
        self.finished = true;
        eprintln!("done, {detail}");
    }
}

impl Drop for Action {
    fn drop(&mut self) {
        if !self.finished {
            eprintln!("!");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn tables_align_columns_without_trailing_spaces() {
        let mut t = Table::with_header(["Name", "Web URL"]);
        t.row(["a", "http://a.localhost:8080/"]);
        t.row(["longer-name", ""]);
        assert_eq!(
            t.render(),
            "Name         Web URL\n\
             -----------  ------------------------\n\
             a            http://a.localhost:8080/\n\
             longer-name\n"
        );
    }

    #[test]
    fn tables_without_header_and_ragged_rows() {
        let mut t = Table::new();
        t.row(["v10", "Deploy abc", "current"]);
        t.row(["v9", "Set FOO config vars"]);
        assert_eq!(
            t.render(),
            "v10  Deploy abc           current\nv9   Set FOO config vars\n"
        );
        assert_eq!(Table::new().render(), "");
    }

    #[test]
    fn tables_count_characters_not_bytes() {
        let mut t = Table::new();
        t.row(["é", "x"]);
        t.row(["ab", "y"]);
        assert_eq!(t.render(), "é   x\nab  y\n");
    }

    #[test]
    fn pairs_align_values_like_heroku_config() {
        let out = pairs(&[
            ("A", "1"),
            ("LONG_KEY", "two"),
            ("M", "line1\nline2"),
            ("E", ""),
        ]);
        assert_eq!(
            out,
            "A:        1\nLONG_KEY: two\nM:        line1\n          line2\nE:\n"
        );
        assert_eq!(pairs::<&str, &str>(&[]), "");
    }

    #[test]
    fn timestamps_are_absolute_with_a_relative_hint() {
        let now = at("2026-11-22T14:10:00Z");
        assert_eq!(
            timestamp(at("2026-11-22T14:07:00Z"), now),
            "2026/11/22 14:07:00 +0000 (~ 3m ago)"
        );
        assert_eq!(ago(at("2026-11-22T14:09:58Z"), now), "~ 2s ago");
        assert_eq!(ago(at("2026-11-22T09:00:00Z"), now), "~ 5h ago");
        assert_eq!(ago(at("2026-11-10T14:10:00Z"), now), "~ 12d ago");
        assert_eq!(ago(at("2026-11-22T14:11:00Z"), now), "just now");
    }

    #[test]
    fn shell_quoting_only_when_needed() {
        assert_eq!(shell_quote("plain-1.2/x:y@z"), "plain-1.2/x:y@z");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's $HOME"), r"'it'\''s $HOME'");
    }
}
