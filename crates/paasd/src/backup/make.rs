//! `paasd backup`: writes the archive (database dump, images, repositories, TLS
//! material, settings, manifest) to `FILE.partial`, verifies it, then renames it.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, ensure};

use crate::{Database, Settings};

use super::verify::{report, verify_file};
use super::{
    AppEntry, DATABASE, FORMAT, Hashing, IMAGES, MANIFEST, Manifest, ROOT, SETTINGS, path_str,
    run_pg,
};

/// Writes the backup to `to`; returns the report of what it holds.
pub async fn backup(settings: &Settings, to: &Path) -> anyhow::Result<String> {
    let docker = paas_docker::Docker::connect()
        .context("DOCKER_HOST does not name a usable Docker Engine")?;
    let database = Database::open(settings).await?;
    let result = match database.pg_args(settings) {
        Ok(pg_args) => backup_with(settings, &database.store, &pg_args, &docker, to).await,
        Err(e) => Err(e),
    };
    database.close().await?;
    result
}

/// The backup itself, on an open database (a running paasd's scheduled backups use it).
pub async fn backup_with(
    settings: &Settings,
    store: &paas_store::Store,
    pg_args: &[String],
    docker: &paas_docker::Docker,
    to: &Path,
) -> anyhow::Result<String> {
    let to = std::path::absolute(to).context("the backup's path")?;
    let parent = to.parent().context("the backup file needs a directory")?;
    ensure!(parent.is_dir(), "{} is not a directory", parent.display());
    let staging = tempfile::Builder::new()
        .prefix(".paas-backup-")
        .tempdir_in(parent)
        .with_context(|| format!("making a staging directory in {}", parent.display()))?;

    // 1. The database, in one snapshot with the list of apps and images.
    let snapshot = store
        .backup_snapshot()
        .await
        .context("opening the backup's database snapshot")?;
    let dump = staging.path().join(DATABASE);
    let mut args = vec![
        "--format=custom".to_owned(),
        format!("--snapshot={}", snapshot.snapshot_id),
        format!("--file={}", path_str(&dump)?),
        "--no-owner".to_owned(),
        "--no-privileges".to_owned(),
    ];
    args.extend(pg_args.iter().cloned());
    let dumped = run_pg("pg_dump", &args).await;
    let apps: Vec<AppEntry> = snapshot.apps.iter().cloned().map(AppEntry::from).collect();
    snapshot.finish().await?;
    dumped.context("pg_dump of the platform database")?;

    // 2. The images those releases run, saved by tag so `docker load` tags them again.
    let mut images: Vec<(String, Vec<String>)> = Vec::new();
    for image in apps.iter().flat_map(|a| &a.images) {
        if images.iter().any(|(id, _)| id == image) {
            continue;
        }
        let tags = docker
            .image_tags(image)
            .await?
            .with_context(|| format!("the image {image} of a release is not in Docker"))?;
        images.push((image.clone(), tags));
    }
    let names: Vec<String> = images
        .iter()
        .map(|(id, tags)| tags.first().cloned().unwrap_or_else(|| id.clone()))
        .collect();
    let images_file = staging.path().join(IMAGES);
    if names.is_empty() {
        // An empty `docker save` archive, so every backup has the same members.
        tar::Builder::new(std::fs::File::create(&images_file)?).finish()?;
    } else {
        docker
            .save_images(&names, &images_file)
            .await
            .context("docker save of the releases' images")?;
    }

    // 3. The archive: files, then the manifest with their hashes.
    let partial = PathBuf::from(format!("{}.partial", to.display()));
    let data_dir = settings.data_dir.clone();
    let secret = secret_key_bytes(settings)?;
    let settings_env = crate::settings::set_variables()
        .into_iter()
        .filter(|(k, _)| k != "DATABASE_URL")
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect::<String>();
    let manifest_head = Manifest {
        format: FORMAT,
        paasd_version: env!("CARGO_PKG_VERSION").to_owned(),
        created_at: chrono::Utc::now(),
        apps,
        images,
        members: BTreeMap::new(),
    };
    let staging_path = staging.path().to_owned();
    let partial_for_write = partial.clone();
    tokio::task::spawn_blocking(move || {
        write_archive(
            &partial_for_write,
            &staging_path,
            &data_dir,
            &secret,
            &settings_env,
            manifest_head,
        )
    })
    .await??;
    drop(staging);

    // 4. Checked on write: re-read it all before it takes the name.
    let checked = {
        let partial = partial.clone();
        tokio::task::spawn_blocking(move || verify_file(&partial, None)).await?
    };
    match checked {
        Ok(manifest) => {
            std::fs::rename(&partial, &to)
                .with_context(|| format!("renaming {} to {}", partial.display(), to.display()))?;
            Ok(report(&to, &manifest))
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e.context("the backup did not verify after writing"))
        }
    }
}

