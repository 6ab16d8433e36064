//! Service images: `paas/addon_postgresql:17` and `paas/addon_redis:8`, made locally
//! from Debian's packages on top of the stack image (no registry is needed), on the
//! first add-on that needs one, and reused while the stack stays the same image (its id
//! is a label of the service image), the way the builder's runtime images are.

use std::sync::LazyLock;

use paas_core::addons::Service;
use paas_docker::{Docker, Limits};

use crate::AddonError;

/// One service image build at a time.
static MAKING: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(Default::default);

const POSTGRES_ENTRY: &str = include_str!("postgres-entry.sh");
const REDIS_ENTRY: &str = include_str!("redis-entry.sh");

/// The packages, the directories the service owns, and its entry script.
fn recipe(service: Service) -> (&'static str, &'static str, &'static str) {
    match service {
        Service::Postgresql => (
            // No cluster at install time: the entry script makes one on the volume.
            "mkdir -p /etc/postgresql-common; echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.conf; \
             PKGS='postgresql-17 postgresql-client-17 openssl'",
            "mkdir -p /var/lib/postgresql/data /var/run/postgresql; chown postgres:postgres /var/lib/postgresql/data /var/run/postgresql; chmod 700 /var/lib/postgresql/data",
            POSTGRES_ENTRY,
        ),
        Service::Redis => (
            "PKGS='redis-server redis-tools'",
            "mkdir -p /data; chown redis:redis /data; chmod 700 /data",
            REDIS_ENTRY,
        ),
    }
}

/// The Dockerfile of a service image (the same text for the same stack, so the engine's
/// layer cache makes a remake on the same stack instant).
fn dockerfile(stack: &str, service: Service) -> String {
    let (packages, dirs, _) = recipe(service);
    format!(
        "FROM {stack}\n\
         RUN set -e; export DEBIAN_FRONTEND=noninteractive; {packages}; \
         apt-get update -qq; \
         apt-get install -y -qq --no-install-recommends $PKGS >/tmp/apt.log 2>&1 || {{ tail -n 40 /tmp/apt.log; exit 1; }}; \
         apt-get clean; rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/apt.log; {dirs}\n\
         COPY entry.sh /usr/local/bin/paas-addon-entry\n\
         RUN chmod 755 /usr/local/bin/paas-addon-entry\n"
    )
}

fn context_tar(dockerfile: &str, entry: &str) -> std::io::Result<Vec<u8>> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, body, mode) in [
        ("Dockerfile", dockerfile, 0o644),
        ("entry.sh", entry, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(body.len() as u64);
        header.set_mode(mode);
        tar.append_data(&mut header, name, body.as_bytes())?;
    }
    tar.into_inner()
}

/// The service image, made now unless one made on the current stack exists.
pub async fn ensure(
    docker: &Docker,
    stack: &str,
    service: Service,
    limits: &Limits,
) -> Result<String, AddonError> {
    let image = service.image();
    let stack_info = docker.image_info(stack).await?.ok_or_else(|| {
        AddonError::Image(format!(
            "the stack image {stack} is missing: run `paasd stack build` on the server"
        ))
    })?;
    let current = |info: &Option<paas_docker::ImageInfo>| {
        info.as_ref()
            .is_some_and(|i| paas_docker::labels::is_made_on(&i.labels, &stack_info.id))
    };
    if current(&docker.image_info(image).await?) {
        return Ok(image.to_owned());
    }
    let _making = MAKING.lock().await;
    if current(&docker.image_info(image).await?) {
        return Ok(image.to_owned());
    }
    let started = std::time::Instant::now();
    tracing::info!(%image, "making the add-on service image from Debian packages");
    let (_, _, entry) = recipe(service);
    let tar = context_tar(&dockerfile(stack, service), entry)
        .map_err(|e| AddonError::Image(format!("writing the build context: {e}")))?;
    let (repo, tag) = image
        .trim_start_matches("paas/")
        .split_once(':')
        .unwrap_or((image, "latest"));
    let labels = paas_docker::labels::addon_image(service.short(), &stack_info.id);
    let mut tail: Vec<String> = Vec::new();
    let built = docker
        .build_dockerfile(repo, tag, tar, limits, labels, |line| {
            tail.push(line);
            if tail.len() > 40 {
                tail.remove(0);
            }
        })
        .await?;
    match built {
        Ok(_) => {
            tracing::info!(%image, secs = started.elapsed().as_secs(), "add-on service image ready");
            Ok(image.to_owned())
        }
        Err(reason) => Err(AddonError::Image(format!(
            "could not make {image}: {reason}: {}",
            tail.join("\n")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_image_is_made_from_debian_packages_on_the_stack() {
        let pg = dockerfile("paas/stack:bookworm", Service::Postgresql);
        assert!(pg.starts_with("FROM paas/stack:bookworm\n"));
        assert!(pg.contains("postgresql-17"));
        assert!(pg.contains("create_main_cluster = false"));
        let redis = dockerfile("paas/stack:bookworm", Service::Redis);
        assert!(redis.contains("redis-server"));
        assert!(POSTGRES_ENTRY.contains("hostssl"));
        assert!(!POSTGRES_ENTRY.contains("\nhost "));
        assert!(REDIS_ENTRY.contains("requirepass"));
    }
}
