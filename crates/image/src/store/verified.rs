//! `verified/<key>.json`: what the final-image verification found for one final image. A
//! rebuild whose final image is the same (every step cached) finds it here instead of mounting
//! and reading the image again. The key is the caller's (a hash of everything the result
//! depends on); the store reads only the layers each record names, to drop the record with
//! them in [`Store::prune`].

use super::fsutil::atomic_write;
use super::layout::Store;
use anyhow::Result;
use oci_spec::image::Digest;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;

/// One record: the layers it was computed from and the caller's result.
#[derive(Serialize, Deserialize)]
struct Record {
    layers: Vec<Digest>,
    result: Value,
}

impl Store {
    /// The result stored under `key`; `None` when there is none or it cannot be read (the
    /// caller then verifies again).
    pub fn verified_get(&self, key: &str) -> Option<Value> {
        let bytes = std::fs::read(self.verified_path(key)?).ok()?;
        let record: Record = serde_json::from_slice(&bytes).ok()?;
        Some(record.result)
    }

    /// Stores `result` under `key`, kept while every one of `layers` is kept.
    pub fn verified_put(&self, key: &str, layers: &[Digest], result: Value) -> Result<()> {
        let Some(path) = self.verified_path(key) else {
            anyhow::bail!("a verification key is lowercase hex, not {key:?}");
        };
        let record = Record {
            layers: layers.to_vec(),
            result,
        };
        atomic_write(&self.tmp_dir(), &path, &serde_json::to_vec(&record)?)
    }

    /// Keys are hex: nothing else can name a path.
    fn verified_path(&self, key: &str) -> Option<std::path::PathBuf> {
        let hex = !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit());
        hex.then(|| self.verified_dir().join(format!("{key}.json")))
    }
}

/// Removes the records that name a layer outside `reachable` (hex digests), or that cannot be
/// read; returns how many.
pub(super) fn remove_dead(store: &Store, reachable: &HashSet<String>) -> Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(store.verified_dir())?.flatten() {
        let record: Option<Record> = std::fs::read(entry.path())
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        let live =
            record.is_some_and(|r| (r.layers.iter()).all(|l| reachable.contains(l.digest())));
        if !live {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}
