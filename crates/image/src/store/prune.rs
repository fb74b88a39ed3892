//! Garbage collection, in two parts. What has its own liveness rule goes first, without
//! waiting for anyone: temp entries of dead processes (their `flock` is free) and stat
//! caches of contexts that are gone. Then, under the exclusive GC lock (so after every
//! running build and pull), mark everything reachable from `index.json` and the cache
//! index and sweep the rest (blobs, snapshots of gone layers, dead cache entries).

use super::fsutil::{claim_abandoned, disk_usage, FileLock};
use super::index;
use super::layout::Store;
use crate::model::Document;
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
    /// Cache entries deleted because their manifest is gone or they were corrupt, and
    /// verification records whose layers are gone.
    pub cache_entries_removed: usize,
    /// Temp files and directories left behind by killed processes.
    pub temp_entries_removed: usize,
    /// Stat caches of context directories that no longer exist.
    pub stat_caches_removed: usize,
}

/// The part that needs no GC lock: every entry here proves its own liveness.
pub(crate) fn remove_stale(store: &Store, report: &mut PruneReport) -> Result<()> {
    remove_abandoned_temps(store, report)?;
    for entry in read_dir(&store.stat_cache_dir())? {
        let path = entry.path();
        if super::statcache::is_stale(&path) {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove stale stat cache {}", path.display()))?;
            report.stat_caches_removed += 1;
        }
    }
    Ok(())
}

/// The mark and sweep, under the exclusive GC lock.
pub(crate) fn run(store: &Store, report: &mut PruneReport) -> Result<()> {
    let mut roots: Vec<Digest> = index::read(store)?
        .manifests
        .iter()
        .map(|d| d.digest().clone())
        .collect();
    roots.extend(live_cache_roots(store, report)?);
    let reachable = mark(store, roots);
    report.cache_entries_removed += super::verified::remove_dead(store, &reachable)?;
    sweep(store, &reachable, report)
}

fn sweep(store: &Store, reachable: &HashSet<String>, report: &mut PruneReport) -> Result<()> {
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
        super::snapshot::remove_marker(store, &name)?;
        let _ = std::fs::remove_file(&lock);
        report.snapshots_removed += 1;
    }
    super::snapshot::remove_orphan_markers(store)
}

fn read_dir(dir: &std::path::Path) -> Result<Vec<std::fs::DirEntry>> {
    let rd = std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    Ok(rd.flatten().collect())
}

fn remove_abandoned_temps(store: &Store, report: &mut PruneReport) -> Result<()> {
    for entry in read_dir(&store.tmp_dir())? {
        let path = entry.path();
        let Some(_claimed) = claim_abandoned(&path)? else {
            continue;
        };
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
        match store.read_document(&digest) {
            // manifests of an index are walked; config and layers are leaves
            Ok(Document::Index(index)) => {
                stack.extend(index.manifests.iter().map(|d| d.digest().clone()));
            }
            Ok(Document::Manifest(manifest)) => {
                reachable.extend(manifest.blobs().map(|d| d.digest().digest().to_string()));
            }
            Err(_) => {}
        }
    }
    reachable
}
