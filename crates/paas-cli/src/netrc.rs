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

/// Sets the entry for `machine` (replacing any entry of that name) and answers the new
/// file text. Other entries, comments and macdefs are kept byte for byte.
pub fn upsert(text: &str, machine: &str, login: &str, password: &str) -> String {
    let mut out = remove(text, machine);
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!(
        "machine {}\n  login {}\n  password {}\n",
        quote(machine),
        quote(login),
        quote(password)
    ));
    out
}

/// The file text without the entries for `machine` (compared without case).
pub fn remove(text: &str, machine: &str) -> String {
    let spans = entry_spans(text);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, name) in spans {
        if name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(machine))
        {
            out.push_str(&text[at..start]);
            at = end;
        }
    }
    out.push_str(&text[at..]);
    out
}

/// A token as netrc writes it: quoted when it holds whitespace, quotes or `#`.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '#')
    {
        return value.to_owned();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Byte spans of `machine` entries: from the `machine` keyword to the next `machine`,
/// `default` or `macdef` keyword (or the end), with the machine's name.
fn entry_spans(text: &str) -> Vec<(usize, usize, Option<String>)> {
    let mut keywords: Vec<(usize, &str, Option<String>)> = Vec::new();
    let mut offset = 0;
    let mut in_macdef = false;
    let mut expect_name = false;
    for line in text.split_inclusive('\n') {
        if in_macdef {
            in_macdef = !line.trim().is_empty();
            offset += line.len();
            continue;
        }
        for (start, token) in token_spans(line) {
            if expect_name {
                expect_name = false;
                if let Some(last) = keywords.last_mut() {
                    last.2 = Some(token);
                }
                continue;
            }
            match token.as_str() {
                "machine" => {
                    keywords.push((offset + start, "machine", None));
                    expect_name = true;
                }
                "default" => keywords.push((offset + start, "default", None)),
                "macdef" => {
                    keywords.push((offset + start, "macdef", None));
                    in_macdef = true;
                    break;
                }
                _ => {}
            }
        }
        offset += line.len();
    }
    let mut spans = Vec::new();
    for (i, (start, kind, name)) in keywords.iter().enumerate() {
        if *kind != "machine" {
            continue;
        }
        let end = keywords.get(i + 1).map_or(text.len(), |next| next.0);
        spans.push((*start, end, name.clone()));
    }
    spans
}

/// [`tokens`] with each token's byte offset in the line.
fn token_spans(line: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    let mut offset = 0;
    loop {
        let trimmed = rest.trim_start();
        offset += rest.len() - trimmed.len();
        rest = trimmed;
        if rest.is_empty() || rest.starts_with('#') {
            break;
        }
        let Some(token) = tokens(rest).into_iter().next() else {
            break;
        };
        // The raw length of that first token: up to the closing quote, or whitespace.
        let raw_len = if rest.starts_with('"') {
            let mut escaped = false;
            let mut len = rest.len();
            for (i, c) in rest.char_indices().skip(1) {
                match (escaped, c) {
                    (true, _) => escaped = false,
                    (false, '\\') => escaped = true,
                    (false, '"') => {
                        len = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            len
        } else {
            rest.find(char::is_whitespace).unwrap_or(rest.len())
        };
        out.push((offset, token));
        offset += raw_len;
        rest = &rest[raw_len..];
    }
    out
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
    fn upsert_replaces_only_its_machine_and_keeps_the_rest() {
        let text = "\
# mine
machine other login o password keep
machine 127.0.0.1
  login old
  password stale
default login d password dflt
";
        let out = upsert(text, "127.0.0.1", "me@paas", "paas_new");
        let n = Netrc::parse(&out);
        assert_eq!(n.password_for("127.0.0.1"), Some("paas_new"));
        assert_eq!(n.password_for("other"), Some("keep"));
        assert_eq!(n.password_for("elsewhere"), Some("dflt"));
        assert!(
            out.starts_with("# mine\nmachine other login o password keep\n"),
            "{out}"
        );
        assert!(!out.contains("stale"), "{out}");
        assert_eq!(
            upsert(&out, "127.0.0.1", "me@paas", "paas_new"),
            out,
            "idempotent"
        );
        let added = upsert("", "h:5000", "a b", "p\"q");
        assert_eq!(Netrc::parse(&added).password_for("h:5000"), Some("p\"q"));
        assert_eq!(
            Netrc::parse(&added)
                .entry_for("h:5000")
                .unwrap()
                .login
                .as_deref(),
            Some("a b")
        );
    }

    #[test]
    fn remove_drops_every_entry_of_the_machine_only() {
        let text = "machine a password 1\nmachine b password 2 machine A password 3\nmacdef x\n  machine a\n\nmachine c password 4\n";
        let out = remove(text, "a");
        let n = Netrc::parse(&out);
        assert_eq!(n.password_for("a"), None);
        assert_eq!(n.password_for("b"), Some("2"));
        assert_eq!(n.password_for("c"), Some("4"));
        assert!(
            out.contains("macdef x\n  machine a\n"),
            "macdef bodies are kept: {out}"
        );
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
