//! Multi-platform builds (`--platform linux/amd64,linux/arm64`): the build once per target
//! platform, each with its own `TARGETPLATFORM`/`TARGETOS`/`TARGETARCH`/`TARGETVARIANT`
//! (the planner sets them from the platform), then one OCI image index over the results.
//!
//! A stage whose inputs do not depend on the target (`FROM --platform=$BUILDPLATFORM …`
//! without a TARGET* arg in its steps) has the same cache keys for every target: the first
//! target builds it, the next ones find every step in the cache, so it runs once. The
//! targets are built one after the other for that reason: in parallel they would each run it.

use crate::build::{build, BuildOptions, BuildOutcome};
use crate::error::BuildError;
use crate::progress::Progress;
use anyhow::Result;
use oci_spec::image::{Arch, Descriptor, MediaType, Os, PlatformBuilder};
use skiff_image::model::Index;
use skiff_image::registry::Platform;
use skiff_image::Store;

/// What a multi-platform build produced.
#[derive(Clone, Debug)]
pub struct IndexOutcome {
    /// The OCI image index in the store, one manifest per platform (platform fields filled
    /// from each image's config).
    pub index: Descriptor,
    /// Each platform's build, in the order asked for.
    pub images: Vec<(Platform, BuildOutcome)>,
}

/// Builds `options` for each of `platforms` (two or more) and writes their index to the store.
pub fn build_index(
    store: &Store,
    options: &BuildOptions,
    platforms: &[Platform],
    progress: &Progress,
) -> Result<IndexOutcome, BuildError> {
    let mut images = Vec::new();
    for platform in platforms {
        progress.info(format!("building for {platform}"));
        let mut one = options.clone();
        one.platform = Some(platform.clone());
        images.push((platform.clone(), build(store, one, progress.clone())?));
    }
    let index = write_index(store, &images).map_err(BuildError::classify)?;
    Ok(IndexOutcome { index, images })
}

/// The index over the images, each entry's platform taken from the image's config.
fn write_index(store: &Store, images: &[(Platform, BuildOutcome)]) -> Result<Descriptor> {
    let mut entries = Vec::new();
    for (_, outcome) in images {
        let config = &outcome.state.config;
        let mut platform = PlatformBuilder::default()
            .os(Os::from(config.os.as_str()))
            .architecture(Arch::from(config.architecture.as_str()));
        if let Some(variant) = config.variant.as_deref().filter(|v| !v.is_empty()) {
            platform = platform.variant(variant.to_string());
        }
        let mut entry = Descriptor::new(
            outcome.manifest.media_type().clone(),
            outcome.manifest.size(),
            outcome.manifest.digest().clone(),
        );
        entry.set_platform(Some(platform.build()?));
        entries.push(entry);
    }
    let bytes = Index::new(entries).to_bytes()?;
    let (digest, size) = store.put_blob(&bytes)?;
    Ok(Descriptor::new(MediaType::ImageIndex, size, digest))
}
