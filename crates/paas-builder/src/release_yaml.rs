//! The YAML a buildpack's `bin/release` prints. Only `default_process_types` matters to
//! paas, and buildpacks emit it in one simple shape:
//!
//! ```yaml
//! default_process_types:
//!   web: npm start
//! ```
//! so a small reader of that shape is enough (and refuses what it does not understand).

use std::collections::BTreeMap;

use paas_core::{ParseError, ProcessType, Procfile};

pub fn default_process_types(yaml: &str) -> Result<Procfile, ParseError> {
    let mut in_section = false;
    let mut entries = BTreeMap::new();
    for line in yaml.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') || line.trim() == "---" {
            continue;
        }
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented {
            let key = line.trim_end();
            in_section =
                key == "default_process_types:" || key.starts_with("default_process_types:");
            if in_section
                && key
                    .trim_end_matches(|c: char| c.is_whitespace())
                    .ends_with("{}")
            {
                in_section = false;
            }
            continue;
        }
        if !in_section {
            continue;
        }
        let Some((kind, command)) = line.trim().split_once(':') else {
            return Err(ParseError::new(
                "buildpack",
                format!("bin/release printed a line paas cannot read: {line:?}"),
            ));
        };
        let command = unquote(command.trim());
        if command.is_empty() {
            continue;
        }
        entries.insert(ProcessType::parse(kind.trim())?, command.to_owned());
    }
    Ok(Procfile::from_entries(entries))
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = s.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_default_process_types() {
        let p = default_process_types("---\naddons: []\ndefault_process_types:\n  web: npm start\n  worker: \"node w.js\"\nconfig_vars:\n  A: b\n").unwrap();
        let entries: Vec<_> = p
            .entries()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(entries, [("web", "npm start"), ("worker", "node w.js")]);
        assert!(
            default_process_types("default_process_types: {}\n")
                .unwrap()
                .is_empty()
        );
        assert!(default_process_types("").unwrap().is_empty());
        assert!(default_process_types("default_process_types:\n  not a mapping\n").is_err());
    }
}
