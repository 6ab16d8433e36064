//! The image a buildpack build runs on: the stack, or a runtime image made on top of it.
//!
//! The stack stays a lean base (Python 3.13 and Node.js 20 for the bundled buildpacks).
//! Every other runtime comes from Debian's packages as its own image, `paas/runtime_<kind>:
//! <line>` (`paas/runtime_go:1.25`, `paas/runtime_jdk:21`), made on the first build that
//! needs it (or by `paasd stack build --all`) with a generated Dockerfile `FROM` the stack,
//! and reused while the stack stays the same image (its id is a label of the runtime
//! image). The build container runs on that image, so the committed app image, and every
//! dyno of it, has the runtime its buildpack needed.
//!
//! This file chooses the image a build runs on (`runtime_for`, the builder's
//! `build_image_for`); `source` reads the pushed tree's root, `recipe` says how each
//! runtime image is made from Debian's packages (its Dockerfile), and `make` makes
//! them (`ensure`, one build at a time; `make_all` for `paasd stack`).

use paas_core::buildpacks::Buildpack;
use paas_core::langs::{self, Language, Runtime, SourceFiles, Unavailable};
use tokio::sync::mpsc;

use crate::failure::BuildFailure;

mod make;
mod recipe;
mod source;

pub use make::{ensure, make_all};
pub use source::source_files;

/// What the source's language needs: its runtime, or the version it asks for that the
/// platform does not offer. `None` when no bundled buildpack detects it or it needs only
/// the stack's tools.
pub fn runtime_for(order: &[String], files: &SourceFiles) -> Result<Option<Runtime>, Unavailable> {
    match langs::detect(order, files) {
        Some(lang) => langs::resolve(lang, files),
        None => Ok(None),
    }
}

/// The runtimes of an app's buildpacks (`list`; empty: the one bundled buildpack that
/// detects it), each with the buildpack folder it is for, or why the build cannot run:
/// a bundled buildpack of the list whose detect rule the source fails, or a version the
/// platform does not offer. An app's own buildpacks get no runtime (they build on the
/// stack). `last_python` is the Python line of the app's last build.
pub(crate) fn runtimes_for(
    order: &[String],
    list: &[Buildpack],
    files: &SourceFiles,
    last_python: Option<&str>,
) -> Result<Vec<(&'static str, Runtime)>, BuildFailure> {
    let langs: Vec<Language> = if list.is_empty() {
        langs::detect(order, files).into_iter().collect()
    } else {
        let mut langs = Vec::new();
        for buildpack in list {
            if let Buildpack::Bundled(lang) = buildpack {
                if !lang.detects(files) {
                    return Err(BuildFailure::Incompatible {
                        buildpack: buildpack.name(),
                        wants: lang.detect_files().join(" or "),
                    });
                }
                langs.push(*lang);
            }
        }
        langs
    };
    let mut runtimes = Vec::new();
    for lang in langs {
        match langs::resolve_after(lang, files, last_python) {
            Ok(Some(runtime)) => runtimes.push((lang.buildpack(), runtime)),
            Ok(None) => {}
            Err(refused) => return Err(BuildFailure::RuntimeUnavailable(refused.0)),
        }
    }
    Ok(runtimes)
}

/// The one runtime image the build runs on (`None`: the stack). Every runtime image is
/// made `FROM` the stack, so it also carries the stack's runtimes; two buildpacks that
/// each need another image cannot share a build.
fn one_image(runtimes: &[(&str, Runtime)]) -> Result<Option<Runtime>, BuildFailure> {
    let mut needing: Vec<&(&str, Runtime)> = runtimes
        .iter()
        .filter(|(_, r)| r.image(langs::STACK_RUNTIMES).is_some())
        .collect();
    needing.dedup_by(|a, b| a.1.image(langs::STACK_RUNTIMES) == b.1.image(langs::STACK_RUNTIMES));
    match needing.as_slice() {
        [] => Ok(None),
        [(_, runtime)] => Ok(Some(runtime.clone())),
        several => {
            let named: Vec<String> = several
                .iter()
                .map(|(bp, r)| {
                    format!(
                        "heroku/{bp} needs {} ({} {} from {})",
                        r.image(langs::STACK_RUNTIMES).unwrap_or_default(),
                        r.label,
                        r.line,
                        r.source
                    )
                })
                .collect();
            Err(BuildFailure::RuntimeImages(format!(
                "{}: paas builds an app on one runtime image, which also has Python {} and Node.js {}. Keep one of these runtimes, or pin the other to the stack's version.",
                named.join(" and "),
                stack_line("python"),
                stack_line("nodejs"),
            )))
        }
    }
}

fn stack_line(kind: &str) -> &'static str {
    langs::STACK_RUNTIMES
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or("", |(_, line)| line)
}

impl crate::Builder {
    /// The image a buildpack build of `archive` runs on and the variables that tell each
    /// buildpack why (`PAAS_RUNTIME_LINE_<folder>`, `PAAS_RUNTIME_FROM_<folder>`, which
    /// build.sh hands to that buildpack as `PAAS_RUNTIME_LINE`/`_FROM`), or why the build
    /// cannot run. The lines chosen are recorded with the build.
    pub(crate) async fn build_image_for(
        &self,
        job: &crate::deploy::Job<'_>,
        archive: &[u8],
        list: &[Buildpack],
        out: &mut crate::output::Output,
    ) -> Result<(String, Vec<String>), BuildFailure> {
        let stack = self.settings.stack_image.clone();
        let files = source_files(archive).map_err(crate::BuildError::from)?;
        let last_python = self
            .store
            .last_runtime_line(job.ticket.app_id, "python")
            .await
            .map_err(crate::BuildError::from)?;
        let runtimes = runtimes_for(
            &self.settings.buildpack_order,
            list,
            &files,
            last_python.as_deref(),
        )?;
        let runtime = one_image(&runtimes)?;
        let mut env = Vec::new();
        let mut lines = std::collections::BTreeMap::new();
        for (folder, r) in &runtimes {
            env.push(format!("PAAS_RUNTIME_LINE_{folder}={}", r.line));
            env.push(format!("PAAS_RUNTIME_FROM_{folder}={}", r.source));
            lines.insert(r.kind.to_owned(), r.line.to_owned());
        }
        self.store
            .set_build_runtimes(job.build_id, &lines)
            .await
            .map_err(crate::BuildError::from)?;
        let Some(runtime) = runtime else {
            return Ok((stack, env));
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let ensure = ensure(
            &self.docker,
            &stack,
            &runtime,
            &self.settings.limits,
            self.settings.ca_bundle.as_deref(),
            tx,
        );
        tokio::pin!(ensure);
        let made = loop {
            tokio::select! {
                biased;
                Some(line) = rx.recv() => relay(out, line).await,
                made = &mut ensure => break made.map_err(crate::BuildError::from)?,
            }
        };
        while let Ok(line) = rx.try_recv() {
            relay(out, line).await;
        }
        match made {
            Ok(image) => Ok((
                image.unwrap_or_else(|| self.settings.stack_image.clone()),
                env,
            )),
            Err(reason) => Err(BuildFailure::RuntimeImage(reason)),
        }
    }
}

async fn relay(out: &mut crate::output::Output, line: String) {
    if line.starts_with("-----> ") {
        out.line(line).await;
    } else {
        out.line(crate::output::detail(&line)).await;
    }
}

#[cfg(test)]
mod tests;
