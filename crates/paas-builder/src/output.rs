//! Build output: Heroku-style lines, with secrets masked before they leave paasd.

use std::collections::BTreeMap;

use tokio::sync::mpsc;

/// Output lines go to the pusher (if still connected) and into the build record.
pub(crate) struct Output {
    pub(crate) tx: mpsc::Sender<String>,
    pub(crate) masker: Masker,
    pub(crate) log: String,
}

impl Output {
    pub(crate) async fn line(&mut self, line: impl AsRef<str>) {
        let line = self.masker.mask(line.as_ref());
        self.log.push_str(&line);
        self.log.push('\n');
        // A pusher that went away does not stop the build's bookkeeping.
        let _ = self.tx.send(line).await;
    }

    pub(crate) async fn fail(&mut self, reason: &str) {
        self.line(format!(" !     {reason}")).await;
    }
}

/// Replaces the values of secret-looking config vars wherever they appear in output.
/// Secret-looking: the name contains KEY, TOKEN, SECRET or PASSWORD, or the value is a
/// URL carrying credentials (`postgres://user:pass@host`).
#[derive(Debug, Clone, Default)]
pub struct Masker {
    secrets: Vec<String>,
}

const MASK: &str = "[masked]";

impl Masker {
    pub fn new(config: &BTreeMap<String, String>) -> Self {
        let mut secrets: Vec<String> = config
            .iter()
            .filter(|(k, v)| {
                let k = k.to_ascii_uppercase();
                let named = ["KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD"]
                    .iter()
                    .any(|w| k.contains(w));
                (named || url_has_credentials(v)) && v.len() >= 4
            })
            .map(|(_, v)| v.clone())
            .collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        Self { secrets }
    }

    pub fn mask(&self, line: &str) -> String {
        let mut line = line.to_owned();
        for secret in &self.secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), MASK);
            }
        }
        line
    }
}

fn url_has_credentials(value: &str) -> bool {
    let Some((_, rest)) = value.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    authority.contains('@')
}

/// A phase header: `-----> Installing dependencies`.
pub fn header(text: &str) -> String {
    format!("-----> {text}")
}

/// A detail line under a header.
pub fn detail(text: &str) -> String {
    format!("       {text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_looking_values_are_masked_and_others_are_not() {
        let config: BTreeMap<String, String> = [
            ("API_KEY", "sk-live-123456"),
            ("DATABASE_URL", "postgres://u:hunter2@db/x"),
            ("GREETING", "hello"),
            ("MY_TOKEN", "abc"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let m = Masker::new(&config);
        assert_eq!(
            m.mask("key=sk-live-123456 greeting=hello"),
            "key=[masked] greeting=hello"
        );
        assert_eq!(
            m.mask("connecting to postgres://u:hunter2@db/x"),
            "connecting to [masked]"
        );
        // Too short to mask without garbling output.
        assert_eq!(m.mask("abc"), "abc");
    }
}
