//! Garbage collection: mark everything reachable from `index.json` and the cache
//! index, sweep the rest (blobs, snapshots of gone layers, dead cache entries,
//! abandoned temp entries). Runs under the exclusive GC lock.

use super::fsutil::{disk_usage, is_abandoned, FileLock};
use super::{index, Store};
use anyhow::{Context, Result};
use oci_spec::image::Digest;
use std::collections::HashSet;
use std::str::FromStr;

/// What [`Store::prune`] removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Unreachable blobs deleted.
    pub blobs_removed: usize,
    /// Their total size.
    pub blob_bytes_freed: u64,
    /// Snapshots deleted because their layer blob is gone.
    pub snapshots_removed: usize,
    /// Their total size on disk.
    pub snapshot_bytes_freed: u64,
    /// Cache entries deleted because their manifest is gone or they were corrupt.
    pub cache_entries_removed: usize,
    /// Temp files and directories left behind by killed processes.
    pub temp_entries_removed: usize,
}

pub(crate) fn run(store: &Store) -> Result<PruneReport> {
    let mut report = PruneReport::default();
    remove_abandoned_temps(store, &mut report)?;

    let mut roots: Vec<Digest> = index::read(store)?
        .manifests()
        .iter()
        .map(|d| d.digest().clone())
        .collect();
    roots.extend(live_cache_roots(store, &mut report)?);
    let reachable = mark(store, roots);

    for entry in read_dir(&store.blobs_dir())? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !reachable.contains(&name) {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove blob {}", entry.path().display()))?;
            report.blobs_removed += 1;
            report.blob_bytes_freed += size;
        }
    }
    for entry in read_dir(&store.snapshots_dir())? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if reachable.contains(&name) {
            continue;
        }
        let lock = store.locks_dir().join(format!("snapshot-{name}.lock"));
        if FileLock::try_exclusive(&lock)?.is_none() {
            continue; // being extracted right now
        }
        report.snapshot_bytes_freed += disk_usage(&entry.path());
        std::fs::remove_dir_all(entry.path())
            .with_context(|| format!("cannot remove snapshot {}", entry.path().display()))?;
        let _ = std::fs::remove_file(&lock);
        report.snapshots_removed += 1;
    }
    Ok(report)
}

fn read_dir(dir: &std::path::Path) -> Result<Vec<std::fs::DirEntry>> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    Ok(rd.flatten().collect())
}

fn remove_abandoned_temps(store: &Store, report: &mut PruneReport) -> Result<()> {
    for entry in read_dir(&store.tmp_dir())? {
        let path = entry.path();
        if !is_abandoned(&path)? {
            continue;
        }
        let removed = if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.with_context(|| format!("cannot remove stale temp entry {}", path.display()))?;
        report.temp_entries_removed += 1;
    }
    Ok(())
}

/// The manifests cache entries point at; entries that are corrupt or point at a
/// missing manifest are deleted.
fn live_cache_roots(store: &Store, report: &mut PruneReport) -> Result<Vec<Digest>> {
    let mut out = Vec::new();
    for entry in read_dir(&store.cache_dir())? {
        let digest = std::fs::read_to_string(entry.path())
            .ok()
            .and_then(|t| Digest::from_str(t.trim()).ok())
            .filter(|d| store.has_blob(d));
        match digest {
            Some(d) => out.push(d),
            None => {
                std::fs::remove_file(entry.path()).with_context(|| {
                    format!("cannot remove cache entry {}", entry.path().display())
                })?;
                report.cache_entries_removed += 1;
            }
        }
    }
    Ok(out)
}

/// Hex digests of every blob reachable from `roots` (manifests or indexes):
/// indexes → manifests, manifests → config and layers. Children missing from
/// the store (other platforms of a pulled index) are simply not there to keep.
fn mark(store: &Store, roots: Vec<Digest>) -> HashSet<String> {
    let mut reachable = HashSet::new();
    let mut stack = roots;
    while let Some(digest) = stack.pop() {
        if !reachable.insert(digest.digest().to_string()) {
            continue;
        }
        let Ok(bytes) = store.read_blob(&digest) else {
            continue;
        };
        let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let digest_of = |v: &serde_json::Value| {
            v.get("digest")
                .and_then(|d| d.as_str())
                .and_then(|d| Digest::from_str(d).ok())
        };
        // manifests of an index are walked; config and layers are leaves
        if let Some(children) = doc.get("manifests").and_then(|m| m.as_array()) {
            stack.extend(children.iter().filter_map(digest_of));
        }
        let leaves = doc.get("config").into_iter().chain(
            doc.get("layers")
                .and_then(|l| l.as_array())
                .into_iter()
                .flatten(),
        );
        for leaf in leaves {
            if let Some(d) = digest_of(leaf) {
                reachable.insert(d.digest().to_string());
            }
        }
    }
    reachable
}
