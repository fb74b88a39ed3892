//! What loading an archive gives back for each image.

use oci_spec::image::{Descriptor, Digest};

/// One image loaded into the store: what `skiff load` reports and how it is named.
#[derive(Clone, Debug)]
pub struct LoadedImage {
    /// The names the archive gave it, normalised (`docker.io/library/app:latest`);
    /// empty when it carried none.
    pub names: Vec<String>,
    /// Its image ID as Docker shows it: the digest of its config.
    pub id: Digest,
    /// Its manifest in the store.
    pub manifest: Descriptor,
}