/// The sealing key the running paasd uses: `PAAS_SECRET_KEY`, else `secret.key`.
fn secret_key_bytes(settings: &Settings) -> anyhow::Result<Option<Vec<u8>>> {
    if let Some(key) = &settings.router.acme.secret_key {
        return Ok(Some(format!("{key}\n").into_bytes()));
    }
    match std::fs::read(settings.data_dir.join("secret.key")) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).context("reading secret.key"),
    }
}

type Members = BTreeMap<String, (u64, String)>;
type Out = tar::Builder<std::io::BufWriter<std::fs::File>>;

fn add_file(out: &mut Out, members: &mut Members, name: &str, path: &Path) -> anyhow::Result<()> {
    let mut source = match std::fs::File::open(path) {
        Ok(f) => f,
        // Gone since the walk listed it (git removing a quarantine, a lock file).
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let meta = source.metadata()?;
    let mut header = tar::Header::new_gnu();
    header.set_metadata(&meta);
    let mut hashing = Hashing::new(&mut source);
    out.append_data(&mut header, format!("{ROOT}/{name}"), &mut hashing)
        .with_context(|| format!("archiving {}", path.display()))?;
    members.insert(name.to_owned(), hashing.finish());
    Ok(())
}

fn add_bytes(out: &mut Out, members: &mut Members, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(chrono::Utc::now().timestamp().max(0) as u64);
    out.append_data(&mut header, format!("{ROOT}/{name}"), bytes)?;
    let mut hashing = Hashing::new(bytes);
    std::io::copy(&mut hashing, &mut std::io::sink())?;
    members.insert(name.to_owned(), hashing.finish());
    Ok(())
}

fn write_archive(
    partial: &Path,
    staging: &Path,
    data_dir: &Path,
    secret: &Option<Vec<u8>>,
    settings_env: &str,
    mut manifest: Manifest,
) -> anyhow::Result<()> {
    let file = std::fs::File::create(partial)
        .with_context(|| format!("creating {}", partial.display()))?;
    std::fs::set_permissions(partial, std::fs::Permissions::from_mode(0o600))?;
    let mut out = tar::Builder::new(std::io::BufWriter::new(file));
    out.follow_symlinks(false);
    add_file(
        &mut out,
        &mut manifest.members,
        DATABASE,
        &staging.join(DATABASE),
    )?;
    add_file(
        &mut out,
        &mut manifest.members,
        IMAGES,
        &staging.join(IMAGES),
    )?;
    add_bytes(
        &mut out,
        &mut manifest.members,
        SETTINGS,
        settings_env.as_bytes(),
    )?;
    if let Some(secret) = secret {
        add_bytes(&mut out, &mut manifest.members, "data/secret.key", secret)?;
    }
    for dir in ["tls", "repos"] {
        let mut files = Vec::new();
        walk(&data_dir.join(dir), &mut files)?;
        for path in files {
            let relative = path
                .strip_prefix(data_dir)?
                .to_str()
                .with_context(|| format!("{} is not UTF-8", path.display()))?;
            let name = format!("data/{relative}");
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if meta.is_file() {
                add_file(&mut out, &mut manifest.members, &name, &path)?;
            } else if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&path)?;
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                header.set_mode(0o777);
                out.append_link(&mut header, format!("{ROOT}/{name}"), &target)?;
            }
        }
    }
    let json = serde_json::to_vec_pretty(&manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(manifest.created_at.timestamp().max(0) as u64);
    out.append_data(&mut header, format!("{ROOT}/{MANIFEST}"), json.as_slice())?;
    let mut inner = out.into_inner()?;
    inner.flush()?;
    inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Every file and symlink under `dir` (none when it does not exist); entries that vanish
/// during the walk are skipped.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut entries: Vec<_> = entries.flatten().collect();
    entries.sort_by_key(std::fs::DirEntry::file_name);
    for entry in entries {
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() {
            walk(&entry.path(), out)?;
        } else {
            out.push(entry.path());
        }
    }
    Ok(())
}
