//! Config vars: the rules of factor III (config in the environment).

use std::collections::BTreeMap;
use std::fmt;

use crate::ParseError;
use crate::names::is_spelled;

/// Largest value of one config var, in bytes.
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
/// Largest total of an app's config (keys plus values), in bytes.
pub const MAX_TOTAL_BYTES: usize = 64 * 1024;

/// Variables the platform sets itself; users cannot set or unset them.
const RESERVED_KEYS: &[&str] = crate::dyno::PLATFORM_VARS;

/// A config var name: `^[A-Za-z_][A-Za-z0-9_]*$`, and not one the platform owns.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigKey(String);

impl ConfigKey {
    pub fn parse(raw: &str) -> Result<Self, ParseError> {
        let valid = is_spelled(
            raw,
            1..=256,
            |b| b.is_ascii_alphabetic() || b == b'_',
            |b| b.is_ascii_alphanumeric() || b == b'_',
        );
        if !valid {
            return Err(ParseError::new(
                "config_vars",
                format!(
                    "Config var name {raw:?} is invalid: it must start with a letter or '_' and \
                     contain only letters, digits and '_'."
                ),
            ));
        }
        if RESERVED_KEYS.contains(&raw) {
            return Err(ParseError::new(
                "config_vars",
                format!("{raw} is set by the platform and cannot be changed."),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConfigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An app's whole config, sorted by key. Construct it from stored data with
/// [`ConfigVars::from_stored`]; change it only through [`ConfigVars::apply`], which keeps
/// the size limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigVars(BTreeMap<String, String>);

impl ConfigVars {
    /// Wraps config read back from the store, which only ever holds checked config.
    pub fn from_stored(vars: BTreeMap<String, String>) -> Self {
        Self(vars)
    }

    pub fn as_map(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    pub fn into_map(self) -> BTreeMap<String, String> {
        self.0
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    fn total_bytes(&self) -> usize {
        self.0.iter().map(|(k, v)| k.len() + v.len()).sum()
    }

    /// Applies a change and says what it did, or refuses it whole. `None` from the outer
    /// `Option` means the change changes nothing (setting a var to the value it has, or
    /// removing one that is not there), so no release should be made.
    pub fn apply(&self, change: &ConfigChange) -> Result<Option<(ConfigVars, String)>, ParseError> {
        let mut next = self.0.clone();
        let mut set = Vec::new();
        let mut removed = Vec::new();
        for (key, value) in &change.0 {
            match value {
                Some(value) => {
                    if next.get(key.as_str()) != Some(value) {
                        next.insert(key.0.clone(), value.clone());
                        set.push(key.as_str());
                    }
                }
                None => {
                    if next.remove(key.as_str()).is_some() {
                        removed.push(key.as_str());
                    }
                }
            }
        }
        let next = ConfigVars(next);
        if next.total_bytes() > MAX_TOTAL_BYTES {
            return Err(ParseError::new(
                "config_vars",
                format!(
                    "Config vars would total {} bytes; an app's config is limited to {} bytes.",
                    next.total_bytes(),
                    MAX_TOTAL_BYTES
                ),
            ));
        }
        if set.is_empty() && removed.is_empty() {
            return Ok(None);
        }
        Ok(Some((next, config_change_description(&set, &removed))))
    }
}

/// Heroku's wording: "Set FOO, BAR config vars", "Remove FOO config vars".
fn config_change_description(set: &[&str], removed: &[&str]) -> String {
    match (set.is_empty(), removed.is_empty()) {
        (false, true) => format!("Set {} config vars", set.join(", ")),
        (true, false) => format!("Remove {} config vars", removed.join(", ")),
        _ => format!(
            "Set {} and remove {} config vars",
            set.join(", "),
            removed.join(", ")
        ),
    }
}

/// A requested change: a value sets a var, `None` removes it (Heroku's PATCH with `null`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigChange(BTreeMap<ConfigKey, Option<String>>);

impl ConfigChange {
    /// Parses a whole PATCH body's worth of changes; any bad key or value refuses all of them.
    pub fn parse<'a, I>(entries: I) -> Result<Self, ParseError>
    where
        I: IntoIterator<Item = (&'a str, Option<&'a str>)>,
    {
        let mut map = BTreeMap::new();
        for (key, value) in entries {
            let key = ConfigKey::parse(key)?;
            if let Some(value) = value {
                if value.len() > MAX_VALUE_BYTES {
                    return Err(ParseError::new(
                        "config_vars",
                        format!(
                            "Config var {key} is {} bytes long; a value is limited to {} bytes.",
                            value.len(),
                            MAX_VALUE_BYTES
                        ),
                    ));
                }
                if value.contains('\0') {
                    return Err(ParseError::new(
                        "config_vars",
                        format!(
                            "Config var {key} contains a NUL byte, which an environment cannot hold."
                        ),
                    ));
                }
                // A dyno setting (`PAAS_HEALTH_TIMEOUT` …) is refused here, not found
                // wrong later by the supervisor.
                crate::dyno_settings::check(key.as_str(), value)?;
            }
            map.insert(key, value.map(str::to_owned));
        }
        Ok(Self(map))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The keys this change sets or removes.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(ConfigKey::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(entries: &[(&str, Option<&str>)]) -> ConfigChange {
        ConfigChange::parse(entries.iter().copied()).unwrap()
    }

    #[test]
    fn keys_follow_the_environment_rules() {
        for good in ["FOO", "_x", "a1_B", "DATABASE_URL"] {
            assert!(ConfigKey::parse(good).is_ok(), "{good}");
        }
        for bad in ["", "1A", "A-B", "A B", "A=B", "É", "PORT", "DYNO"] {
            assert!(ConfigKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn setting_and_removing_describe_themselves_like_heroku() {
        let empty = ConfigVars::default();
        let (after, description) = empty
            .apply(&change(&[("FOO", Some("1")), ("BAR", Some("2"))]))
            .unwrap()
            .unwrap();
        assert_eq!(description, "Set BAR, FOO config vars");
        assert_eq!(after.get("FOO"), Some("1"));
        let (after, description) = after.apply(&change(&[("FOO", None)])).unwrap().unwrap();
        assert_eq!(description, "Remove FOO config vars");
        assert_eq!(after.get("FOO"), None);
        assert_eq!(after.get("BAR"), Some("2"));
        let (_, description) = after
            .apply(&change(&[("BAR", None), ("NEW", Some("x"))]))
            .unwrap()
            .unwrap();
        assert_eq!(description, "Set NEW and remove BAR config vars");
    }

    #[test]
    fn a_change_that_changes_nothing_makes_no_release() {
        let vars = ConfigVars::from_stored([("A".to_owned(), "1".to_owned())].into());
        assert_eq!(vars.apply(&change(&[("A", Some("1"))])).unwrap(), None);
        assert_eq!(vars.apply(&change(&[("MISSING", None)])).unwrap(), None);
    }

    #[test]
    fn values_over_32_kib_are_refused() {
        let big = "x".repeat(MAX_VALUE_BYTES + 1);
        assert!(ConfigChange::parse([("A", Some(big.as_str()))]).is_err());
        let ok = "x".repeat(MAX_VALUE_BYTES);
        assert!(ConfigChange::parse([("A", Some(ok.as_str()))]).is_ok());
    }

    #[test]
    fn config_over_64_kib_in_total_is_refused_whole() {
        let value = "x".repeat(30 * 1024);
        let vars = ConfigVars::default();
        let (vars, _) = vars
            .apply(&change(&[("A", Some(&value)), ("B", Some(&value))]))
            .unwrap()
            .unwrap();
        let err = vars.apply(&change(&[("C", Some(&value))])).unwrap_err();
        assert!(err.message.contains("limited"), "{err}");
    }

    #[test]
    fn the_platforms_own_variables_are_reserved() {
        for key in ["PORT", "DYNO", "PS"] {
            let err = ConfigChange::parse([(key, Some("x"))]).unwrap_err();
            assert!(err.message.contains("set by the platform"), "{err}");
            assert!(ConfigChange::parse([(key, None)]).is_err(), "unset {key}");
        }
    }

    #[test]
    fn a_bad_dyno_setting_refuses_the_whole_change() {
        let err = ConfigChange::parse([("OK", Some("1")), ("PAAS_HEALTH_TIMEOUT", Some("0"))])
            .unwrap_err();
        assert!(err.message.contains("PAAS_HEALTH_TIMEOUT"), "{err}");
        assert!(ConfigChange::parse([("PAAS_DYNO_GRACE", Some("never"))]).is_err());
        assert!(ConfigChange::parse([("PAAS_HEALTH_PATH", Some("/up"))]).is_ok());
        // Removing one is always fine: the default comes back.
        assert!(ConfigChange::parse([("PAAS_HEALTH_TIMEOUT", None)]).is_ok());
    }

    #[test]
    fn one_bad_key_refuses_the_whole_change() {
        assert!(ConfigChange::parse([("GOOD", Some("1")), ("PORT", Some("80"))]).is_err());
    }
}
