//! The bundled buildpacks, embedded in the binary at compile time (`build.rs`) and
//! unpacked under `$PAAS_DATA_DIR/buildpacks/<content hash>` at start, so paasd builds
//! apps the same wherever it was started from and whatever was installed beside it.
//!
//! The directory is named by the hash of what is embedded: an upgraded paasd unpacks its
//! own set next to the old one (written to a temporary name, then renamed, so a crash
//! half-way never leaves a partial set in place) and removes the sets of other versions.
//! `PAAS_BUILDPACKS_DIR` replaces all of this with a directory the operator keeps.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::Context;
use sha2::{Digest, Sha256};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/buildpacks.rs"));
}

/// The embedded files: relative path, Unix mode, content.
pub fn files() -> &'static [(&'static str, u32, &'static [u8])] {
    embedded::FILES
}

/// A short hash of every embedded path, mode and content.
pub fn content_hash() -> String {
    let mut hasher = Sha256::new();
    for (path, mode, bytes) in files() {
        hasher.update(path.as_bytes());
        hasher.update([0]);
        hasher.update(mode.to_le_bytes());
        hasher.update((bytes.len() as u64).to_le_bytes());
        hasher.update(bytes);
    }
    hex::encode(&hasher.finalize()[..8])
}

/// Unpacks the embedded buildpacks under `data_dir/buildpacks` (once per content hash)
/// and answers the directory to mount into build containers.
pub fn unpack(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let parent = data_dir.join("buildpacks");
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    // Build containers run as uid 1000 and read (and run) these files.
    std::fs::set_permissions(&parent, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("chmod {}", parent.display()))?;
    let hash = content_hash();
    let target = parent.join(&hash);
    if !target.is_dir() {
        let staging = parent.join(format!(".{hash}.{}", std::process::id()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging)
                .with_context(|| format!("removing {}", staging.display()))?;
        }
        write_all(&staging)?;
        std::fs::rename(&staging, &target)
            .with_context(|| format!("renaming {} into place", staging.display()))?;
    }
    // Sets of other versions (and staging leftovers of crashed starts) go.
    for entry in std::fs::read_dir(&parent)?.flatten() {
        if entry.file_name() != std::ffi::OsStr::new(&hash) {
            let path = entry.path();
            if let Err(e) = std::fs::remove_dir_all(&path) {
                tracing::warn!(dir = %path.display(), error = %e, "could not remove an old buildpack set");
            }
        }
    }
    Ok(target)
}

fn write_all(root: &Path) -> anyhow::Result<()> {
    for (relative, mode, bytes) in files() {
        let path = root.join(relative);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(*mode | 0o444)
            .open(&path)
            .with_context(|| format!("writing {}", path.display()))?;
        file.write_all(bytes)
            .with_context(|| format!("writing {}", path.display()))?;
        // The umask may have narrowed the mode given at creation.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(*mode | 0o444))?;
    }
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
        for entry in std::fs::read_dir(&dir)?.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                dirs.push(entry.path());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bundled_buildpack_is_embedded_with_its_executable_bits() {
        for name in ["python", "nodejs", "static", "procfile"] {
            for script in ["detect", "compile", "release"] {
                let path = format!("{name}/bin/{script}");
                let (_, mode, bytes) = files()
                    .iter()
                    .find(|(p, _, _)| *p == path)
                    .unwrap_or_else(|| panic!("{path} is not embedded"));
                assert!(mode & 0o111 != 0, "{path} is not executable");
                assert!(bytes.starts_with(b"#!"), "{path} has no shebang");
            }
        }
    }

    #[test]
    fn unpacking_writes_one_set_per_version_and_removes_others() {
        let data = tempfile::tempdir().unwrap();
        let stale = data.path().join("buildpacks/0123456789abcdef");
        std::fs::create_dir_all(stale.join("python/bin")).unwrap();
        let dir = unpack(data.path()).unwrap();
        assert_eq!(dir, data.path().join("buildpacks").join(content_hash()));
        assert!(!stale.exists(), "another version's set is removed");
        let compile = dir.join("procfile/bin/compile");
        let mode = std::fs::metadata(&compile).unwrap().permissions().mode();
        assert!(mode & 0o111 != 0, "{mode:o}");
        let embedded = files()
            .iter()
            .find(|(p, _, _)| *p == "procfile/bin/compile")
            .unwrap();
        assert_eq!(std::fs::read(&compile).unwrap(), embedded.2);
        // A second start reuses the set.
        std::fs::write(dir.join("marker"), "x").unwrap();
        assert_eq!(unpack(data.path()).unwrap(), dir);
        assert!(dir.join("marker").exists());
    }
}
