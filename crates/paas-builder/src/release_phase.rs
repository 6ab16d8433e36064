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
        let name = paas_core::DynoName {
            process_type: paas_core::ProcessType::release(),
            index: u32::try_from(release.version).unwrap_or(1),
        };
        let spec = paas_docker::OneOffSpec {
            instance: self.settings.instance.clone(),
            env: paas_core::dyno_env(&release.config.0, &name, None),
            dyno: paas_docker::OneOffLabels {
                app_name: ticket.app.clone(),
                name,
                release_id: Some(release.release_id),
                version: paas_core::ReleaseVersion::new(release.version).ok(),
                command: command.to_owned(),
                // Started at once, with no input: the builder follows its output below.
                detached: true,
            },
            image: image.to_owned(),
            limits: self.settings.dyno_limits,
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
