//! A stage's image while it is being built: config, layers, and the cache key of the
//! steps so far. Every state that follows a layer step is committed to the store as a
//! manifest, which is what the cache index points at.

use crate::config::ImageConfig;
use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::{Deserialize, Serialize};
use skiff_image::Store;
use std::str::FromStr;

/// OCI media type of an image manifest.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI media type of an image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";

/// An image under construction.
#[derive(Clone, Debug)]
pub struct ImageState {
    /// The config, history included.
    pub config: ImageConfig,
    /// The layer blobs, lowest first (their diff IDs are in `config.rootfs`).
    pub layers: Vec<Descriptor>,
    /// The cache key of everything that led here.
    pub key: String,
}

/// The manifest JSON as skiff writes it (fields in the order the OCI spec lists them).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson {
    schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

impl ImageState {
    /// An empty image (`FROM scratch`).
    pub fn scratch(platform: &crate::Platform) -> ImageState {
        let mut config = ImageConfig {
            architecture: platform.architecture.clone(),
            os: platform.os.clone(),
            variant: platform.variant.clone(),
            ..Default::default()
        };
        config
            .config
            .env
            .push(format!("PATH={}", crate::config::DEFAULT_PATH));
        ImageState {
            config,
            layers: Vec::new(),
            key: "scratch".into(),
        }
    }

    /// Loads a committed state (a manifest in the store).
    pub fn load(store: &Store, manifest: &Digest) -> Result<ImageState> {
        let bytes = store
            .read_blob(manifest)
            .with_context(|| format!("reading manifest {manifest}"))?;
        let m: ManifestJson = serde_json::from_slice(&bytes).context("parsing image manifest")?;
        let cfg = store
            .read_blob(m.config.digest())
            .context("reading image config")?;
        let config: ImageConfig = serde_json::from_slice(&cfg).context("parsing image config")?;
        Ok(ImageState {
            config,
            layers: m.layers,
            key: format!("manifest:{manifest}"),
        })
    }

    /// Writes config and manifest blobs; returns the manifest's descriptor.
    pub fn commit(&self, store: &Store) -> Result<Descriptor> {
        let config = serde_json::to_vec(&self.config)?;
        let (cdigest, csize) = store.put_blob(&config)?;
        let manifest = ManifestJson {
            schema_version: 2,
            media_type: Some(MANIFEST_MEDIA_TYPE.into()),
            config: Descriptor::new(MediaType::ImageConfig, csize, cdigest),
            layers: self.layers.clone(),
        };
        let bytes = serde_json::to_vec(&manifest)?;
        let (digest, size) = store.put_blob(&bytes)?;
        Ok(Descriptor::new(MediaType::ImageManifest, size, digest))
    }
}

/// Parses `sha256:…` into a digest.
pub fn digest(s: &str) -> Result<Digest> {
    Digest::from_str(s).with_context(|| format!("invalid digest {s}"))
}
