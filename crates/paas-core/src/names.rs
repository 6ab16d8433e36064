//! Names: apps, process types, dynos.

use std::fmt;
use std::ops::RangeInclusive;

use crate::ParseError;

/// Whether `raw` is `len` bytes long, starts with a byte `first` accepts and holds only
/// bytes `rest` accepts: the spelling rule every name paas parses is made of.
pub(crate) fn is_spelled(
    raw: &str,
    len: RangeInclusive<usize>,
    first: impl Fn(u8) -> bool,
    rest: impl Fn(u8) -> bool,
) -> bool {
    let b = raw.as_bytes();
    len.contains(&b.len()) && b.first().is_some_and(|&c| first(c)) && b.iter().all(|&c| rest(c))
}

/// `a-z`, `0-9` and `-`: the bytes of a DNS label.
pub(crate) fn is_label_byte(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'
}

/// An app's name: `^[a-z][a-z0-9-]{1,29}$`. It becomes a DNS label
/// (`<app>.<PAAS_DOMAIN>`) and part of container names, hence the strict alphabet.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AppName(String);

impl AppName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = is_spelled(raw, 2..=30, |b| b.is_ascii_lowercase(), is_label_byte)
            && !raw.ends_with('-');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ParseError::new(
                "name",
                format!(
                    "Name {raw:?} is invalid: it must start with a letter, end with a letter or digit, \
                     and be 2 to 30 characters of lowercase letters, digits and dashes."
                ),
            ))
        }
    }

    /// A readable name like `brave-river-4821` from caller-supplied entropy, so that this
    /// crate stays deterministic and free of a random number generator.
    pub fn generate(entropy: u64) -> Self {
        const ADJECTIVES: &[&str] = &[
            "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "lively", "mellow",
            "nimble", "polite", "quiet", "rapid", "shiny", "sunny", "tidy", "vivid", "witty",
            "young", "zesty", "bold", "crisp", "frosty", "golden",
        ];
        const NOUNS: &[&str] = &[
            "river", "meadow", "forest", "harbor", "island", "canyon", "glacier", "prairie",
            "summit", "valley", "breeze", "comet", "ember", "falcon", "garden", "lagoon", "maple",
            "orchid", "pebble", "quartz", "reef", "sparrow", "tundra", "willow",
        ];
        let adjective = ADJECTIVES[(entropy % ADJECTIVES.len() as u64) as usize];
        let noun = NOUNS[((entropy >> 16) % NOUNS.len() as u64) as usize];
        let number = (entropy >> 32) % 10_000;
        Self(format!("{adjective}-{noun}-{number:04}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Procfile process type (`web`, `worker`, `release`, `clock`...). Lowercase letters,
/// digits, `_` and `-`, starting with a letter; at most 30 characters, because it ends up
/// in dyno and container names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessType(String);

impl ProcessType {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = is_spelled(
            raw,
            1..=30,
            |b| b.is_ascii_alphabetic(),
            |b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
        );
        if valid {
            Ok(Self(raw.to_ascii_lowercase()))
        } else {
            Err(ParseError::new(
                "type",
                format!(
                    "Process type {raw:?} is invalid: it must start with a letter and be at most \
                     30 letters, digits, '_' or '-'."
                ),
            ))
        }
    }

    pub fn web() -> Self {
        Self("web".to_owned())
    }

    /// The release phase's one-off (`release.7`).
    pub fn release() -> Self {
        Self("release".into())
    }

    /// One-off dynos' type (`run.7`).
    pub fn run() -> Self {
        Self("run".into())
    }

    pub fn is_web(&self) -> bool {
        self.0 == "web"
    }

    /// `release` is the release-phase command, never a long-running process.
    pub fn is_release_phase(&self) -> bool {
        self.0 == "release"
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProcessType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A dyno's name, `<type>.<n>` with n ≥ 1 (`web.1`, `run.7`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DynoName {
    pub process_type: ProcessType,
    pub index: u32,
}

impl DynoName {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let invalid = || {
            ParseError::new(
                "dyno",
                format!("Dyno name {raw:?} is invalid: expected <type>.<number>, like web.1."),
            )
        };
        let (kind, index) = raw.rsplit_once('.').ok_or_else(invalid)?;
        let process_type = ProcessType::parse(kind).map_err(|_| invalid())?;
        // 1 to 999999999, digits only (no sign, no leading zero): `web.01` is no dyno.
        if index.is_empty()
            || index.len() > 9
            || index.starts_with('0')
            || !index.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid());
        }
        let index: u32 = index.parse().map_err(|_| invalid())?;
        Ok(Self {
            process_type,
            index,
        })
    }
}

