//! OCI archives (an OCI image layout in a tar: `skiff save --format oci`, BuildKit's
//! `type=oci`, skopeo's `oci-archive:`): every `index.json` entry is one image, named by
//! `io.containerd.image.name` (or by `org.opencontainers.image.ref.name` when that is a
//! full reference rather than a bare tag). An index is resolved to this host's platform,
//! as the store keeps one platform per name. Every blob is checked against its descriptor.

use super::loaded::LoadedImage;
use super::members::Members;
use crate::export::{is_index_media_type, ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME};
use crate::import::pick_host_platform;
use crate::model::{Index, Manifest};
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::image::Descriptor;

/// Loads every image `index.json` lists (not yet named in the store).
pub(crate) fn load(store: &Store, members: &Members<'_>) -> Result<Vec<LoadedImage>> {
    if members.has("oci-layout") {
        let marker: serde_json::Value = serde_json::from_slice(&members.bytes("oci-layout")?)
            .context("oci-layout of the archive is not JSON")?;
        match marker["imageLayoutVersion"].as_str() {
            Some(v) if v.starts_with("1.") => {}
            other => bail!(
                "the archive's oci-layout has imageLayoutVersion {other:?}: only 1.x is supported"
            ),
        }
    }
    let index = Index::from_bytes(&members.bytes("index.json")?)
        .context("index.json of the archive is not a valid OCI index")?;
    index
        .manifests
        .iter()
        .map(|entry| load_one(store, members, entry))
        .collect()
}

fn load_one(store: &Store, members: &Members<'_>, entry: &Descriptor) -> Result<LoadedImage> {
    let mut desc = entry.clone();
    while is_index_media_type(desc.media_type()) {
        let nested = Index::from_bytes(&members.document(&desc)?)
            .with_context(|| format!("index {} in the archive is not valid", desc.digest()))?;
        desc = pick_host_platform(&nested.manifests).ok_or_else(|| {
            anyhow!(
                "image {} in the archive has no manifest for this host's platform",
                desc.digest()
            )
        })?;
    }
    let bytes = members.document(&desc)?;
    let manifest = Manifest::from_bytes(&bytes)
        .with_context(|| format!("manifest {} in the archive is not valid", desc.digest()))?;
    for blob in manifest.blobs() {
        members.store_verified(blob)?;
    }
    store.put_blob(&bytes)?;
    let mut stored = Descriptor::new(
        desc.media_type().clone(),
        desc.size(),
        desc.digest().clone(),
    );
    stored.set_platform(desc.platform().clone());
    Ok(LoadedImage {
        names: name_of(entry).into_iter().collect(),
        id: manifest.config.digest().clone(),
        manifest: stored,
    })
}

/// The image name an `index.json` entry carries, normalised.
fn name_of(entry: &Descriptor) -> Option<String> {
    let annotations = entry.annotations().as_ref()?;
    let full = annotations.get(ANNOTATION_IMAGE_NAME).or_else(|| {
        annotations
            .get(ANNOTATION_REF_NAME)
            .filter(|r| r.contains(['/', ':']) && !r.starts_with('@'))
    })?;
    Reference::parse(full).ok().map(|r| r.to_string())
}
