//! Giving a step a writable root filesystem and turning what it changed into a layer:
//! the parent's layers (extracted once in the store) as overlay lower dirs, a fresh upper
//! dir that captures the change, and the upper dir written out as a deterministic layer.

use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_image::Store;
use skiff_sandbox::Overlay;
use std::path::{Path, PathBuf};

/// A layer a step produced: the compressed blob and its uncompressed digest.
#[derive(Clone, Debug)]
pub struct NewLayer {
    /// The blob in the store.
    pub descriptor: Descriptor,
    /// `sha256:…` of the uncompressed tar (for `rootfs.diff_ids`).
    pub diff_id: String,
}

/// How layers are written.
#[derive(Clone, Debug, Default)]
pub struct LayerOptions {
    /// `zstd` instead of gzip.
    pub zstd: bool,
    /// `SOURCE_DATE_EPOCH`: file times in layers are clamped to it.
    pub source_date_epoch: Option<i64>,
}

/// A scratch area inside the store (same filesystem, so renames work), removed on drop.
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// A new empty directory under the store's `tmp/`.
    pub fn new(store: &Store, prefix: &str) -> Result<WorkDir> {
        let base = store.root().join("tmp");
        std::fs::create_dir_all(&base)?;
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(&base)?;
        Ok(WorkDir { path: dir.keep() })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Mounts `layers` read-write (changes go to a fresh upper dir), runs `step` on the merged
/// root, unmounts, and returns the change as a layer (`None` when nothing changed).
pub fn with_writable_rootfs(
    store: &Store,
    layers: &[Descriptor],
    opts: &LayerOptions,
    step: impl FnOnce(&Path) -> Result<()>,
) -> Result<Option<NewLayer>> {
    let lowers = store
        .snapshots(layers)
        .context("preparing the parent layers")?;
    let work = WorkDir::new(store, "step-")?;
    let upper = work.path().join("upper");
    let ovl_work = work.path().join("work");
    let merged = work.path().join("merged");
    for d in [&upper, &ovl_work, &merged] {
        std::fs::create_dir_all(d)?;
    }
    {
        let _mount = Overlay::mount(&lowers, &upper, &ovl_work, &merged)?;
        step(&merged)?;
    }
    make_layer(store, &upper, opts)
}

/// Writes `dir` (an overlay upper dir) as a layer blob.
pub fn make_layer(store: &Store, dir: &Path, opts: &LayerOptions) -> Result<Option<NewLayer>> {
    let created = skiff_image::layer::create(
        store,
        dir,
        &skiff_image::layer::CreateOptions {
            compression: if opts.zstd {
                skiff_image::layer::Compression::Zstd
            } else {
                skiff_image::layer::Compression::Gzip
            },
            source_date_epoch: opts.source_date_epoch,
        },
    )?;
    Ok(created.map(|l| NewLayer {
        descriptor: l.descriptor,
        diff_id: l.diff_id.to_string(),
    }))
}
