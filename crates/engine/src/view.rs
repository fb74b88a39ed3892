//! Read-only views of an image's filesystem (for `COPY --from` and `RUN --mount=from=`),
//! kept mounted for as long as the returned guard lives.

use crate::scratch::WorkDir;
use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_image::Store;
use skiff_sandbox::Overlay;
use std::path::{Path, PathBuf};

/// A mounted, merged view of some layers. Unmounted and cleaned up on drop.
pub struct View {
    // Field order matters: the mount goes before its work dir is removed.
    _mount: Overlay,
    _work: WorkDir,
    root: PathBuf,
}

impl View {
    /// Mounts `layers` (lowest first). Writes through the view land in a throwaway upper dir.
    pub fn mount(store: &Store, layers: &[Descriptor]) -> Result<View> {
        crate::remote_cache::ensure_layers(store, layers)?;
        let lowers = store
            .snapshots(layers)
            .context("preparing the source layers")?;
        let work = WorkDir::new(store, "view-")?;
        let upper = work.path().join("upper");
        let ovl_work = work.path().join("work");
        let root = work.path().join("merged");
        for d in [&upper, &ovl_work, &root] {
            std::fs::create_dir_all(d)?;
        }
        let mount = Overlay::mount(&lowers, &upper, &ovl_work, &root)?;
        Ok(View {
            _mount: mount,
            _work: work,
            root,
        })
    }

    /// The merged root.
    pub fn root(&self) -> &Path {
        &self.root
    }
}
