//! One-off dynos (`paas run`, `heroku run`, the release phase): the one path that
//! starts containers outside the formation.

use bollard::models::ContainerCreateBody;
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, InspectContainerOptions, LogsOptionsBuilder,
};
use futures::{Stream, StreamExt};
use paas_core::runtime::{DynoLimits, ExitedOneOff};

use crate::dynos::dyno_command;
use crate::labels::{self, Kind, OneOffLabels};
use crate::security::unprivileged;
use crate::{Docker, DockerError, is_not_found};

/// A one-off dyno (`paas run`): not part of the formation, so the supervisor leaves it
/// alone (`paas.kind=one_off`); it is removed once its output has been read, or at
/// once when detached.
#[derive(Debug, Clone)]
pub struct OneOffSpec {
    pub instance: String,
    /// App, name (`run.N`), release, command and `detached`: started now, output to the
    /// log stream only. Otherwise the dyno waits, created, for its client:
    /// [`Docker::attach_one_off`] starts it once attached, so no output is missed and
    /// the client's input reaches it.
    pub dyno: OneOffLabels,
    pub image: String,
    /// `KEY=value`, from [`paas_core::dyno_env`].
    pub env: Vec<String>,
    pub limits: DynoLimits,
    /// A terminal for an attached client (`heroku run bash`), as on Heroku unless the
    /// client asked for none: stdout and stderr become one stream.
    pub tty: bool,
}

/// An attached one-off dyno: its output (stdout and stderr, or the terminal) from its
/// start, and its input. Shutting `input` down closes the dyno's stdin.
pub struct AttachedOneOff {
    pub output: std::pin::Pin<Box<dyn Stream<Item = Result<bytes::Bytes, DockerError>> + Send>>,
    pub input: std::pin::Pin<Box<dyn tokio::io::AsyncWrite + Send>>,
}

/// A one-off dyno's container, as `paas ps` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    pub id: String,
    pub dyno: OneOffLabels,
    pub status: paas_core::ContainerStatus,
    /// Unix seconds.
    pub created_secs: i64,
}

