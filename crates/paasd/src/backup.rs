//! `paasd backup`, `paasd backup --verify` and `paasd restore`: the whole platform in one
//! tar archive, taken while paasd runs.
//!
//! The archive (`paas-backup/…`):
//! - `database.pgdump`: `pg_dump -Fc` of the platform database, in the snapshot of a
//!   repeatable-read transaction that also lists the apps and their images, so the
//!   dump and the image list agree however many releases are made meanwhile;
//! - `images.tar`: one `docker save` of each app's current image and the one before it
//!   that a rollback goes back to (saved, not rebuilt: a rebuild fetches dependencies
//!   anew, needs the network and minutes per app, and may not give the same result);
//! - `data/repos/`: the apps' git repositories, copied after the dump (a release is
//!   committed before its push moves the branch, so a copy is never older than the
//!   dump's releases need; at worst a push in flight is missing and is pushed again);
//! - `data/tls/` (the local CA and the TLS port's certificate) and `data/secret.key`
//!   (the key sealing certificates' private keys and the ACME account in the database);
//! - `settings.env`: the paasd settings set when the backup ran (but `DATABASE_URL`);
//! - `manifest.json`, last: what the archive holds and every member's SHA-256.
//!
//! Build caches are not kept (the next push rebuilds them). The archive is written to
//! `FILE.partial`, re-read and checked (`verify`), then renamed to `FILE`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Database, Settings};

const ROOT: &str = "paas-backup";
const MANIFEST: &str = "manifest.json";
const DATABASE: &str = "database.pgdump";
const IMAGES: &str = "images.tar";
const SETTINGS: &str = "settings.env";
const FORMAT: u32 = 1;

