//! The pushed source as a tar for the build container.

use paas_docker::BUILD_USER;

/// Rewrites `git archive` output so every entry sits under `prefix/` and belongs to the
/// build user: the compile step runs unprivileged and must own the tree it builds in.
pub fn retarget(archive: &[u8], prefix: &str) -> std::io::Result<Vec<u8>> {
    let mut input = tar::Archive::new(archive);
    let mut output = tar::Builder::new(Vec::new());
    output.mode(tar::HeaderMode::Deterministic);
    let mut root = tar::Header::new_gnu();
    root.set_entry_type(tar::EntryType::Directory);
    root.set_mode(0o755);
    root.set_uid(u64::from(BUILD_USER));
    root.set_gid(u64::from(BUILD_USER));
    root.set_size(0);
    output.append_data(&mut root, format!("{prefix}/"), std::io::empty())?;
    for entry in input.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.into_owned();
        // git archive's global pax header (the commit id) is not a file.
        if matches!(
            entry.header().entry_type(),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let mut header = entry.header().clone();
        header.set_uid(u64::from(BUILD_USER));
        header.set_gid(u64::from(BUILD_USER));
        let target = std::path::Path::new(prefix).join(&path);
        if header.entry_type().is_symlink() {
            let link = entry
                .link_name()?
                .map(|l| l.into_owned())
                .unwrap_or_default();
            output.append_link(&mut header, &target, link)?;
        } else {
            output.append_data(&mut header, &target, &mut entry)?;
        }
    }
    output.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_move_under_the_prefix_and_belong_to_the_build_user() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o755);
        h.set_uid(0);
        b.append_data(&mut h, "bin/run", &b"hello"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let out = retarget(&tar, "app").unwrap();
        let mut archive = tar::Archive::new(&out[..]);
        let entries: Vec<(String, u64, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().uid().unwrap(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            entries,
            [
                ("app/".into(), 1000, 0o755),
                ("app/bin/run".into(), 1000, 0o755)
            ]
        );
    }
}
