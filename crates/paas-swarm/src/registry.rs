//! The registry's side of image collection: once an app is deleted, no release of it can
//! be rolled back to, so its manifests are deleted by digest (Registry HTTP API v2) and
//! nothing names its images any more. The registry frees their blobs in its own offline
//! `garbage-collect`. Each node's engine removes the images it pulled in the image
//! collector job (`collect`).

use crate::{Swarm, SwarmError};

/// What a manifest `HEAD` accepts, so the registry answers with the digest it was pushed
/// under whatever the manifest's kind.
const MANIFEST_TYPES: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.index.v1+json";

impl Swarm {
    /// Deletes every manifest of `paas/<app>` from the registry; returns how many.
    pub(crate) async fn forget_repository(&self, app: &str) -> Result<usize, SwarmError> {
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| self.registry_error(&e))?;
        // Docker's own order: HTTPS, and plain HTTP for a registry that does not speak it
        // (one configured as insecure on the nodes).
        let mut last = None;
        for scheme in ["https", "http"] {
            let base = format!("{scheme}://{}/v2/paas/{app}", self.registry);
            match self.forget_at(&client, &base).await {
                Ok(n) => return Ok(n),
                Err(e) if e.is_connect() || e.is_request() => last = Some(e),
                Err(e) => return Err(self.registry_error(&e)),
            }
        }
        Err(last.map_or_else(
            || SwarmError::Unexpected("no registry scheme tried".into()),
            |e| self.registry_error(&e),
        ))
    }

    async fn forget_at(
        &self,
        client: &reqwest::Client,
        base: &str,
    ) -> Result<usize, reqwest::Error> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Option<Vec<String>>,
        }
        let listed = client.get(format!("{base}/tags/list")).send().await?;
        if listed.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(0); // never pushed, or forgotten already
        }
        let tags = listed
            .error_for_status()?
            .json::<Tags>()
            .await?
            .tags
            .unwrap_or_default();
        let mut digests = Vec::new();
        for tag in tags {
            let head = client
                .head(format!("{base}/manifests/{tag}"))
                .header(reqwest::header::ACCEPT, MANIFEST_TYPES)
                .send()
                .await?
                .error_for_status()?;
            if let Some(digest) = head
                .headers()
                .get("docker-content-digest")
                .and_then(|d| d.to_str().ok())
                .filter(|d| !digests.iter().any(|seen: &String| seen == d))
            {
                digests.push(digest.to_owned());
            }
        }
        let mut deleted = 0;
        for digest in &digests {
            let response = client
                .delete(format!("{base}/manifests/{digest}"))
                .send()
                .await?;
            match response.status() {
                s if s.is_success() => deleted += 1,
                reqwest::StatusCode::NOT_FOUND => {}
                reqwest::StatusCode::METHOD_NOT_ALLOWED => {
                    tracing::warn!(
                        registry = %self.registry,
                        "the registry refuses deletes (its storage.delete.enabled is off): a deleted app's images stay in it"
                    );
                    return Ok(deleted);
                }
                _ => {
                    response.error_for_status()?;
                }
            }
        }
        Ok(deleted)
    }

    fn registry_error(&self, e: &reqwest::Error) -> SwarmError {
        SwarmError::Registry {
            registry: self.registry.clone(),
            reason: e.to_string(),
        }
    }
}