/// What `manifest.json` says; `verify` checks the archive against it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub paasd_version: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub apps: Vec<AppEntry>,
    /// Every image saved in `images.tar`: (image id, its tags).
    pub images: Vec<(String, Vec<String>)>,
    /// Member path (under `paas-backup/`) → (bytes, SHA-256 hex).
    pub members: BTreeMap<String, (u64, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppEntry {
    pub name: String,
    pub current_version: Option<i32>,
    pub releases: i64,
    pub config_vars: i64,
    pub domains: Vec<String>,
    pub drains: i64,
    pub images: Vec<String>,
}

impl From<paas_store::BackupApp> for AppEntry {
    fn from(a: paas_store::BackupApp) -> Self {
        Self {
            name: a.name,
            current_version: a.current_version,
            releases: a.releases,
            config_vars: a.config_vars,
            domains: a.domains,
            drains: a.drains,
            images: a.images,
        }
    }
}

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

/// A writer that hashes and counts what goes through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
    bytes: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hash: Sha256::new(),
            bytes: 0,
        }
    }
    fn finish(self) -> (u64, String) {
        (self.bytes, hex::encode(self.hash.finalize()))
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
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

/// `paasd backup --verify FILE`: re-reads the archive and reports what it holds.
pub async fn verify(file: &Path) -> anyhow::Result<String> {
    let file = file.to_owned();
    tokio::task::spawn_blocking(move || {
        let manifest = verify_file(&file, None)?;
        Ok(report(&file, &manifest))
    })
    .await?
}

/// Reads the whole archive: every member's hash against the manifest, the database dump
/// through `pg_restore --list`, and `images.tar` holding every image it should. With
/// `extract_to`, members are also written under that directory (for `restore`).
fn verify_file(file: &Path, extract_to: Option<&Path>) -> anyhow::Result<Manifest> {
    let archive_file =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut archive = tar::Archive::new(std::io::BufReader::new(archive_file));
    let mut seen: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let mut dump_ok = false;
    let mut image_configs: Vec<String> = Vec::new();
    for entry in archive.entries().context("reading the archive")? {
        let mut entry = entry.context("reading the archive")?;
        let path = entry.path()?.to_str().map(str::to_owned);
        let Some(name) = path
            .as_deref()
            .and_then(|p| p.strip_prefix(&format!("{ROOT}/")))
            .map(str::to_owned)
        else {
            bail!("{} is not a paasd backup (member {path:?})", file.display());
        };
        ensure!(
            !name.split('/').any(|part| part == ".." || part.is_empty()),
            "the archive names an unsafe path: {name}"
        );
        if entry.header().entry_type().is_symlink() {
            if let Some(dir) = extract_to {
                let target = entry.link_name()?.context("a symlink without a target")?;
                let dest = dir.join(&name);
                std::fs::create_dir_all(dest.parent().context("a path")?)?;
                std::os::unix::fs::symlink(target, dest)?;
            }
            continue;
        }
        if name == MANIFEST {
            let mut json = Vec::new();
            entry.read_to_end(&mut json)?;
            manifest = Some(serde_json::from_slice(&json).context("the manifest is not valid")?);
            continue;
        }
        let mode = entry.header().mode().unwrap_or(0o600);
        let mut hashing = Hashing::new(&mut entry);
        let mut sink: Box<dyn Write> = match extract_to {
            Some(dir) => {
                let dest = dir.join(&name);
                std::fs::create_dir_all(dest.parent().context("a path")?)?;
                let f = std::fs::File::create(&dest)?;
                f.set_permissions(std::fs::Permissions::from_mode(mode & 0o777))?;
                Box::new(std::io::BufWriter::new(f))
            }
            None => Box::new(std::io::sink()),
        };
        match name.as_str() {
            DATABASE => {
                dump_ok = pg_restore_lists(&mut hashing, &mut sink)?;
            }
            IMAGES => {
                let mut tee = Tee {
                    inner: &mut hashing,
                    copy: &mut sink,
                };
                image_configs = saved_image_ids(&mut tee)?;
                std::io::copy(&mut tee, &mut std::io::sink())?;
            }
            _ => {
                std::io::copy(&mut hashing, &mut sink)?;
            }
        }
        sink.flush()?;
        drop(sink);
        seen.insert(name, hashing.finish());
    }
    let manifest = manifest.context("the archive has no manifest: it is cut short")?;
    ensure!(
        manifest.format == FORMAT,
        "backup format {} is not one this paasd reads ({FORMAT})",
        manifest.format
    );
    for (name, expected) in &manifest.members {
        match seen.get(name) {
            Some(got) if got == expected => {}
            Some(_) => bail!("{name} is damaged: its SHA-256 or size differs from the manifest"),
            None => bail!("{name} is missing from the archive"),
        }
    }
    if let Some(extra) = seen.keys().find(|k| !manifest.members.contains_key(*k)) {
        bail!("{extra} is in the archive but not in its manifest");
    }
    ensure!(dump_ok, "pg_restore cannot read the database dump");
    for (id, _) in &manifest.images {
        let hex = id.trim_start_matches("sha256:");
        ensure!(
            image_configs.iter().any(|c| c == hex),
            "images.tar does not hold the image {id}"
        );
    }
    Ok(manifest)
}

/// A reader that also writes what it reads to `copy`.
struct Tee<'a, R, W: ?Sized> {
    inner: &'a mut R,
    copy: &'a mut W,
}

impl<R: Read, W: Write + ?Sized> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.copy.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// Streams the dump into `pg_restore --list` (and `copy`); true when it reads it whole.
fn pg_restore_lists(dump: &mut impl Read, copy: &mut dyn Write) -> anyhow::Result<bool> {
    let bin = crate::embedded_pg::bin_dir()?;
    let mut child = std::process::Command::new(bin.join("pg_restore"))
        .arg("--list")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .context("running pg_restore --list")?;
    let mut stdin = child.stdin.take().context("pg_restore's stdin")?;
    let mut stdout = child.stdout.take().context("pg_restore's stdout")?;
    let reader = std::thread::spawn(move || {
        let mut listing = String::new();
        let _ = stdout.read_to_string(&mut listing);
        listing
    });
    let mut buf = vec![0u8; 1 << 16];
    let mut stdin_open = true;
    loop {
        let n = dump.read(&mut buf)?;
        if n == 0 {
            break;
        }
        copy.write_all(&buf[..n])?;
        // pg_restore may stop reading early once it has the table of contents.
        if stdin_open && stdin.write_all(&buf[..n]).is_err() {
            stdin_open = false;
        }
    }
    drop(stdin);
    let listing = reader.join().unwrap_or_default();
    let status = child.wait()?;
    Ok(status.success() && listing.contains("TABLE DATA public release"))
}

