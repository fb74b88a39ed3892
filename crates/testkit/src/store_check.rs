//! Checks of a skiff store from the outside, for tests that end with "the store is still
//! consistent" (after concurrent builds, a killed build or pull, `prune`) or that look for
//! what skiff wrote in it (a secret must be in no file).

use crate::layout::sha256_digest;
use serde_json::Value;
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

/// What is wrong with the store at `root`, one line per problem (empty: consistent), for a
/// campaign that counts inconsistent stores instead of stopping at the first: `index.json`
/// parses; every blob hashes to its name; every image `index.json` names has its manifest,
/// and that manifest its config and layers (an index, its manifests); every build cache entry
/// is one whole digest.
pub fn problems(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let blobs = root.join("blobs/sha256");
    for name in blob_names(root) {
        match std::fs::read(blobs.join(&name)) {
            Ok(data) if sha256_digest(&data) == format!("sha256:{name}") => {}
            Ok(_) => out.push(format!("blob {name} does not hash to its name")),
            Err(e) => out.push(format!("blob {name} cannot be read: {e}")),
        }
    }
    let index = std::fs::read(root.join("index.json"))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()));
    match index {
        Ok(index) => {
            for desc in index["manifests"].as_array().into_iter().flatten() {
                check_manifest(root, desc, &mut out);
            }
        }
        Err(e) => out.push(format!("index.json does not parse: {e}")),
    }
    for entry in files_under(&root.join("cache")) {
        let text = std::fs::read_to_string(&entry).unwrap_or_default();
        let digest = text.trim();
        let whole = digest.len() == 71
            && digest.starts_with("sha256:")
            && digest[7..].bytes().all(|b| b.is_ascii_hexdigit());
        if !whole {
            out.push(format!("cache entry {} is torn: {text:?}", entry.display()));
        }
    }
    out
}

/// The problems of the manifest (or index) `desc` names and of what it refers to.
fn check_manifest(root: &Path, desc: &Value, out: &mut Vec<String>) {
    let digest = desc["digest"].as_str().unwrap_or_default();
    let path = root
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    let manifest = std::fs::read(&path)
        .map_err(|_| "is missing".to_string())
        .and_then(|b| {
            serde_json::from_slice::<Value>(&b).map_err(|e| format!("does not parse: {e}"))
        });
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) => {
            out.push(format!("manifest {digest} {e}"));
            return;
        }
    };
    for child in manifest["manifests"].as_array().into_iter().flatten() {
        check_manifest(root, child, out);
    }
    let config = manifest.get("config").into_iter();
    for blob in config.chain(manifest["layers"].as_array().into_iter().flatten()) {
        let d = blob["digest"].as_str().unwrap_or_default();
        if !root
            .join("blobs/sha256")
            .join(d.trim_start_matches("sha256:"))
            .is_file()
        {
            out.push(format!("manifest {digest}: blob {d} is missing"));
        }
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

    #[test]
    fn problems_names_a_torn_blob_a_missing_layer_and_a_torn_cache_entry() {
        let hex = &sha256_digest(b"blob")["sha256:".len()..];
        let root = store_with_blob(hex, b"blo");
        let missing = format!("sha256:{}", "a".repeat(64));
        let manifest = serde_json::json!({"config": {"digest": format!("sha256:{hex}")},
            "layers": [{"digest": missing}]});
        let bytes = serde_json::to_vec(&manifest).unwrap();
        let m = sha256_digest(&bytes);
        std::fs::write(root.path().join("blobs/sha256").join(&m[7..]), &bytes).unwrap();
        let index = serde_json::json!({"manifests": [{"digest": m}]});
        std::fs::write(root.path().join("index.json"), index.to_string()).unwrap();
        std::fs::create_dir_all(root.path().join("cache")).unwrap();
        std::fs::write(root.path().join("cache/k"), "sha256:ab").unwrap();
        let found = problems(root.path());
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].contains("does not hash"), "{found:?}");
        assert!(found[1].contains(&missing), "{found:?}");
        assert!(found[2].contains("torn"), "{found:?}");
    }
}
