//! The snapshot directories: each layer blob extracted once, under a lock, into a temp dir
//! that is renamed into place — or, for a layer a build step just made, the step's own
//! directory adopted as it is ([`adopt`]), so its files are written once and never deleted
//! and extracted again. What extracting means (applying the layer tar, overlay-ready) is
//! given by the caller, the layer module: the store keeps the directories and never imports
//! the layer codec, which writes its layers into the store.
//!
//! Durability without `syncfs`: syncing a snapshot's thousands of files one by one is slow,
//! and `syncfs` writes back every dirty page of the whole filesystem (other builds', other
//! programs'), which takes seconds on a busy disk and made build times depend on what ran
//! before. A snapshot is only a copy of its blob, which is fsync'd, so instead a marker
//! `snapshots/unsynced/<hex>` holding the kernel's boot id is written (and fsync'd) before
//! the directory is renamed into place. Within the same boot the page cache holds whatever
//! the disk may not have yet, so the snapshot is whole; after a reboot (a crash or a power
//! loss may have cut its files short) a snapshot whose marker names another boot, or holds
//! no boot id, is extracted again. Where the boot id cannot be read, `syncfs` it is.

use super::fsutil::{create_locked_temp_dir, fsync_dir, FileLock};
use super::layout::Store;
use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, DigestAlgorithm};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The kernel's id of this boot, where it can be read.
fn boot_id() -> Option<String> {
    let id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").ok()?;
    let id = id.trim();
    (!id.is_empty()).then(|| id.to_string())
}

/// The marker of the snapshot named `hex`.
fn marker(store: &Store, hex: &str) -> PathBuf {
    store.unsynced_snapshots_dir().join(hex)
}

/// Whether the snapshot at `dest` (named `hex`) can be used: it exists and either has no
/// marker (it was synced) or its marker names this boot.
fn usable(store: &Store, hex: &str, dest: &Path) -> bool {
    if !dest.is_dir() {
        return false;
    }
    match std::fs::read_to_string(marker(store, hex)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(_) => false,
        Ok(text) => boot_id().is_some_and(|id| text.trim() == id),
    }
}

/// Puts aside a snapshot that may be incomplete (its marker names another boot) and removes
/// its marker. It is moved into `tmp/`, unlocked, where `prune` deletes it: deleting
/// thousands of files that reached the disk is slow, and a build need not wait for it.
fn discard_stale(store: &Store, hex: &str, dest: &Path) -> Result<()> {
    if dest.exists() {
        let aside = store
            .tmp_dir()
            .join(super::fsutil::unique_name(&format!("stale-snapshot-{hex}")));
        std::fs::rename(dest, &aside)
            .with_context(|| format!("cannot move the stale snapshot {}", dest.display()))?;
    }
    remove_marker(store, hex)
}

/// Makes the directory `tmp` (on the store's filesystem) the snapshot `dest` named `hex`:
/// marked unsynced for this boot (or synced with `syncfs` where the boot id is unknown),
/// renamed into place, and the snapshots directory fsync'd.
fn install(store: &Store, hex: &str, tmp: &Path, dest: &Path) -> Result<()> {
    match boot_id() {
        Some(id) => {
            let path = marker(store, hex);
            let mut f =
                File::create(&path).with_context(|| format!("cannot write {}", path.display()))?;
            f.write_all(id.as_bytes())?;
            f.sync_all().context("cannot fsync a snapshot marker")?;
            fsync_dir(&store.unsynced_snapshots_dir())?;
        }
        None => {
            let dir = File::open(tmp).with_context(|| format!("cannot open {}", tmp.display()))?;
            rustix::fs::syncfs(&dir).context("cannot sync the snapshot to disk")?;
        }
    }
    std::fs::rename(tmp, dest)
        .with_context(|| format!("cannot move snapshot into {}", dest.display()))?;
    fsync_dir(&store.snapshots_dir())
}

/// The snapshot name of `layer` (its sha256 hex) and its directory.
fn name_and_dir(store: &Store, layer: &Descriptor) -> Result<(String, PathBuf)> {
    let digest = layer.digest();
    if *digest.algorithm() != DigestAlgorithm::Sha256 {
        bail!("layer {digest}: only sha256 layers are supported");
    }
    let hex = digest.digest().to_string();
    let dest = store.snapshots_dir().join(&hex);
    Ok((hex, dest))
}

/// Returns the snapshot directory of `layer`, extracting it first if needed with `extract`
/// (the layer blob, the empty directory to fill). Extraction goes into a locked temp dir
/// that is renamed into place, under a per-snapshot lock so that concurrent builds extract
/// a layer once.
pub(crate) fn ensure(
    store: &Store,
    layer: &Descriptor,
    extract: impl FnOnce(File, &Path) -> Result<()>,
) -> Result<PathBuf> {
    let (hex, dest) = name_and_dir(store, layer)?;
    if usable(store, &hex, &dest) {
        return Ok(dest);
    }
    let _lock = FileLock::acquire(
        &store.locks_dir().join(format!("snapshot-{hex}.lock")),
        true,
    )?;
    if usable(store, &hex, &dest) {
        return Ok(dest); // another process extracted it while we waited
    }
    discard_stale(store, &hex, &dest)?;
    let digest = layer.digest();
    let blob = std::fs::File::open(store.blob_path(digest))
        .with_context(|| format!("layer {digest} is not in the store: pull the image again"))?;
    // locked: live for prune
    let (_dir, tmp) = create_locked_temp_dir(&store.tmp_dir(), &format!("snapshot-{hex}"))?;
    let result = (|| {
        extract(blob, &tmp).with_context(|| format!("cannot extract layer {digest}"))?;
        install(store, &hex, &tmp, &dest)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(dest)
}

/// Makes `dir` (a directory on the store's filesystem holding exactly what extracting
/// `layer` would give, overlay-ready) the snapshot of `layer`, instead of extracting the
/// blob again later. Returns false, leaving `dir` where it is, when the layer has a snapshot
/// already.
pub(crate) fn adopt(store: &Store, layer: &Descriptor, dir: &Path) -> Result<bool> {
    let (hex, dest) = name_and_dir(store, layer)?;
    if usable(store, &hex, &dest) {
        return Ok(false);
    }
    let _lock = FileLock::acquire(
        &store.locks_dir().join(format!("snapshot-{hex}.lock")),
        true,
    )?;
    if usable(store, &hex, &dest) {
        return Ok(false);
    }
    discard_stale(store, &hex, &dest)?;
    install(store, &hex, dir, &dest)?;
    Ok(true)
}

/// `prune`'s part, with the snapshot `hex` locked: removes its marker (its directory was
/// just removed, or never got into place).
pub(crate) fn remove_marker(store: &Store, hex: &str) -> Result<()> {
    match std::fs::remove_file(marker(store, hex)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).context("cannot remove a snapshot marker")
        }
        _ => Ok(()),
    }
}

/// `prune`'s part: the markers whose snapshot is not there (a rename that failed), each
/// under its snapshot's lock so that an extraction in progress keeps its marker.
pub(crate) fn remove_orphan_markers(store: &Store) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(store.unsynced_snapshots_dir()) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let hex = entry.file_name().to_string_lossy().into_owned();
        let lock = store.locks_dir().join(format!("snapshot-{hex}.lock"));
        let Some(_held) = FileLock::try_exclusive(&lock)? else {
            continue;
        };
        if !store.snapshots_dir().join(&hex).exists() {
            remove_marker(store, &hex)?;
        }
    }
    Ok(())
}
