//! `type=local` and `type=tar`: the image's final root filesystem, built by
//! applying its layers in order (whiteouts honoured) with the layer module's
//! safe extraction.

use super::dir_tar::write_dir_tar;
use super::output::Destination;
use crate::layer::apply_flat;
use crate::model::Document;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use oci_spec::image::Descriptor;
use std::path::Path;

/// Writes the root filesystem of the image `manifest` into the directory `dest`
/// (created if missing; files already there are overwritten or removed as the
/// layers say). Each layer is checked against the diff ID its config records.
///
/// An index (a multi-platform build) gives one directory per platform, named as buildx
/// names them: `linux_amd64/`, `linux_arm64/`, `linux_arm_v7/`.
pub fn write_local(store: &Store, manifest: &Descriptor, dest: &Path) -> Result<()> {
    if crate::model::is_index(manifest.media_type()) {
        let Document::Index(index) = store.read_document(manifest.digest())? else {
            bail!("{} is not an image index", manifest.digest());
        };
        for child in &index.manifests {
            let Some(p) = child.platform() else {
                bail!("manifest {} of the index names no platform", child.digest());
            };
            let mut dir = format!("{}_{}", p.os(), p.architecture());
            if let Some(variant) = p.variant() {
                dir = format!("{dir}_{variant}");
            }
            write_local(store, child, &dest.join(dir))?;
        }
        return Ok(());
    }
    let image = store.read_manifest(manifest)?;
    let config = store.read_config(image.config.digest())?;
    let diff_ids = config.rootfs.diff_ids;
    if diff_ids.len() != image.layers.len() {
        bail!(
            "image {} is inconsistent: {} layers but {} diff IDs in its config",
            manifest.digest(),
            image.layers.len(),
            diff_ids.len()
        );
    }
    std::fs::create_dir_all(dest)
        .with_context(|| format!("creating the output directory {}", dest.display()))?;
    for (layer, expected) in image.layers.iter().zip(diff_ids) {
        let path = store.blob_path(layer.digest());
        let blob = std::fs::File::open(&path).with_context(|| {
            format!(
                "layer {} is missing from the store ({}): pull or rebuild the image",
                layer.digest(),
                path.display()
            )
        })?;
        let diff_id = apply_flat(blob, dest)
            .with_context(|| format!("applying layer {} to {}", layer.digest(), dest.display()))?;
        if expected != diff_id.as_ref() {
            bail!(
                "layer {} unpacks to {diff_id}, but the image config expects {expected}: the store is corrupt, pull or rebuild the image",
                layer.digest()
            );
        }
    }
    Ok(())
}

/// Writes the root filesystem of the image `manifest` as one tar to `dest`. The
/// tree is assembled in a scratch directory next to the destination first.
pub fn write_rootfs_tar(store: &Store, manifest: &Descriptor, dest: &Destination) -> Result<()> {
    let scratch_parent = dest.scratch_dir()?;
    let scratch = tempfile::Builder::new()
        .prefix(".skiff-rootfs-")
        .tempdir_in(&scratch_parent)
        .with_context(|| {
            format!(
                "creating a scratch directory in {}",
                scratch_parent.display()
            )
        })?;
    write_local(store, manifest, scratch.path())?;
    dest.write_with(|out| write_dir_tar(scratch.path(), out))
}