impl Docker {
    pub async fn run_one_off(&self, spec: &OneOffSpec) -> Result<String, DockerError> {
        let api = self.api().await?;
        let dyno = &spec.dyno;
        let detached = dyno.detached;
        let network = self
            .ensure_network(&spec.instance, dyno.app_name.as_str())
            .await?;
        let user = self.dyno_user(&spec.image).await?;
        let disk = self.disk_bound(&spec.image).await?;
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            user: Some(user),
            cmd: Some(dyno_command(&dyno.command)),
            entrypoint: Some(vec![]),
            env: Some(spec.env.clone()),
            labels: Some(labels::one_off(&spec.instance, dyno)),
            hostname: Some(dyno.name.to_string()),
            // An attached dyno's stdin is its client's, closed when the client closes it.
            open_stdin: Some(!detached),
            stdin_once: Some(!detached),
            attach_stdin: Some(!detached),
            tty: Some(spec.tty && !detached),
            // Not auto-removed even when detached: its output must stay readable until
            // the log collector has it; the supervisor removes it soon after it exits.
            host_config: Some(unprivileged(spec.limits, network, disk)),
            ..Default::default()
        };
        let name = format!("{}.{}.{}", spec.instance, dyno.app_name, dyno.name);
        let id = api
            .create_container(
                Some(CreateContainerOptionsBuilder::default().name(&name).build()),
                body,
            )
            .await?
            .id;
        if detached {
            api.start_container(&id, None).await?;
        }
        Ok(id)
    }

    /// Attaches to one-off `id` (created by [`Docker::run_one_off`]) and then starts it,
    /// so the output is complete from the first byte. Attaching to a dyno that already
    /// runs replays its output so far.
    pub async fn attach_one_off(&self, id: &str) -> Result<AttachedOneOff, DockerError> {
        use bollard::container::LogOutput;
        let api = self.api().await?;
        let options = bollard::query_parameters::AttachContainerOptionsBuilder::default()
            .stdin(true)
            .stdout(true)
            .stderr(true)
            .stream(true)
            .logs(true)
            .build();
        let attached = api.attach_container(id, Some(options)).await?;
        match api.start_container(id, None).await {
            Ok(()) => {}
            // Already running: a second client.
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 304, ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
        let output = attached.output.filter_map(|item| async move {
            match item {
                Ok(LogOutput::StdOut { message })
                | Ok(LogOutput::StdErr { message })
                | Ok(LogOutput::Console { message }) => Some(Ok(message)),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(DockerError::from(e))),
            }
        });
        Ok(AttachedOneOff {
            output: Box::pin(output),
            input: attached.input,
        })
    }

    /// Waits for one-off `id` to exit, removes it and returns its exit status.
    pub async fn wait_and_remove(&self, id: &str) -> Result<i64, DockerError> {
        let api = self.api().await?;
        let mut wait =
            api.wait_container(id, None::<bollard::query_parameters::WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(exit)) => exit.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) if is_not_found(&e) => -1,
            Some(Err(e)) => return Err(e.into()),
            None => -1,
        };
        self.remove_container_now(id).await?;
        Ok(code)
    }

    /// Removes every container (formation and one-off) of `app` in this installation, at
    /// once: the app is being destroyed.
    pub async fn remove_app_containers(
        &self,
        instance: &str,
        app: &str,
    ) -> Result<(), DockerError> {
        let filters = labels::filters(instance, None, &[(labels::APP_NAME, app)]);
        let found = self.containers(&filters).await?;
        for id in found.into_iter().filter_map(|c| c.id) {
            self.remove_container_now(&id).await?;
        }
        Ok(())
    }

    /// One-off containers of `instance` that have exited, with when (RFC 3339), and
    /// attached ones that never started, with when they were created. A one-off is
    /// normally removed by whoever follows its output; one that stays exited lost its
    /// follower (the client went away, or paasd restarted), and one still waiting
    /// for its client long after `heroku run` asked for it will not get one.
    pub async fn exited_one_offs(&self, instance: &str) -> Result<Vec<ExitedOneOff>, DockerError> {
        let api = self.api().await?;
        let mut filters = labels::filters(instance, Some(Kind::OneOff), &[]);
        filters.insert(
            "status".to_owned(),
            vec!["exited".to_owned(), "dead".to_owned(), "created".to_owned()],
        );
        let found = self.containers(&filters).await?;
        let mut out = Vec::new();
        for summary in found {
            let Some(id) = summary.id else { continue };
            let Some(dyno) = summary.labels.as_ref().and_then(labels::decode_one_off) else {
                continue;
            };
            let finished_at = match api
                .inspect_container(&id, None::<InspectContainerOptions>)
                .await
            {
                Ok(inspect) => {
                    let never_started = inspect.state.as_ref().is_some_and(|s| {
                        s.status == Some(bollard::models::ContainerStateStatusEnum::CREATED)
                    });
                    if never_started {
                        labels::docker_time(inspect.created.as_deref())
                    } else {
                        labels::docker_time(inspect.state.and_then(|s| s.finished_at).as_deref())
                    }
                }
                Err(e) if is_not_found(&e) => continue,
                Err(e) => return Err(e.into()),
            };
            out.push(ExitedOneOff {
                id,
                app_name: dyno.app_name,
                dyno: dyno.name,
                finished_at,
                detached: dyno.detached,
            });
        }
        Ok(out)
    }

    /// The one-off dynos of `app` that still have a container, for `paas ps`.
    pub async fn one_offs(&self, instance: &str, app: &str) -> Result<Vec<OneOff>, DockerError> {
        let filters = labels::filters(instance, Some(Kind::OneOff), &[(labels::APP_NAME, app)]);
        let found = self.containers(&filters).await?;
        let mut out: Vec<OneOff> = found
            .into_iter()
            .filter_map(|c| {
                Some(OneOff {
                    dyno: labels::decode_one_off(c.labels.as_ref()?)?,
                    status: paas_core::ContainerStatus::parse(c.state?.as_ref())?,
                    id: c.id?,
                    created_secs: c.created.unwrap_or_default(),
                })
            })
            .collect();
        out.sort_by_key(|o| o.created_secs);
        Ok(out)
    }

    /// The container of one-off dyno `name` (`run.7`) of `app`, if it still exists.
    pub async fn find_one_off(
        &self,
        instance: &str,
        app: &str,
        name: &paas_core::DynoName,
    ) -> Result<Option<String>, DockerError> {
        let name = name.to_string();
        let filters = labels::filters(
            instance,
            Some(Kind::OneOff),
            &[(labels::APP_NAME, app), (labels::DYNO, &name)],
        );
        let found = self.containers(&filters).await?;
        Ok(found.into_iter().find_map(|c| c.id))
    }

    /// Follows a container's output from its start, line by line, until it exits; then
    /// returns its exit status and removes it.
    pub async fn follow_and_reap(
        &self,
        id: &str,
        mut on_line: impl FnMut(String),
    ) -> Result<i64, DockerError> {
        let api = self.api().await?;
        let options = LogsOptionsBuilder::default()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = api.logs(id, Some(options));
        let mut pending = String::new();
        while let Some(chunk) = logs.next().await {
            let chunk = String::from_utf8_lossy(&chunk?.into_bytes()).into_owned();
            for line in paas_core::logline::split_lines(&mut pending, &chunk) {
                on_line(line);
            }
        }
        if !pending.is_empty() {
            on_line(pending);
        }
        self.wait_and_remove(id).await
    }
}
