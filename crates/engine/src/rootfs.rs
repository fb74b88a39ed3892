//! Giving a step a writable root filesystem and turning what it changed into a layer:
//! the parent's layers (extracted once in the store) as overlay lower dirs, a fresh upper
//! dir that captures the change, and the upper dir written out as a deterministic layer,
//! compared with a read-only view of the parent so that what overlayfs only copied up
//! (directories above a change, mount points made and removed) stays out, as in BuildKit.
//! The upper dir then becomes the new layer's snapshot in the store, as BuildKit commits a
//! step's upper dir as its snapshot: the next step stacks on it without extracting the blob
//! just written, and it is never deleted file by file.
//! Where overlayfs cannot be mounted, the sandbox copies instead (`SKIFF_ROOTFS=copy`).

use crate::layer_options::LayerOptions;
use crate::scratch::WorkDir;
use crate::view::View;
use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, Digest};
use skiff_image::Store;
use skiff_sandbox::{Overlay, TooManyLayers, MAX_LOWERS};
use std::path::Path;

/// A layer a step produced: the compressed blob and its uncompressed digest.
#[derive(Clone, Debug)]
pub struct NewLayer {
    /// The blob in the store.
    pub descriptor: Descriptor,
    /// Digest of the uncompressed tar (written as text into `rootfs.diff_ids`).
    pub diff_id: Digest,
}

/// Mounts `layers` read-write (changes go to a fresh upper dir), runs `step` on the merged
/// root, unmounts, and returns the change as a layer (`None` when nothing changed).
pub fn with_writable_rootfs(
    store: &Store,
    layers: &[Descriptor],
    opts: &LayerOptions,
    step: impl FnOnce(&Path) -> Result<()>,
) -> Result<Option<NewLayer>> {
    crate::remote_cache::ensure_layers(store, layers)?;
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
    let mount = Overlay::mount(&lowers, &upper, &ovl_work, &merged).map_err(too_many_layers)?;
    step(&merged)?;
    // Checked: with the copy-based fallback this is when the change reaches the upper dir.
    mount.unmount()?;
    let below = View::mount(store, layers).context("mounting the parent layers to diff against")?;
    // The upper dir becomes the layer's snapshot (no second copy, nothing to delete).
    let created = skiff_image::layer::create_from_upper_as_snapshot(
        store,
        &upper,
        below.root(),
        &create_options(opts, layers.len()),
    )?;
    Ok(created.map(NewLayer::from))
}

/// A rootfs over overlayfs's limit, explained as what it is: a Dockerfile (with its base
/// image) of too many layer-making steps.
fn too_many_layers(err: anyhow::Error) -> anyhow::Error {
    let Some(too_many) = err.downcast_ref::<TooManyLayers>() else {
        return err;
    };
    let layers = too_many.layers;
    anyhow::anyhow!(
        "this step would run on {layers} layers, more than overlayfs stacks ({MAX_LOWERS}): each \
         RUN, COPY and ADD of the Dockerfile adds a layer on top of the base image's; combine \
         steps (`RUN a && b`, one COPY of a directory instead of one per file) or start from a \
         base image with fewer layers"
    )
}

/// Writes all of `dir` as a layer blob meant to sit `depth` layers up (a `COPY --link`
/// layer, made apart from its parent), and keeps `dir` as its snapshot. An empty `dir`:
/// `None`.
pub fn make_layer(
    store: &Store,
    dir: &Path,
    opts: &LayerOptions,
    depth: usize,
) -> Result<Option<NewLayer>> {
    let created = skiff_image::layer::create_as_snapshot(store, dir, &create_options(opts, depth))?;
    Ok(created.map(NewLayer::from))
}

/// `depth`: how many layers are below the new one (see [`crate::time::layer_mtime_clamp`]).
fn create_options(opts: &LayerOptions, depth: usize) -> skiff_image::layer::CreateOptions {
    skiff_image::layer::CreateOptions {
        compression: opts.compression,
        source_date_epoch: Some(crate::time::layer_mtime_clamp(
            opts.source_date_epoch,
            depth,
        )),
    }
}

impl From<skiff_image::layer::NewLayer> for NewLayer {
    fn from(l: skiff_image::layer::NewLayer) -> NewLayer {
        NewLayer {
            descriptor: l.descriptor,
            diff_id: l.diff_id,
        }
    }
}
