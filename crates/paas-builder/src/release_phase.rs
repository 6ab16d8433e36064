//! The release phase: the Procfile's `release:` command, run before a release goes live.

use std::time::Instant;

use tokio::sync::mpsc;

use crate::output::{Output, detail, header};
use crate::{BuildError, Builder, PushTicket};

impl Builder {
    /// Runs the Procfile's `release:` command as a one-off dyno of the pending release,
    /// streaming its output to the pusher; returns its exit status.
    pub(crate) async fn release_phase(
        &self,
        ticket: &PushTicket,
        release: &paas_store::Release,
        image: &str,
        command: &str,
        out: &mut Output,
    ) -> Result<i64, BuildError> {
        out.line(header(&format!("Running release command: {command}")))
            .await;
        let started = Instant::now();
        let name = format!("release.{}", release.version);
        let mut env: Vec<String> = release
            .config
            .0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        env.push(format!("DYNO={name}"));
        let spec = paas_docker::OneOffSpec {
            instance: self.settings.instance.clone(),
            app_name: ticket.app.to_string(),
            release_id: release.release_id.to_string(),
            version: release.version,
            name,
            image: image.to_owned(),
            command: command.to_owned(),
            env,
            memory_bytes: self.settings.dyno_memory_bytes,
            pids: 512,
            // Started at once, with no input: the builder follows its output below.
            detached: true,
            tty: false,
        };
        let id = self.docker.run_one_off(&spec).await?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let follow = self.docker.follow_and_reap(&id, move |line| {
            let _ = tx.send(line);
        });
        tokio::pin!(follow);
        let code = loop {
            tokio::select! {
                biased;
                Some(line) = rx.recv() => out.line(detail(&line)).await,
                code = &mut follow => break code?,
            }
        };
        while let Ok(line) = rx.try_recv() {
            out.line(detail(&line)).await;
        }
        out.line(header(&format!(
            "Release command done ({:.1}s)",
            started.elapsed().as_secs_f64()
        )))
        .await;
        Ok(code)
    }
}
