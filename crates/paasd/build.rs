//! Embeds the bundled buildpacks (`buildpacks/` at the workspace root) into paasd, so an
//! installed binary needs no checkout beside it (`paasd::buildpacks` unpacks them).
//!
//! Writes `$OUT_DIR/buildpacks.rs`: `FILES`, one `(relative path, mode, bytes)` per file,
//! sorted by path so the content hash is stable.

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn main() {
    // Read when the script runs, not baked in when it is compiled: cargo reuses a build
    // script's binary across checkouts of the workspace at other paths (one target dir
    // for several clones), and a baked-in path would read another clone's buildpacks.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let root = Path::new(&manifest).join("../../buildpacks");
    // A directory is scanned whole for changes.
    println!("cargo:rerun-if-changed={}", root.display());
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("pub(crate) static FILES: &[(&str, u32, &[u8])] = &[\n");
    for (relative, mode, absolute) in &files {
        writeln!(
            out,
            "    ({relative:?}, 0o{mode:o}, include_bytes!({:?})),",
            absolute.display().to_string()
        )
        .expect("write to a String");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR")).join("buildpacks.rs");
    std::fs::write(dest, out).expect("write buildpacks.rs");
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, u32, PathBuf)>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let path = entry.path();
        let meta = std::fs::metadata(&path).expect("metadata");
        if meta.is_dir() {
            walk(root, &path, files);
        } else if meta.is_file() {
            let relative = path
                .strip_prefix(root)
                .expect("under the root")
                .to_str()
                .expect("buildpack paths are UTF-8")
                .to_owned();
            let canonical = std::fs::canonicalize(&path).expect("canonical path");
            files.push((relative, meta.permissions().mode() & 0o777, canonical));
        }
    }
}
