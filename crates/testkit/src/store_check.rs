//! Checks of a skiff store from the outside, for tests that end with "the store is still
//! consistent" (after concurrent builds, a killed build or pull, `prune`) or that look for
//! what skiff wrote in it (a secret must be in no file).

use crate::layout::sha256_digest;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The blob names (hex digests) in the store at `root`; panics when it has no
/// `blobs/sha256`.
pub fn blob_names(root: &Path) -> BTreeSet<String> {
    std::fs::read_dir(root.join("blobs/sha256"))
        .unwrap_or_else(|e| panic!("{} has no blobs/sha256: {e}", root.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Asserts that every blob of the store at `root` hashes to its name (no torn or foreign
/// blob under a digest).
pub fn assert_blobs_verify(root: &Path) {
    for name in blob_names(root) {
        let data = std::fs::read(root.join("blobs/sha256").join(&name)).unwrap();
        assert_eq!(
            sha256_digest(&data),
            format!("sha256:{name}"),
            "blob {name} of {} does not hash to its name",
            root.display()
        );
    }
}

/// Every regular file under `dir`, recursively (symlinks are not followed; an unreadable or
/// missing directory holds nothing).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            out.extend(files_under(&path));
        } else if meta.is_file() {
            out.push(path);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store whose only blob is `data` under the name `name` (its digest, or not).
    fn store_with_blob(name: &str, data: &[u8]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("blobs/sha256")).unwrap();
        std::fs::write(root.path().join("blobs/sha256").join(name), data).unwrap();
        root
    }

    #[test]
    fn a_blob_named_by_its_digest_verifies() {
        let hex = &sha256_digest(b"blob")["sha256:".len()..];
        let root = store_with_blob(hex, b"blob");
        assert_eq!(blob_names(root.path()), BTreeSet::from([hex.to_string()]));
        assert_blobs_verify(root.path());
    }

    #[test]
    #[should_panic(expected = "does not hash to its name")]
    fn a_torn_blob_fails_the_check() {
        let hex = &sha256_digest(b"blob")["sha256:".len()..];
        let root = store_with_blob(hex, b"blo");
        assert_blobs_verify(root.path());
    }

    #[test]
    fn files_under_lists_regular_files_only_and_does_not_follow_links() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("top"), "t").unwrap();
        std::fs::write(dir.join("a/b/deep"), "d").unwrap();
        std::os::unix::fs::symlink(dir.join("a"), dir.join("link")).unwrap();
        let mut files = files_under(dir);
        files.sort();
        assert_eq!(files, [dir.join("a/b/deep"), dir.join("top")]);
        assert!(files_under(&dir.join("missing")).is_empty());
    }
}
