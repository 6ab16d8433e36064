//! `paasd restore --from FILE`: an archive back onto a fresh data dir and database.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::{Context, bail, ensure};

use crate::{Database, Settings};

use super::verify::{report, verify_file};
use super::{DATABASE, IMAGES, SETTINGS, path_str, run_pg};

/// `paasd restore --from FILE`: onto a fresh data dir and database (paasd stopped), then
/// start paasd and the supervisor brings every app's formation back at its release.
pub async fn restore(settings: &Settings, from: &Path) -> anyhow::Result<String> {
    let data_dir = &settings.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating PAAS_DATA_DIR {}", data_dir.display()))?;
    let repos = data_dir.join("repos");
    if std::fs::read_dir(&repos).is_ok_and(|mut d| d.next().is_some()) {
        bail!(
            "PAAS_DATA_DIR={} already holds app repositories: restore only onto a fresh data directory",
            data_dir.display()
        );
    }
    let docker = paas_docker::Docker::connect()
        .context("DOCKER_HOST does not name a usable Docker Engine")?;
    docker.ping().await.context("Docker is not answering")?;
    let staging = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(data_dir)?;
    let manifest = {
        let (from, to) = (from.to_owned(), staging.path().to_owned());
        tokio::task::spawn_blocking(move || verify_file(&from, Some(&to))).await??
    };
    let unpacked = staging.path();
    let backed_up_key = std::fs::read_to_string(unpacked.join("data/secret.key")).ok();
    if let (Some(env_key), Some(key)) = (&settings.router.acme.secret_key, &backed_up_key)
        && env_key.trim() != key.trim()
    {
        bail!(
            "PAAS_SECRET_KEY differs from the backed-up sealing key: certificates' keys in the backup could not be opened (unset it, or set it to the old server's)"
        );
    }

    let database = Database::open(settings).await?;
    let restored = async {
        let apps = database.store.app_count_if_any().await?;
        ensure!(
            apps == 0,
            "the database already holds {apps} apps: restore only into a fresh database"
        );
        database.store.clear_for_restore().await?;
        let mut args = vec![
            "--no-owner".to_owned(),
            "--no-privileges".to_owned(),
            "--exit-on-error".to_owned(),
            "--single-transaction".to_owned(),
        ];
        args.extend(database.pg_args(settings)?);
        args.push(path_str(&unpacked.join(DATABASE))?.to_owned());
        run_pg("pg_restore", &args)
            .await
            .context("pg_restore of the platform database")?;
        // A newer paasd than the backup's: its migrations apply on top.
        database.store.migrate().await?;
        anyhow::Ok(())
    }
    .await;
    database.close().await?;
    restored?;

    // Files: the sealing key (unless PAAS_SECRET_KEY holds it), the CA, the repositories.
    if settings.router.acme.secret_key.is_none()
        && let Some(key) = &backed_up_key
    {
        let path = data_dir.join("secret.key");
        std::fs::write(&path, key)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    for dir in ["tls", "repos"] {
        let source = unpacked.join("data").join(dir);
        let target = data_dir.join(dir);
        if !source.exists() {
            continue;
        }
        // A fresh paasd may have made its own CA already: the backup's is the one
        // clients trust.
        if target.exists() {
            std::fs::remove_dir_all(&target)?;
        }
        std::fs::rename(&source, &target)?;
    }
    std::fs::rename(
        unpacked.join(SETTINGS),
        data_dir.join("restored-settings.env"),
    )?;

    let loaded = docker
        .load_images(&unpacked.join(IMAGES))
        .await
        .context("docker load of the releases' images")?;
    for (id, _) in &manifest.images {
        ensure!(
            docker.image_info(id).await?.is_some(),
            "the image {id} is not in Docker after docker load ({loaded:?})"
        );
    }
    drop(staging);
    Ok(format!(
        "{}restored {} apps, {} images; the backup's settings are in {} (compare them with paasd's environment). Start paasd: it brings every app's dynos back.\n",
        report(from, &manifest),
        manifest.apps.len(),
        manifest.images.len(),
        data_dir.join("restored-settings.env").display()
    ))
}
