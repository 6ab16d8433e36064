//! Looking at images the platform makes (the stack and the runtime images on it).

use std::collections::HashMap;

use crate::{Docker, DockerError, is_not_found};

/// An image's id and labels.
#[derive(Debug, Clone)]
pub struct ImageInfo {
    pub id: String,
    pub labels: HashMap<String, String>,
}

impl Docker {
    /// `None` when the engine has no such image.
    pub async fn image_info(&self, image: &str) -> Result<Option<ImageInfo>, DockerError> {
        match self.api().await?.inspect_image(image).await {
            Ok(inspect) => Ok(Some(ImageInfo {
                id: inspect.id.unwrap_or_default(),
                labels: inspect.config.and_then(|c| c.labels).unwrap_or_default(),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
