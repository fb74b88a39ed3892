//! `skiff load`: a docker archive (`docker save`) or an OCI archive into the store, read
//! from a file or a pipe. The kind is told by content (`manifest.json`, else `index.json`).
//! Every blob is verified before anything is named, so a truncated or corrupt archive
//! names nothing; blobs it did store are unreferenced and `prune` collects them.

mod docker;
mod loaded;
mod members;
mod oci;

pub use loaded::LoadedImage;

use crate::store::Store;
use anyhow::{bail, Result};
use members::Members;
use std::io::Read;

/// Loads every image of the archive `reader` gives into `store` and names each by the
/// names the archive carries; an image without a name is named by its ID
/// (`sha256:<config digest>`), so that it stays listed and removable.
pub fn load_archive(store: &Store, reader: impl Read) -> Result<Vec<LoadedImage>> {
    let _lease = store.lock_shared()?;
    let members = Members::read(store, reader)?;
    let images = if members.has("manifest.json") {
        docker::load(store, &members)?
    } else if members.has("index.json") {
        oci::load(store, &members)?
    } else {
        bail!(
            "not a docker or OCI archive: it has neither manifest.json nor index.json \
             (is it truncated?)"
        );
    };
    if images.is_empty() {
        bail!("the archive holds no image");
    }
    for image in &images {
        if image.names.is_empty() {
            store.tag(image.id.as_ref(), &image.manifest)?;
        }
        for name in &image.names {
            store.tag(name, &image.manifest)?;
        }
    }
    Ok(images)
}
