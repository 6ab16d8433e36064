//! How one variable's raw value is read: the lookup every settings group reads through
//! (`Env`: unset and blank are the same; socket addresses, seconds and counts with
//! bounds), and sizes with units (`512m`, `2g`). Every error names the variable.

use std::net::SocketAddr;

use anyhow::{Context, bail};

/// The environment as `Settings::from_lookup` was given it.
pub(super) struct Env<'a>(pub(super) &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A variable's value; blank is unset.
    pub(super) fn get(&self, name: &str) -> Option<String> {
        (self.0)(name).filter(|v| !v.trim().is_empty())
    }

    /// A socket address, `default` when unset.
    pub(super) fn addr(&self, name: &str, default: &str) -> anyhow::Result<SocketAddr> {
        let raw = self.get(name).unwrap_or_else(|| default.to_owned());
        raw.trim()
            .parse()
            .with_context(|| format!("{name}={raw:?} is not a socket address like {default}"))
    }

    /// A number of seconds from 1 to `max` (`30` or `30s`), `default` when unset.
    pub(super) fn seconds(&self, name: &str, default: u64, max: u64) -> anyhow::Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().trim_end_matches('s').parse::<u64>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => bail!("{name}={raw:?} must be a number of seconds from 1 to {max}"),
            },
        }
    }

    /// A number from 1 to `max`, `default` when unset.
    pub(super) fn count(&self, name: &str, default: usize, max: usize) -> anyhow::Result<usize> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<usize>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => bail!("{name}={raw:?} must be a number from 1 to {max}"),
            },
        }
    }
}

/// `512m`, `2g`, `1073741824`.
pub(super) fn parse_bytes(name: &str, raw: &str) -> anyhow::Result<i64> {
    parse_size(name, raw, 64 << 20)
}

/// A size of at least `min` bytes.
pub(super) fn parse_size(name: &str, raw: &str, min: i64) -> anyhow::Result<i64> {
    let raw = raw.trim().to_ascii_lowercase();
    let (digits, unit) = match raw.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => raw.split_at(i),
        None => (raw.as_str(), ""),
    };
    let n: i64 = digits
        .parse()
        .with_context(|| format!("{name}={raw:?} is not a size like 512m or 2g"))?;
    let factor = match unit.trim_end_matches('b') {
        "" => 1,
        "k" => 1 << 10,
        "m" => 1 << 20,
        "g" => 1 << 30,
        _ => bail!("{name}={raw:?} is not a size like 512m or 2g"),
    };
    let bytes = n.checked_mul(factor).filter(|b| *b >= min);
    bytes.with_context(|| format!("{name}={raw:?} must be at least {}m", min >> 20))
}
