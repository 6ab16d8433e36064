//! Dockerfile builds: the engine builds the image, and its command is the default `web`.

use std::collections::BTreeMap;
use std::time::Instant;

use paas_core::Procfile;

use crate::Builder;
use crate::deploy::Job;
use crate::failure::BuildFailure;
use crate::output::{Output, detail, header};

impl Builder {
    /// Builds the image from the app's Dockerfile; its command is the default `web`.
    pub(crate) async fn dockerfile_build(
        &self,
        job: &Job<'_>,
        archive: Vec<u8>,
        out: &mut Output,
    ) -> Result<(String, Procfile), BuildFailure> {
        out.line(header("Dockerfile detected")).await;
        let started = Instant::now();
        let mut lines = Vec::new();
        let built = self
            .docker
            .build_dockerfile(
                job.ticket.app.as_str(),
                &job.tag(),
                archive,
                &self.settings.limits,
                job.image_labels(),
                |l| lines.push(l),
            )
            .await?;
        for line in lines {
            out.line(detail(&line)).await;
        }
        let image = match built {
            Ok(image) => image,
            Err(reason) => return Err(BuildFailure::Dockerfile(reason)),
        };
        out.line(header(&format!(
            "Image built in {:.1}s",
            started.elapsed().as_secs_f64()
        )))
        .await;
        let mut defaults = BTreeMap::new();
        if let Some(command) = self.docker.image_command(&image).await? {
            defaults.insert(paas_core::ProcessType::web(), command);
        }
        Ok((image, Procfile::from_entries(defaults)))
    }
}
