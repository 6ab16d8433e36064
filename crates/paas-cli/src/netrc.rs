//! A reader for `~/.netrc`, the file curl, git and the heroku CLI take credentials from.
//!
//! Hand-written because the format is a dozen lines of tokenizing and the Rust crates for
//! it are unmaintained. It follows curl's reading: whitespace-separated tokens that may
//! span lines, `machine NAME` or `default` starting an entry, `login`/`password`/`account`
//! values, double-quoted tokens with backslash escapes, `#` comments, and `macdef`
//! bodies (skipped up to the next blank line).

/// One `machine` (or `default`) entry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entry {
    /// `None` for the `default` entry.
    pub machine: Option<String>,
    pub login: Option<String>,
    pub password: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Netrc {
    pub entries: Vec<Entry>,
}

impl Netrc {
    /// Parses leniently: unknown words are skipped, as curl does, so one odd line does not
    /// hide the entry we need.
    pub fn parse(text: &str) -> Self {
        let mut entries: Vec<Entry> = Vec::new();
        let mut in_macdef = false;
        let mut pending: Option<&'static str> = None;
        for line in text.lines() {
            if in_macdef {
                in_macdef = !line.trim().is_empty();
                continue;
            }
            for token in tokens(line) {
                if let Some(keyword) = pending.take() {
                    match keyword {
                        "machine" => entries.push(Entry {
                            machine: Some(token),
                            ..Entry::default()
                        }),
                        "login" | "password" => {
                            if let Some(entry) = entries.last_mut() {
                                let slot = if keyword == "login" {
                                    &mut entry.login
                                } else {
                                    &mut entry.password
                                };
                                *slot = Some(token);
                            }
                        }
                        "macdef" => {
                            in_macdef = true;
                            break;
                        }
                        _ => {} // account: not needed
                    }
                    continue;
                }
                match token.as_str() {
                    "default" => entries.push(Entry::default()),
                    "machine" => pending = Some("machine"),
                    "login" => pending = Some("login"),
                    "password" => pending = Some("password"),
                    "account" => pending = Some("account"),
                    "macdef" => pending = Some("macdef"),
                    _ => {}
                }
            }
        }
        Self { entries }
    }

    /// The entry for `host` (compared without case), else the `default` entry.
    pub fn entry_for(&self, host: &str) -> Option<&Entry> {
        self.entries
            .iter()
            .find(|e| {
                e.machine
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(host))
            })
            .or_else(|| self.entries.iter().find(|e| e.machine.is_none()))
    }

    pub fn password_for(&self, host: &str) -> Option<&str> {
        self.entry_for(host)?.password.as_deref()
    }
}

/// The tokens of one line; a `#` at the start of a token comments out the rest.
fn tokens(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else { break };
        if first == '#' {
            break;
        }
        let mut token = String::new();
        if first == '"' {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '"' => break,
                    '\\' => match chars.next() {
                        Some('n') => token.push('\n'),
                        Some('r') => token.push('\r'),
                        Some('t') => token.push('\t'),
                        Some(other) => token.push(other),
                        None => break,
                    },
                    c => token.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                token.push(c);
            }
        }
        out.push(token);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_password_of_a_machine_on_one_line() {
        let n = Netrc::parse("machine 127.0.0.1 login me password tok123\n");
        assert_eq!(n.password_for("127.0.0.1"), Some("tok123"));
        assert_eq!(
            n.entry_for("127.0.0.1").unwrap().login.as_deref(),
            Some("me")
        );
        assert_eq!(n.password_for("other"), None);
    }

    #[test]
    fn entries_may_span_lines_and_the_first_match_wins() {
        let text = "\
# paas
machine api.heroku.com
  login a@b
  password heroku-token
machine localhost
  login x
  password first
machine LOCALHOST password second
";
        let n = Netrc::parse(text);
        assert_eq!(n.password_for("api.heroku.com"), Some("heroku-token"));
        assert_eq!(n.password_for("localhost"), Some("first"));
        assert_eq!(n.entries.len(), 3);
    }

    #[test]
    fn default_is_the_fallback_only() {
        let n = Netrc::parse("default login d password dflt\nmachine h password specific\n");
        assert_eq!(n.password_for("h"), Some("specific"));
        assert_eq!(n.password_for("elsewhere"), Some("dflt"));
    }

    #[test]
    fn quoted_tokens_comments_and_macdefs() {
        let text = "\
machine a password \"with space \\\"q\\\"\" # trailing comment
macdef init
  machine evil password nope
  cd /tmp

machine b login \"\" password plain
";
        let n = Netrc::parse(text);
        assert_eq!(n.password_for("a"), Some("with space \"q\""));
        assert_eq!(n.password_for("evil"), None);
        assert_eq!(n.password_for("b"), Some("plain"));
        assert_eq!(n.entry_for("b").unwrap().login.as_deref(), Some(""));
    }

    #[test]
    fn garbage_yields_nothing_rather_than_an_error() {
        assert_eq!(Netrc::parse("").entries, vec![]);
        assert_eq!(
            Netrc::parse("password orphan login x").password_for("x"),
            None
        );
        assert_eq!(Netrc::parse("machine").entries, vec![]);
    }
}
