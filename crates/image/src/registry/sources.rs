//! Which registry repositories are known to hold each blob (`<store>/registry/sources.json`),
//! so that a push can ask the registry to mount a blob from a sibling repository instead of
//! uploading it again.
//!
//! It is only a hint: a stale entry costs an upload, never correctness, because the
//! registry checks every mount. Updates are read-modify-write under the store's
//! `locks/sources.lock` and replace the file atomically.

use crate::store::Store;
use anyhow::{Context, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

/// Serialises this process's read-modify-write cycles of the file (the file lock is per
/// open file, so threads of one process need this too).
static WRITE_LOCK: Mutex<()> = Mutex::new(());

/// The blob → repositories map of one store.
pub struct BlobSources {
    store: Store,
    path: PathBuf,
}

impl BlobSources {
    /// The map kept under the store root.
    pub fn new(store: &Store) -> BlobSources {
        BlobSources {
            store: store.clone(),
            path: store.registry_sources_path(),
        }
    }

    /// The repositories (`domain/path`) known to hold `digest`.
    pub fn repositories(&self, digest: &str) -> Result<BTreeSet<String>> {
        Ok(self.load()?.remove(digest).unwrap_or_default())
    }

    /// Records that `repository` (`domain/path`) holds each of `digests`.
    pub fn record<'a>(
        &self,
        repository: &str,
        digests: impl IntoIterator<Item = &'a str>,
    ) -> Result<()> {
        let _guard = WRITE_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let _lock = self.store.lock_exclusive("sources")?;
        let mut map = self.load()?;
        for digest in digests {
            map.entry(digest.to_string())
                .or_default()
                .insert(repository.to_string());
        }
        self.store
            .replace_file(&self.path, &serde_json::to_vec(&map)?)
    }

    fn load(&self) -> Result<BTreeMap<String, BTreeSet<String>>> {
        match std::fs::read(&self.path) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(e).with_context(|| format!("reading {}", self.path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_accumulate_per_blob() {
        let dir = tempfile::tempdir().unwrap();
        let sources = BlobSources::new(&Store::open(dir.path()).unwrap());
        assert!(sources.repositories("sha256:a").unwrap().is_empty());
        sources
            .record("r:5000/one", ["sha256:a", "sha256:b"])
            .unwrap();
        sources.record("r:5000/two", ["sha256:a"]).unwrap();
        let a: Vec<_> = sources
            .repositories("sha256:a")
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(a, ["r:5000/one", "r:5000/two"]);
        assert_eq!(sources.repositories("sha256:b").unwrap().len(), 1);
    }
}
