//! Images to and from files (`docker save` / `docker load`), for platform backups: the
//! saved image is the released one byte for byte, so a restored dyno runs exactly what
//! ran before (a rebuild would fetch dependencies anew and could differ or fail).

use std::path::Path;

use futures::StreamExt as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::{Docker, DockerError, is_not_found};

impl Docker {
    /// The names an image is tagged with (`paas/<app>:<tag>`), empty for an untagged
    /// one; `None` when the engine has no such image.
    pub async fn image_tags(&self, image: &str) -> Result<Option<Vec<String>>, DockerError> {
        match self.api().await?.inspect_image(image).await {
            Ok(inspect) => Ok(Some(
                inspect
                    .repo_tags
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|t| t != "<none>:<none>")
                    .collect(),
            )),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the images `names` (tags or ids) to `to` as one `docker save` archive
    /// (layers they share are stored once); returns its size in bytes.
    pub async fn save_images(&self, names: &[String], to: &Path) -> Result<u64, DockerError> {
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let mut file = tokio::fs::File::create(to).await.map_err(io(to))?;
        let mut stream = std::pin::pin!(self.api().await?.export_images(&names));
        let mut size = 0u64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            size += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(io(to))?;
        }
        file.sync_all().await.map_err(io(to))?;
        Ok(size)
    }

    /// Loads a `docker save` archive (`docker load`), keeping its tags; returns the
    /// engine's lines (`Loaded image: paas/app:tag`).
    pub async fn load_images(&self, from: &Path) -> Result<Vec<String>, DockerError> {
        let file = tokio::fs::File::open(from).await.map_err(io(from))?;
        let body = futures::stream::unfold(file, |mut file| async move {
            let mut buf = vec![0u8; 1 << 20];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        });
        let options = bollard::query_parameters::ImportImageOptionsBuilder::default()
            .quiet(true)
            .build();
        let mut stream = std::pin::pin!(self.api().await?.import_image_stream(options, body, None));
        let mut lines = Vec::new();
        while let Some(info) = stream.next().await {
            let info = info?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(DockerError::Unexpected(format!("docker load: {error}")));
            }
            if let Some(line) = info.stream {
                let line = line.trim();
                if !line.is_empty() {
                    lines.push(line.to_owned());
                }
            }
        }
        Ok(lines)
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DockerError + '_ {
    move |e| DockerError::Unexpected(format!("{}: {e}", path.display()))
}