/// The image ids (config digests, hex) a `docker save` archive holds, from its
/// `manifest.json` (`Config` is `<hex>.json` or `blobs/sha256/<hex>`).
fn saved_image_ids(images: &mut impl Read) -> anyhow::Result<Vec<String>> {
    #[derive(Deserialize)]
    struct Saved {
        #[serde(rename = "Config")]
        config: String,
    }
    let mut archive = tar::Archive::new(images);
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry.path()?.to_str() == Some("manifest.json") {
            let mut json = Vec::new();
            entry.read_to_end(&mut json)?;
            let saved: Vec<Saved> =
                serde_json::from_slice(&json).context("images.tar's manifest.json")?;
            return Ok(saved
                .into_iter()
                .map(|s| {
                    s.config
                        .trim_start_matches("blobs/sha256/")
                        .trim_end_matches(".json")
                        .to_owned()
                })
                .collect());
        }
    }
    Ok(Vec::new())
}

fn report(file: &Path, manifest: &Manifest) -> String {
    let size = std::fs::metadata(file).map_or(0, |m| m.len());
    let repos = manifest
        .members
        .keys()
        .filter(|k| k.starts_with("data/repos/") && k.ends_with("/HEAD"))
        .count();
    let mut out = format!(
        "{}: paasd backup of {} (paasd {}), {:.1} MB, verified\n",
        file.display(),
        manifest.created_at.format("%Y-%m-%d %H:%M:%SZ"),
        manifest.paasd_version,
        size as f64 / 1e6
    );
    out.push_str(&format!(
        "database dump {} bytes; {} images; {} git repositories; TLS/CA material: {}; sealing key: {}\n",
        manifest.members.get(DATABASE).map_or(0, |m| m.0),
        manifest.images.len(),
        repos,
        if manifest.members.contains_key("data/tls/ca/root.pem") {
            "yes"
        } else {
            "no"
        },
        if manifest.members.contains_key("data/secret.key") {
            "yes"
        } else {
            "no"
        },
    ));
    for app in &manifest.apps {
        out.push_str(&format!(
            "app {}: {}, {} releases, {} config vars, {} domains{}, {} drains, {} images\n",
            app.name,
            app.current_version
                .map_or_else(|| "no release".to_owned(), |v| format!("v{v}")),
            app.releases,
            app.config_vars,
            app.domains.len(),
            if app.domains.is_empty() {
                String::new()
            } else {
                format!(" ({})", app.domains.join(", "))
            },
            app.drains,
            app.images.len()
        ));
    }
    out
}

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

async fn run_pg(program: &str, args: &[String]) -> anyhow::Result<()> {
    let bin = crate::embedded_pg::bin_dir()?;
    let output = tokio::process::Command::new(bin.join(program))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .with_context(|| format!("running {program}"))?;
    ensure!(
        output.status.success(),
        "{program} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(())
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str()
        .with_context(|| format!("path {} is not UTF-8", path.display()))
}

/// What `GET /metrics` says about scheduled backups.
#[derive(Debug, Default)]
pub struct BackupStatus {
    last_success: std::sync::atomic::AtomicI64,
    failures: std::sync::atomic::AtomicU64,
}

impl BackupStatus {
    pub fn render_metrics(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "# HELP paas_backup_last_success_timestamp Unix time of the last scheduled platform backup that was written and verified (0: none yet).\n\
             # TYPE paas_backup_last_success_timestamp gauge\n\
             paas_backup_last_success_timestamp {}\n\
             # HELP paas_backup_failures_total Scheduled platform backups that failed since paasd started.\n\
             # TYPE paas_backup_failures_total counter\n\
             paas_backup_failures_total {}\n",
            self.last_success.load(Relaxed),
            self.failures.load(Relaxed)
        )
    }
}

