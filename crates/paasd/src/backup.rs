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
//!
//! Where each part is: this file holds the archive's format (member names, `Manifest`)
//! and what both directions share (`Hashing`, running the Postgres tools); `make`
//! writes an archive, `verify` reads one back (`--verify`, and before a restore),
//! `restore` puts one back, `schedule` runs the scheduled backups (`PAAS_BACKUP_*`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use anyhow::{Context, ensure};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

mod make;
mod restore;
mod schedule;
mod verify;

pub use make::{backup, backup_with};
pub use restore::restore;
pub use schedule::{BackupStatus, run_schedule};
pub use verify::verify;

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
