//! The root of a pushed tree, read from its `git archive` tar: every path, and the text
//! of the few files the version rules read.

use paas_core::langs::{self, SourceFiles};

/// Files larger than this are not read for version requests (a lockfile can be big, the
/// lines read are near its end for Gemfile.lock, so the cap is generous).
const MAX_TEXT: u64 = 4 * 1024 * 1024;

/// The root of a `git archive` tar: every path, and the text of the files
/// [`langs::READ_FILES`] names.
pub fn source_files(archive: &[u8]) -> std::io::Result<SourceFiles> {
    use std::io::Read;
    let mut files = SourceFiles::default();
    let mut tar = tar::Archive::new(archive);
    for entry in tar.entries()? {
        let mut entry = entry?;
        if matches!(
            entry.header().entry_type(),
            tar::EntryType::XGlobalHeader | tar::EntryType::XHeader
        ) {
            continue;
        }
        let path = entry.path()?.to_string_lossy().into_owned();
        let name = path.trim_start_matches("./").to_owned();
        if langs::READ_FILES.contains(&name.as_str())
            && entry.header().entry_type().is_file()
            && entry.size() <= MAX_TEXT
        {
            let mut text = String::new();
            if entry.read_to_string(&mut text).is_ok() {
                files.add_text(&name, text);
                continue;
            }
        }
        files.add_path(&name);
    }
    Ok(files)
}
