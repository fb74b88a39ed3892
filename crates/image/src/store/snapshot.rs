//! The snapshot directories: each layer blob extracted once, under a lock, into a temp dir
//! that is synced and renamed into place. What extracting means (applying the layer tar,
//! overlay-ready) is given by the caller, the layer module: the store keeps the directories
//! and never imports the layer codec, which writes its layers into the store.

use super::fsutil::{create_locked_temp_dir, fsync_dir, FileLock};
use super::layout::Store;
use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, DigestAlgorithm};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Returns the snapshot directory of `layer`, extracting it first if needed with `extract`
/// (the layer blob, the empty directory to fill). Extraction goes into a locked temp dir
/// that is synced and renamed into place, under a per-snapshot lock so that concurrent
/// builds extract a layer once.
pub(crate) fn ensure(
    store: &Store,
    layer: &Descriptor,
    extract: impl FnOnce(File, &Path) -> Result<()>,
) -> Result<PathBuf> {
    let digest = layer.digest();
    if *digest.algorithm() != DigestAlgorithm::Sha256 {
        bail!("layer {digest}: only sha256 layers are supported");
    }
    let hex = digest.digest();
    let dest = store.snapshots_dir().join(hex);
    if dest.is_dir() {
        return Ok(dest);
    }
    let _lock = FileLock::acquire(
        &store.locks_dir().join(format!("snapshot-{hex}.lock")),
        true,
    )?;
    if dest.is_dir() {
        return Ok(dest); // another process extracted it while we waited
    }
    let blob = std::fs::File::open(store.blob_path(digest))
        .with_context(|| format!("layer {digest} is not in the store: pull the image again"))?;
    // locked: live for prune
    let (dir, tmp) = create_locked_temp_dir(&store.tmp_dir(), &format!("snapshot-{hex}"))?;
    let result = (|| {
        extract(blob, &tmp).with_context(|| format!("cannot extract layer {digest}"))?;
        rustix::fs::syncfs(&dir).context("cannot sync the extracted layer to disk")?;
        std::fs::rename(&tmp, &dest)
            .with_context(|| format!("cannot move snapshot into {}", dest.display()))?;
        fsync_dir(&store.snapshots_dir())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    Ok(dest)
}
