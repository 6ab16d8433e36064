//! `paasd backup --verify`: reads an archive whole (every member against the manifest,
//! the dump through `pg_restore --list`, the saved images) and reports what it holds.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::{Context, bail, ensure};
use serde::Deserialize;

use super::{DATABASE, FORMAT, Hashing, IMAGES, MANIFEST, Manifest, ROOT};

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
pub(super) fn verify_file(file: &Path, extract_to: Option<&Path>) -> anyhow::Result<Manifest> {
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

pub(super) fn report(file: &Path, manifest: &Manifest) -> String {
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
