//! Reading an image's manifest (or multi-platform index) back from the store,
//! and listing every blob an archive of it must carry.

use crate::Store;
use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, Digest, ImageIndex, ImageManifest, MediaType};

const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// Whether a media type is an index (OCI) or manifest list (Docker) rather than
/// a single-platform manifest: readers must pick a platform first.
pub fn is_index(media_type: &MediaType) -> bool {
    *media_type == MediaType::ImageIndex || media_type.to_string() == DOCKER_MANIFEST_LIST
}

/// Reads the single-platform manifest `desc` points at.
pub(crate) fn read_manifest(store: &Store, desc: &Descriptor) -> Result<ImageManifest> {
    if is_index(desc.media_type()) {
        bail!(
            "image {} is a multi-platform index: this output holds one platform, pick it with --platform",
            desc.digest()
        );
    }
    let bytes = store.read_blob(desc.digest())?;
    ImageManifest::from_reader(bytes.as_slice())
        .with_context(|| format!("manifest {} in the store is not valid JSON", desc.digest()))
}

/// Every blob of the image (index, manifests, configs, layers), each once,
/// parents before children.
pub(crate) fn all_blobs(store: &Store, desc: &Descriptor) -> Result<Vec<Digest>> {
    let mut out = Vec::new();
    collect(store, desc, &mut out)?;
    Ok(out)
}

fn collect(store: &Store, desc: &Descriptor, out: &mut Vec<Digest>) -> Result<()> {
    if out.contains(desc.digest()) {
        return Ok(());
    }
    out.push(desc.digest().clone());
    if is_index(desc.media_type()) {
        let bytes = store.read_blob(desc.digest())?;
        let index = ImageIndex::from_reader(bytes.as_slice())
            .with_context(|| format!("index {} in the store is not valid JSON", desc.digest()))?;
        for child in index.manifests() {
            collect(store, child, out)?;
        }
        return Ok(());
    }
    let manifest = read_manifest(store, desc)?;
    for blob in std::iter::once(manifest.config()).chain(manifest.layers()) {
        if !out.contains(blob.digest()) {
            out.push(blob.digest().clone());
        }
    }
    Ok(())
}