const SCHEDULED_PREFIX: &str = "paas-backup-";

/// The scheduled backups in `dir`, oldest first, with their times.
fn scheduled_backups(dir: &Path) -> Vec<(PathBuf, chrono::DateTime<chrono::Utc>)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<_> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stamp = name.strip_prefix(SCHEDULED_PREFIX)?.strip_suffix(".tar")?;
            let at = chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%SZ").ok()?;
            Some((e.path(), at.and_utc()))
        })
        .collect();
    found.sort_by_key(|(_, at)| *at);
    found
}

/// `PAAS_BACKUP_SCHEDULE`: a backup every `every`, the first one `every` after the
/// newest already in `PAAS_BACKUP_DIR` (at once when there is none), so restarts
/// neither skip nor repeat one; the newest `PAAS_BACKUP_KEEP` are kept. A failure is an
/// error line and `paas_backup_failures_total`; `paas_backup_last_success_timestamp`
/// stops moving.
pub async fn run_schedule(
    settings: Settings,
    store: paas_store::Store,
    pg_args: Vec<String>,
    docker: paas_docker::Docker,
    status: std::sync::Arc<BackupStatus>,
    stop: tokio_util::sync::CancellationToken,
) {
    use std::sync::atomic::Ordering::Relaxed;
    let Some(every) = settings.backups.every else {
        return;
    };
    let dir = settings
        .backups
        .dir
        .clone()
        .unwrap_or_else(|| settings.data_dir.join("backups"));
    let every_chrono = chrono::Duration::from_std(every).unwrap_or(chrono::Duration::days(1));
    if let Some((_, at)) = scheduled_backups(&dir).last() {
        status.last_success.store(at.timestamp(), Relaxed);
    }
    tracing::info!(dir = %dir.display(), every_secs = every.as_secs(), keep = settings.backups.keep, "scheduled platform backups");
    loop {
        let next = scheduled_backups(&dir)
            .last()
            .map_or_else(chrono::Utc::now, |(_, at)| *at + every_chrono);
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
        let now = chrono::Utc::now();
        let file = dir.join(format!(
            "{SCHEDULED_PREFIX}{}.tar",
            now.format("%Y%m%dT%H%M%SZ")
        ));
        let started = std::time::Instant::now();
        let result = match std::fs::create_dir_all(&dir) {
            // A shutdown does not wait for a backup: it is cut off and its partial file removed.
            Ok(()) => tokio::select! {
                result = backup_with(&settings, &store, &pg_args, &docker, &file) => result,
                () = stop.cancelled() => {
                    let _ = std::fs::remove_file(format!("{}.partial", file.display()));
                    tracing::warn!(file = %file.display(), "a scheduled backup was cut off by the shutdown");
                    return;
                }
            },
            Err(e) => Err(anyhow::Error::from(e)
                .context(format!("creating PAAS_BACKUP_DIR {}", dir.display()))),
        };
        match result {
            Ok(_) => {
                status.last_success.store(now.timestamp(), Relaxed);
                tracing::info!(file = %file.display(), secs = started.elapsed().as_secs_f64(), "scheduled platform backup written and verified");
                let all = scheduled_backups(&dir);
                for (old, _) in all
                    .iter()
                    .take(all.len().saturating_sub(settings.backups.keep))
                {
                    if let Err(e) = std::fs::remove_file(old) {
                        tracing::warn!(file = %old.display(), error = %e, "could not remove an old scheduled backup");
                    }
                }
            }
            Err(e) => {
                status.failures.fetch_add(1, Relaxed);
                tracing::error!(file = %file.display(), error = %format!("{e:#}"), "scheduled platform backup failed");
                // Not again at once: the next try is one period later.
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(every) => {}
                }
            }
        }
    }
}
