//! The images an archive carries: each with its names, and every blob it must carry.

use crate::model::Document;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::{Descriptor, Digest};

/// One image of a multi-image archive (`skiff save A B`): its manifest (or index) in the
/// store and the names the archive records for it.
#[derive(Clone, Debug)]
pub struct SavedImage {
    /// The image's manifest (or, for OCI archives, index) descriptor in the store.
    pub manifest: Descriptor,
    /// Its names (normalised references); names pinned by digest are not recorded in
    /// docker archives, which cannot tag with them.
    pub names: Vec<String>,
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
    match store.read_document(desc.digest())? {
        Document::Index(index) => {
            for child in &index.manifests {
                collect(store, child, out)?;
            }
        }
        Document::Manifest(manifest) => {
            for blob in manifest.blobs() {
                if !out.contains(blob.digest()) {
                    out.push(blob.digest().clone());
                }
            }
        }
    }
    Ok(())
}