impl fmt::Display for DynoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.process_type, self.index)
    }
}

/// A custom domain's hostname: lowercase DNS labels (1–63 of `a-z0-9-`, no dash at an
/// end), at least two of them, 253 characters at most; a trailing dot is dropped.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hostname(String);

impl Hostname {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let host = raw.trim().trim_end_matches('.').to_ascii_lowercase();
        let label_ok =
            |l: &str| is_spelled(l, 1..=63, |b| b != b'-', is_label_byte) && !l.ends_with('-');
        if host.len() <= 253 && host.contains('.') && host.split('.').all(label_ok) {
            Ok(Self(host))
        } else {
            Err(ParseError::new(
                "hostname",
                format!("{raw:?} is not a hostname like www.example.com."),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `domain` itself or a name under it.
    pub fn is_within(&self, domain: &str) -> bool {
        self.0 == domain || self.0.ends_with(&format!(".{domain}"))
    }
}

impl fmt::Display for Hostname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn hostnames_are_lowercase_dns_names() {
        assert_eq!(
            Hostname::parse("WWW.Example.com.").unwrap().as_str(),
            "www.example.com"
        );
        for bad in [
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "a b.com",
            "a_b.com",
            "",
            &format!("{}.com", "a".repeat(64)),
        ] {
            assert!(Hostname::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Hostname::parse("app.localhost")
                .unwrap()
                .is_within("localhost")
        );
        assert!(
            !Hostname::parse("notlocalhost.com")
                .unwrap()
                .is_within("localhost")
        );
    }

    use super::*;

    #[test]
    fn app_names_follow_the_dns_label_rules() {
        for good in ["ab", "my-app", "a1", "app-2-go", &"a".repeat(30)] {
            assert!(AppName::parse(good).is_ok(), "{good} should be valid");
        }
        for bad in [
            "",
            "a",
            "1app",
            "-app",
            "app-",
            "My-App",
            "my_app",
            "my app",
            "app.x",
            "é-app",
            &"a".repeat(31),
        ] {
            let err = AppName::parse(bad).expect_err(bad);
            assert_eq!(err.field, "name");
        }
    }

    #[test]
    fn generated_app_names_are_valid_and_vary_with_entropy() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..500u64 {
            let seed = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let name = AppName::generate(seed);
            assert!(AppName::parse(name.as_str()).is_ok(), "{name}");
            seen.insert(name);
        }
        assert!(seen.len() > 450, "only {} distinct names", seen.len());
    }

    #[test]
    fn process_types_are_lowercased_and_checked() {
        assert_eq!(ProcessType::parse("Web").unwrap().as_str(), "web");
        assert!(ProcessType::parse("worker_2").is_ok());
        assert!(ProcessType::parse("").is_err());
        assert!(ProcessType::parse("2web").is_err());
        assert!(ProcessType::parse("we b").is_err());
        assert!(ProcessType::parse("web.1").is_err());
    }

    #[test]
    fn dyno_names_parse_and_print_round_trip() {
        let d = DynoName::parse("worker.12").unwrap();
        assert_eq!(d.process_type.as_str(), "worker");
        assert_eq!(d.index, 12);
        assert_eq!(d.to_string(), "worker.12");
        for bad in [
            "web",
            "web.",
            "web.0",
            ".1",
            "web.x",
            "web.-1",
            "web.+1",
            "web.01",
            "web.1000000000",
        ] {
            assert!(DynoName::parse(bad).is_err(), "{bad}");
        }
    }
}
