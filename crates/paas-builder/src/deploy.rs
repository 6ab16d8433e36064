//! The push pipeline: refs checked, the app's build lock taken, the build run and
//! recorded, the release (and its release phase) made, and the outcome told to the pusher.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use paas_core::Procfile;
use paas_core::buildpacks::Buildpack;
use paas_docker::build as docker;
use paas_store::{NewBuild, ReleaseStatus};
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::custom_buildpack::BUILDPACK_URL;
use crate::failure::BuildFailure;
use crate::output::{Masker, Output, detail, header};
use crate::{BuildError, Builder, ObjectDirs, PushOutcome, PushTicket};

impl Builder {
    /// Builds and releases what a push brings, streaming output to `tx`. `refs` is what
    /// git gives the pre-receive hook: `<old> <new> <ref>` lines.
    pub async fn build_push(
        &self,
        ticket: &PushTicket,
        refs: &str,
        object_dirs: &ObjectDirs,
        tx: mpsc::Sender<String>,
    ) -> Result<PushOutcome, BuildError> {
        let config = self.store.config_vars(ticket.app_id).await?;
        let mut out = Output {
            tx,
            masker: Masker::new(config.as_map()),
            log: String::new(),
        };
        let pushed = match self.check_refs(ticket, refs, object_dirs).await {
            Ok(pushed) => pushed,
            Err(BuildFailure::Platform(e)) => return Err(e),
            Err(refused) => {
                out.fail(&refused.to_string()).await;
                return Ok(PushOutcome::Rejected);
            }
        };
        let lock = self.lock_for(ticket.app_id);
        let guard = match lock.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => {
                out.line(header(&format!(
                    "Waiting for the build already running for {}...",
                    ticket.app
                )))
                .await;
                lock.lock_owned().await
            }
        };
        // Released when git is done with this push, not when its build is: until then
        // the branch has not moved, and the next push must see where it ends up.
        self.pushes.hold(ticket.id, guard);
        // The other push may have moved the branch meanwhile; git would then refuse this
        // one's ref update after its build and release, so refuse it before.
        let now = self.repos.ref_target(&ticket.app, &pushed.name).await?;
        let expected = (!pushed.old.bytes().all(|b| b == b'0')).then_some(pushed.old.as_str());
        if now.as_deref() != expected {
            let moved = BuildFailure::BranchMoved {
                name: pushed.name,
                now: now
                    .as_deref()
                    .map_or("nothing", |c| &c[..7.min(c.len())])
                    .to_owned(),
            };
            out.fail(&moved.to_string()).await;
            return Ok(PushOutcome::Rejected);
        }
        let commit = pushed.commit;
        let started = Instant::now();
        let buildpacks = self.store.buildpacks(ticket.app_id).await?;
        let names: Vec<String> = buildpacks.iter().map(|b| b.wire_url()).collect();
        let build = self
            .store
            .create_build(
                ticket.app_id,
                NewBuild {
                    source_version: &commit,
                    buildpacks: &names,
                },
            )
            .await?;
        tracing::info!(app = %ticket.app, build_id = %build.build_id, commit = %commit, "build started");
        self.logs
            .api_event(ticket.app.as_str(), "Build started".to_owned());
        out.line(header(&format!(
            "Building {} (commit {})",
            ticket.app,
            &commit[..7]
        )))
        .await;

