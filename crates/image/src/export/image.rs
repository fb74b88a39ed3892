//! Listing every blob an archive of an image must carry.

use crate::model::Document;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::{Descriptor, Digest};

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
