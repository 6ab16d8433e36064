//! Per-app settings of the dyno manager, read from the app's config vars.
//!
//! The names are paasd's own defaults' (as Dokku reads `DOKKU_*` config vars), so
//! `paas config:set` sets them and they take effect with the release that config makes.
//! Each value is checked by [`check`] when it is set (`ConfigChange::parse`), so a bad one
//! is refused at `config:set`; [`DynoSettings::from_config`] reads them back with the same
//! rules.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::ParseError;

const GRACE: &str = "PAAS_DYNO_GRACE";
const HEALTH_TIMEOUT: &str = "PAAS_HEALTH_TIMEOUT";
const HEALTH_PATH: &str = "PAAS_HEALTH_PATH";

/// - `PAAS_DYNO_GRACE`: seconds between SIGTERM and SIGKILL when a dyno is retired (0–3600);
/// - `PAAS_HEALTH_TIMEOUT`: seconds a new web dyno may take to become ready (1–3600);
/// - `PAAS_HEALTH_PATH`: an HTTP path (`/up`) a web dyno must answer with 2xx or 3xx
///   before it is ready; without it (or empty), accepting TCP on `$PORT` is enough.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoSettings {
    pub grace: Duration,
    pub health_timeout: Duration,
    pub health_path: Option<String>,
}

/// One setting's value, parsed by the rule of its key.
enum Setting {
    Grace(Duration),
    HealthTimeout(Duration),
    /// `None`: the empty value, which means "no path".
    HealthPath(Option<String>),
}

/// Parses `raw` if `key` is a dyno setting; `Ok(None)` for any other key.
fn parse(key: &str, raw: &str) -> Result<Option<Setting>, String> {
    let seconds = |min: u64| match raw.trim().parse::<u64>() {
        Ok(n) if (min..=3600).contains(&n) => Ok(Duration::from_secs(n)),
        _ => Err(format!(
            "{key} must be a whole number of seconds from {min} to 3600, not {raw:?}"
        )),
    };
    match key {
        GRACE => seconds(0).map(|d| Some(Setting::Grace(d))),
        HEALTH_TIMEOUT => seconds(1).map(|d| Some(Setting::HealthTimeout(d))),
        HEALTH_PATH if raw.is_empty() => Ok(Some(Setting::HealthPath(None))),
        HEALTH_PATH => {
            let valid = raw.starts_with('/')
                && raw.len() <= 1024
                && raw.bytes().all(|b| b.is_ascii_graphic());
            if valid {
                Ok(Some(Setting::HealthPath(Some(raw.to_owned()))))
            } else {
                Err(format!(
                    "{key} must be a path starting with / without spaces, not {raw:?}"
                ))
            }
        }
        _ => Ok(None),
    }
}

/// Refuses a value a dyno setting cannot take; any other key passes.
pub fn check(key: &str, value: &str) -> Result<(), ParseError> {
    parse(key, value)
        .map(|_| ())
        .map_err(|message| ParseError::new("config_vars", message))
}

impl DynoSettings {
    /// `defaults` overridden by the app's config; a malformed value (stored before values
    /// were checked) is ignored, the default stays, and it is named in the problems.
    pub fn from_config(
        config: &BTreeMap<String, String>,
        defaults: &DynoSettings,
    ) -> (DynoSettings, Vec<String>) {
        let mut settings = defaults.clone();
        let mut problems = Vec::new();
        for key in [GRACE, HEALTH_TIMEOUT, HEALTH_PATH] {
            let Some(raw) = config.get(key) else {
                continue;
            };
            match parse(key, raw) {
                Ok(Some(Setting::Grace(d))) => settings.grace = d,
                Ok(Some(Setting::HealthTimeout(d))) => settings.health_timeout = d,
                Ok(Some(Setting::HealthPath(Some(path)))) => settings.health_path = Some(path),
                Ok(Some(Setting::HealthPath(None)) | None) => {}
                Err(problem) => problems.push(problem),
            }
        }
        (settings, problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dyno_settings_come_from_config_vars_and_bad_values_keep_the_defaults() {
        let defaults = DynoSettings {
            grace: Duration::from_secs(30),
            health_timeout: Duration::from_secs(60),
            health_path: None,
        };
        let config = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            DynoSettings::from_config(&config(&[("OTHER", "1")]), &defaults),
            (defaults.clone(), vec![])
        );
        let (set, problems) = DynoSettings::from_config(
            &config(&[
                ("PAAS_DYNO_GRACE", "5"),
                ("PAAS_HEALTH_TIMEOUT", "120"),
                ("PAAS_HEALTH_PATH", "/up?deep=1"),
            ]),
            &defaults,
        );
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(
            set,
            DynoSettings {
                grace: Duration::from_secs(5),
                health_timeout: Duration::from_secs(120),
                health_path: Some("/up?deep=1".into()),
            }
        );
        let (set, problems) = DynoSettings::from_config(
            &config(&[
                ("PAAS_DYNO_GRACE", "forever"),
                ("PAAS_HEALTH_TIMEOUT", "0"),
                ("PAAS_HEALTH_PATH", "up now"),
            ]),
            &defaults,
        );
        assert_eq!(set, defaults);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("PAAS_DYNO_GRACE"));
    }

    #[test]
    fn setting_a_value_checks_it_by_the_rule_that_reads_it() {
        for (key, good) in [
            ("PAAS_DYNO_GRACE", "0"),
            ("PAAS_DYNO_GRACE", "3600"),
            ("PAAS_HEALTH_TIMEOUT", " 1 "),
            ("PAAS_HEALTH_PATH", "/up?deep=1"),
            ("PAAS_HEALTH_PATH", ""),
            ("OTHER", "anything at all"),
        ] {
            assert!(check(key, good).is_ok(), "{key}={good:?}");
        }
        for (key, bad) in [
            ("PAAS_DYNO_GRACE", "forever"),
            ("PAAS_DYNO_GRACE", "3601"),
            ("PAAS_DYNO_GRACE", "-1"),
            ("PAAS_HEALTH_TIMEOUT", "0"),
            ("PAAS_HEALTH_TIMEOUT", "1.5"),
            ("PAAS_HEALTH_PATH", "up"),
            ("PAAS_HEALTH_PATH", "/up now"),
        ] {
            let err = check(key, bad).expect_err(key);
            assert!(err.message.contains(key), "{err}");
        }
    }
}
