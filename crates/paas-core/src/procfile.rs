//! The Procfile: `<process type>: <command>` per line.

use std::collections::BTreeMap;

use crate::{ParseError, ProcessType};

/// Process types and their commands, from a Procfile or a buildpack's
/// `default_process_types`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Procfile(BTreeMap<ProcessType, String>);

impl Procfile {
    /// Parses a Procfile. Blank lines and `#` comments are skipped; any other line that is
    /// not `type: command` is an error naming its line number, as is a type given twice.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let mut entries = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let number = number + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((kind, command)) = line.split_once(':') else {
                return Err(ParseError::new(
                    "procfile",
                    format!("Procfile line {number} is not `type: command`: {line:?}"),
                ));
            };
            let kind = ProcessType::parse(kind.trim()).map_err(|e| {
                ParseError::new("procfile", format!("Procfile line {number}: {}", e.message))
            })?;
            let command = command.trim();
            if command.is_empty() {
                return Err(ParseError::new(
                    "procfile",
                    format!("Procfile line {number}: process type {kind} has no command."),
                ));
            }
            if entries.insert(kind.clone(), command.to_owned()).is_some() {
                return Err(ParseError::new(
                    "procfile",
                    format!("Procfile line {number}: process type {kind} is declared twice."),
                ));
            }
        }
        Ok(Self(entries))
    }

    pub fn from_entries(entries: BTreeMap<ProcessType, String>) -> Self {
        Self(entries)
    }

    pub fn entries(&self) -> &BTreeMap<ProcessType, String> {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The release-phase command, which runs once per release and is never scaled.
    pub fn release_command(&self) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.is_release_phase())
            .map(|(_, v)| v.as_str())
    }

    /// The long-running process types: everything but `release`.
    pub fn processes(&self) -> impl Iterator<Item = (&ProcessType, &str)> {
        self.0
            .iter()
            .filter(|(k, _)| !k.is_release_phase())
            .map(|(k, v)| (k, v.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_types_and_commands_and_skips_comments() {
        let p = Procfile::parse(
            "# comment\n\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\nworker:python worker.py\nrelease: ./migrate\n",
        )
        .unwrap();
        let types: Vec<_> = p.processes().map(|(k, _)| k.as_str()).collect();
        assert_eq!(types, ["web", "worker"]);
        assert_eq!(
            p.entries()[&ProcessType::web()],
            "gunicorn app:app --bind 0.0.0.0:$PORT"
        );
        assert_eq!(p.release_command(), Some("./migrate"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = Procfile::parse("web: ok\nthis is not a procfile line\n").unwrap_err();
        assert!(err.message.contains("line 2"), "{err}");
        let err = Procfile::parse("web:\n").unwrap_err();
        assert!(err.message.contains("no command"), "{err}");
        let err = Procfile::parse("web: a\nweb: b\n").unwrap_err();
        assert!(err.message.contains("twice"), "{err}");
        let err = Procfile::parse("w eb: a\n").unwrap_err();
        assert!(err.message.contains("line 1"), "{err}");
    }
}
