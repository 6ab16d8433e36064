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
        self.pushed_to(&format!("paas/{app}"), image).await
    }

    /// `image` as a reference by digest in the registry's repository `name`
    /// (`paas/<app>` for release images, `paas-platform/stack` for the platform's own
    /// jobs), pushing it first unless it was pushed there before.
    pub(crate) async fn pushed_to(&self, name: &str, image: &str) -> Result<String, SwarmError> {
        if image.contains("@sha256:") {
            return Ok(image.to_owned());
        }
        let repo = format!("{}/{name}", self.registry);
        let key = (repo.clone(), image.to_owned());
        let mut pushed = self.pushed.lock().await;
        if let Some(reference) = pushed.get(&key) {
            return Ok(reference.clone());
        }
        let api = self.api().await?;
        let id = api
            .inspect_image(image)
            .await?
            .id
            .ok_or_else(|| SwarmError::Unexpected(format!("{image}: the engine gave no id")))?;
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
        tracing::info!(image = %image, reference = %digest, secs = started.elapsed().as_secs_f32(), "image pushed to the registry");
        pushed.insert(key, digest.clone());
        Ok(digest)
    }

    /// Forgets the pushes to the registry's repository `name`, once its manifests are
    /// deleted: a later push (an app of the same name made again) pushes anew.
    pub(crate) async fn forget_pushes(&self, name: &str) {
        let repo = format!("{}/{name}", self.registry);
        self.pushed.lock().await.retain(|(to, _), _| *to != repo);
    }
}
