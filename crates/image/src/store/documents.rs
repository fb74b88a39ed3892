//! Reading and writing the model's documents as blobs of the store. Here rather than in
//! the model, so that the model's typed documents stay below the store that keeps them
//! (the store's index and prune read them; nothing of the model needs the store).

use super::layout::Store;
use crate::model::{is_index, Document, ImageConfig, Manifest};
use anyhow::{bail, Context as _, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};

impl Store {
    /// Writes an image: its config blob, then its manifest blob (config + `layers`, which
    /// must already be in the store); returns the manifest's descriptor.
    pub fn write_image(&self, config: &ImageConfig, layers: &[Descriptor]) -> Result<Descriptor> {
        self.write_image_bytes(&config.to_bytes()?, layers)
    }

    /// Writes an image whose config is given as its bytes (as the shared build cache ships
    /// it, so that the manifest comes back byte for byte); returns the manifest's descriptor.
    pub fn write_image_bytes(&self, config: &[u8], layers: &[Descriptor]) -> Result<Descriptor> {
        let (cdigest, csize) = self.put_blob(config)?;
        let manifest = Manifest::new(
            Descriptor::new(MediaType::ImageConfig, csize, cdigest),
            layers.to_vec(),
        );
        let (digest, size) = self.put_blob(&manifest.to_bytes()?)?;
        Ok(Descriptor::new(MediaType::ImageManifest, size, digest))
    }

    /// Reads a manifest or an index blob.
    pub fn read_document(&self, digest: &Digest) -> Result<Document> {
        let bytes = self.read_blob(digest)?;
        Document::from_bytes(&bytes)
            .with_context(|| format!("manifest {digest} in the store is not valid"))
    }

    /// Reads the single-platform manifest `desc` points at; an index is an error that
    /// asks for a platform.
    pub fn read_manifest(&self, desc: &Descriptor) -> Result<Manifest> {
        if is_index(desc.media_type()) {
            bail!(
                "image {} is a multi-platform index: this output holds one platform, pick it with --platform",
                desc.digest()
            );
        }
        match self.read_document(desc.digest())? {
            Document::Manifest(m) => Ok(*m),
            Document::Index(_) => bail!(
                "image {} is a multi-platform index: pick one platform with --platform",
                desc.digest()
            ),
        }
    }

    /// Reads an image config blob.
    pub fn read_config(&self, digest: &Digest) -> Result<ImageConfig> {
        let bytes = self
            .read_blob(digest)
            .with_context(|| format!("reading image config {digest}"))?;
        ImageConfig::from_bytes(&bytes)
            .with_context(|| format!("image config {digest} in the store is not valid"))
    }

    /// Reads an image: the manifest `manifest` names and its config.
    pub fn read_image(&self, manifest: &Digest) -> Result<(Manifest, ImageConfig)> {
        let m = match self
            .read_document(manifest)
            .with_context(|| format!("reading manifest {manifest}"))?
        {
            Document::Manifest(m) => *m,
            Document::Index(_) => {
                bail!("{manifest} is a multi-platform index, not one image: pick a platform")
            }
        };
        let config = self.read_config(m.config.digest())?;
        Ok((m, config))
    }
}
