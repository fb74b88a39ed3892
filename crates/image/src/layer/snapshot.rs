//! Layers extracted for overlayfs into the store's snapshot directories: the store owns the
//! directories and their locking ([`crate::store::snapshot`]), this applies the layer tar
//! into them. It lives beside the layer codec so that the store, which the codec writes its
//! layers into, never imports the codec.

use super::apply::{apply, ApplyMode};
use crate::store::snapshot::ensure;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::Descriptor;
use std::path::PathBuf;

impl Store {
    /// Makes sure every layer is extracted (overlay-ready: OCI whiteouts turned into
    /// overlay whiteouts) and returns their directories, lowest layer first.
    /// Extraction happens once per layer and is shared by all builds.
    pub fn snapshots(&self, layers: &[Descriptor]) -> Result<Vec<PathBuf>> {
        layers
            .iter()
            .map(|layer| {
                ensure(self, layer, |blob, dir| {
                    apply(blob, dir, ApplyMode::Overlay).map(drop)
                })
            })
            .collect()
    }
}
