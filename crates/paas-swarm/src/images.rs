//! Release images in the registry, by digest: the image a build made on the manager is
//! pushed once, and services name `registry/paas/<app>@sha256:…`, so every node pulls
//! exactly that image (a rollback to an older release included) and no node needs a
//! rebuild.

use futures::StreamExt;

use crate::{Swarm, SwarmError};

impl Swarm {
    /// `image` (a local image of the manager) as a registry reference by digest,
    /// pushing it first unless it was pushed before.
    pub(crate) async fn by_digest(&self, app: &str, image: &str) -> Result<String, SwarmError> {
        if image.contains("@sha256:") {
            return Ok(image.to_owned());
        }
        let mut pushed = self.pushed.lock().await;
        if let Some(reference) = pushed.get(image) {
            return Ok(reference.clone());
        }
        let api = self.api().await?;
        let id = api
            .inspect_image(image)
            .await?
            .id
            .ok_or_else(|| SwarmError::Unexpected(format!("{image}: the engine gave no id")))?;
        let repo = format!("{}/paas/{app}", self.registry);
        // The image id is the tag: a second push of the same image is a no-op.
        let tag = id
            .trim_start_matches("sha256:")
            .get(..20)
            .unwrap_or("latest")
            .to_owned();
        api.tag_image(
            image,
            Some(
                bollard::query_parameters::TagImageOptionsBuilder::default()
                    .repo(&repo)
                    .tag(&tag)
                    .build(),
            ),
        )
        .await?;
        let started = std::time::Instant::now();
        let mut push = std::pin::pin!(
            api.push_image(
                &repo,
                Some(
                    bollard::query_parameters::PushImageOptionsBuilder::default()
                        .tag(&tag)
                        .build()
                ),
                None,
            )
        );
        while let Some(step) = push.next().await {
            let step = step?;
            if let Some(error) = step.error_detail.and_then(|e| e.message) {
                return Err(SwarmError::Unexpected(format!(
                    "pushing {repo}:{tag} to {}: {error}",
                    self.registry
                )));
            }
        }
        let digest = api
            .inspect_image(&format!("{repo}:{tag}"))
            .await?
            .repo_digests
            .unwrap_or_default()
            .into_iter()
            .find(|d| d.starts_with(&format!("{repo}@")))
            .ok_or_else(|| {
                SwarmError::Unexpected(format!("{repo}:{tag} was pushed but has no digest"))
            })?;
        tracing::info!(image = %image, reference = %digest, secs = started.elapsed().as_secs_f32(), "release image pushed to the registry");
        pushed.insert(image.to_owned(), digest.clone());
        Ok(digest)
    }
}