        let job = Job {
            ticket,
            commit: &commit,
            build_id: build.build_id,
        };
        let result = self
            .run_build(&job, object_dirs, config.as_map(), buildpacks, &mut out)
            .await;
        match result {
            Ok((image, procfile)) => {
                let launch = Instant::now();
                self.logs
                    .api_event(ticket.app.as_str(), "Build succeeded".to_owned());
                out.line(header("Launching...")).await;
                let log = out.log.clone();
                self.store
                    .finish_build(build.build_id, Ok((&image, &procfile)), &log)
                    .await?;
                let release = match procfile.release_command() {
                    None => {
                        self.store
                            .create_deploy_release(
                                ticket.app_id,
                                build.build_id,
                                ReleaseStatus::Succeeded,
                            )
                            .await?
                    }
                    Some(command) => {
                        let pending = self
                            .store
                            .create_deploy_release(
                                ticket.app_id,
                                build.build_id,
                                ReleaseStatus::Pending,
                            )
                            .await?;
                        let code = self
                            .release_phase(ticket, &pending, &image, command, &mut out)
                            .await?;
                        if code != 0 {
                            let reason = format!("The release command exited with status {code}");
                            self.store
                                .finish_release(
                                    pending.release_id,
                                    ReleaseStatus::Failed,
                                    Some(&reason),
                                )
                                .await?;
                            out.fail(&format!(
                                "{reason}: v{} is marked failed and nothing moved.",
                                pending.version
                            ))
                            .await;
                            out.fail("Push rejected: the release phase failed; the current release keeps running.")
                                .await;
                            tracing::info!(app = %ticket.app, release = %format!("v{}", pending.version), code, "release phase failed");
                            self.logs.api_event(
                                ticket.app.as_str(),
                                format!(
                                    "Release v{} failed: {reason}; deploy failed",
                                    pending.version
                                ),
                            );
                            return Ok(PushOutcome::Rejected);
                        }
                        self.store
                            .finish_release(pending.release_id, ReleaseStatus::Succeeded, None)
                            .await?
                    }
                };
                out.line(detail(&format!(
                    "Released v{} ({:.1}s)",
                    release.version,
                    launch.elapsed().as_secs_f64()
                )))
                .await;
                out.line(detail(&format!(
                    "{} deployed to paas",
                    self.settings.web_url.for_app(ticket.app.as_str())
                )))
                .await;
                out.line(detail(&format!(
                    "Build and release took {:.1}s",
                    started.elapsed().as_secs_f64()
                )))
                .await;
                tracing::info!(app = %ticket.app, build_id = %build.build_id, release = %format!("v{}", release.version), "build released");
                self.logs.api_event(
                    ticket.app.as_str(),
                    format!(
                        "Deploy {} (release v{} created)",
                        &commit[..7],
                        release.version
                    ),
                );
                Ok(PushOutcome::Released {
                    version: release.version,
                })
            }
            Err(BuildFailure::Platform(e)) => {
                out.fail("Push rejected: the platform could not run the build (see paasd's logs).")
                    .await;
                let _ = self
                    .store
                    .finish_build(build.build_id, Err(()), &out.log)
                    .await;
                tracing::error!(app = %ticket.app, build_id = %build.build_id, error = %e, "build errored");
                Err(e)
            }
            Err(failure) => {
                let reason = failure.to_string();
                out.fail(&reason).await;
                out.fail("Push rejected: the build failed; the current release keeps running.")
                    .await;
                self.store
                    .finish_build(build.build_id, Err(()), &out.log)
                    .await?;
                tracing::info!(app = %ticket.app, build_id = %build.build_id, reason = %reason, "build failed");
                self.logs
                    .api_event(ticket.app.as_str(), format!("Build failed: {reason}"));
                Ok(PushOutcome::Rejected)
            }
        }
    }

    /// The build proper: the image and the app's process types.
    async fn run_build(
        &self,
        job: &Job<'_>,
        object_dirs: &ObjectDirs,
        config: &BTreeMap<String, String>,
        buildpacks: Vec<Buildpack>,
        out: &mut Output,
    ) -> Result<(String, Procfile), BuildFailure> {
        let (ticket, commit) = (job.ticket, job.commit);
        let procfile = if self
            .repos
            .has_file(&ticket.app, commit, "Procfile", object_dirs)
            .await?
        {
            let text = self
                .repos
                .show(&ticket.app, commit, "Procfile", object_dirs)
                .await?;
            match Procfile::parse(&text) {
                Ok(p) => Some(p),
                Err(e) => return Err(BuildFailure::ProcessTypes(e.message.into_owned())),
            }
        } else {
            None
        };
        let archive = self.repos.archive(&ticket.app, commit, object_dirs).await?;
        // The app's buildpack list, else its legacy BUILDPACK_URL, overrides a Dockerfile.
        let list = match (buildpacks.is_empty(), config.get(BUILDPACK_URL)) {
            (true, Some(url)) => vec![
                Buildpack::parse(url)
                    .map_err(|e| BuildFailure::BuildpackUrl(e.message.into_owned()))?,
            ],
            _ => buildpacks,
        };
        let dockerfile = list.is_empty()
            && self
                .repos
                .has_file(&ticket.app, commit, "Dockerfile", object_dirs)
                .await?;
        let (image, defaults) = if dockerfile {
            self.dockerfile_build(job, archive, out).await?
        } else {
            self.buildpack_build(job, archive, config, &list, out)
                .await?
        };
        let procfile = procfile.unwrap_or(defaults);
        if procfile.processes().next().is_none() {
            out.line(header(
                "No process types: add a Procfile (web: <command>) to run this app",
            ))
            .await;
        } else {
            let types: Vec<&str> = procfile.processes().map(|(k, _)| k.as_str()).collect();
            out.line(header(&format!(
                "Discovering process types: {}",
                types.join(", ")
            )))
            .await;
        }
        Ok((image, procfile))
    }
}

/// One build of a pushed commit, as its stages need to know it.
pub(crate) struct Job<'a> {
    pub(crate) ticket: &'a PushTicket,
    pub(crate) commit: &'a str,
    pub(crate) build_id: Uuid,
}

impl Job<'_> {
    /// The image's tag (`paas/<app>:<tag>`): the build id's first 12 hex digits.
    pub(crate) fn tag(&self) -> String {
        self.build_id.simple().to_string()[..12].to_owned()
    }

    pub(crate) fn image_labels(&self) -> HashMap<String, String> {
        docker::image_labels(
            self.ticket.app.as_str(),
            &self.build_id.to_string(),
            self.commit,
        )
    }
}
