//! The build script's protocol: `build.sh` runs in the build container and prints marker
//! lines between the buildpacks' output; [`ScriptState::read`] turns each line into what
//! the builder does with it. The markers are named here and nowhere else in Rust;
//! `scripts/buildpack-smoke.sh` runs the same `build.sh`.

use std::time::Instant;

/// The script run (`/bin/sh -c`) in every buildpack build container.
pub(crate) const BUILD_SCRIPT: &str = include_str!("build.sh");

/// No buildpack's `bin/detect` accepted the app; the script exits 1.
pub(crate) const NO_BUILDPACK: &str = "::paas-no-buildpack::";
/// Followed by the detected buildpack's name; `bin/compile` starts next.
pub(crate) const DETECTED: &str = "::paas-detected:: ";
/// `bin/compile` succeeded.
pub(crate) const COMPILED: &str = "::paas-compiled::";
/// The lines between these two are `bin/release`'s YAML, not output.
pub(crate) const RELEASE_BEGIN: &str = "::paas-release-begin::";
pub(crate) const RELEASE_END: &str = "::paas-release-end::";

/// What one line of the build container's output means.
#[derive(Debug, PartialEq)]
pub(crate) enum ScriptLine {
    /// Buildpack output, for the pusher.
    Output(String),
    /// A buildpack detected the app after `took` seconds.
    Detected {
        name: String,
        took: f64,
    },
    NoBuildpack,
    /// A marker or a line of `bin/release`'s YAML: nothing to show.
    Quiet,
}

/// Where the build script is: inside `bin/release`'s YAML or not, and since when the
/// current phase runs.
#[derive(Debug)]
pub(crate) struct ScriptState {
    in_release: bool,
    release_yaml: Option<String>,
    phase_started: Instant,
}

impl ScriptState {
    pub(crate) fn new() -> Self {
        Self {
            in_release: false,
            release_yaml: None,
            phase_started: Instant::now(),
        }
    }

    /// Interprets the build script's marker lines; everything else is buildpack output.
    pub(crate) fn read(&mut self, line: String) -> ScriptLine {
        if self.in_release {
            if line == RELEASE_END {
                self.in_release = false;
            } else {
                let yaml = self.release_yaml.get_or_insert_with(String::new);
                yaml.push_str(&line);
                yaml.push('\n');
            }
            return ScriptLine::Quiet;
        }
        if let Some(name) = line.strip_prefix(DETECTED) {
            let took = self.phase_started.elapsed().as_secs_f64();
            self.phase_started = Instant::now();
            ScriptLine::Detected {
                name: name.to_owned(),
                took,
            }
        } else if line == NO_BUILDPACK {
            ScriptLine::NoBuildpack
        } else if line == COMPILED {
            self.phase_started = Instant::now();
            ScriptLine::Quiet
        } else if line == RELEASE_BEGIN {
            self.in_release = true;
            ScriptLine::Quiet
        } else {
            ScriptLine::Output(line)
        }
    }

    /// `bin/release`'s YAML, if the script printed one.
    pub(crate) fn release_yaml(&self) -> Option<&str> {
        self.release_yaml.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKERS: [&str; 5] = [NO_BUILDPACK, DETECTED, COMPILED, RELEASE_BEGIN, RELEASE_END];

    #[test]
    fn the_script_prints_exactly_the_named_markers() {
        for marker in MARKERS {
            assert!(
                BUILD_SCRIPT.contains(&format!("echo \"{marker}")),
                "build.sh never prints {marker:?}"
            );
        }
        for (at, _) in BUILD_SCRIPT.match_indices("\"::paas-") {
            let printed = &BUILD_SCRIPT[at + 1..];
            assert!(
                MARKERS.iter().any(|m| printed.starts_with(m)),
                "build.sh prints a marker script.rs does not name: {}",
                printed.lines().next().unwrap_or_default()
            );
        }
    }

    #[test]
    fn the_smoke_test_runs_this_script() {
        let smoke = include_str!("../../../scripts/buildpack-smoke.sh");
        assert!(smoke.contains("crates/paas-builder/src/build.sh"));
        assert!(
            !smoke.contains("::paas-"),
            "the smoke test spells out a marker instead of sourcing build-container.env"
        );
    }

    #[test]
    fn markers_steer_and_everything_else_is_output() {
        let mut s = ScriptState::new();
        assert_eq!(s.read("hello".into()), ScriptLine::Output("hello".into()));
        assert!(matches!(
            s.read(format!("{DETECTED}Python")),
            ScriptLine::Detected { ref name, .. } if name == "Python"
        ));
        assert_eq!(s.read(COMPILED.into()), ScriptLine::Quiet);
        assert_eq!(s.read(RELEASE_BEGIN.into()), ScriptLine::Quiet);
        assert_eq!(s.read("---".into()), ScriptLine::Quiet);
        assert_eq!(s.read("default_process_types:".into()), ScriptLine::Quiet);
        assert_eq!(s.read(RELEASE_END.into()), ScriptLine::Quiet);
        assert_eq!(s.read(NO_BUILDPACK.into()), ScriptLine::NoBuildpack);
        assert_eq!(s.release_yaml(), Some("---\ndefault_process_types:\n"));
    }
}
