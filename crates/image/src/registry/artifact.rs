//! Blob-level access to one repository, for artifacts that are not images (the build cache):
//! fetch a manifest by tag, fetch a blob into the store, put a blob unless the repository
//! already has it, put a manifest. Every call runs its own session (credentials from the
//! Docker config, retries, digest-verified downloads), synchronously.

use super::client::{runtime, Client};
use super::session::{RegistryOperation, Session};
use super::sources::BlobSources;
use crate::reference::Reference;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::Descriptor;

/// What [`Repository::put_blobs`] did with each blob.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BlobTransfers {
    /// Sent to the registry.
    pub uploaded: usize,
    /// Already in the repository.
    pub skipped: usize,
    /// Mounted from another repository of the same registry.
    pub mounted: usize,
}

/// One repository of one registry, reached with a [`Client`]'s options.
pub struct Repository {
    client: Client,
    reference: Reference,
    runtime: tokio::runtime::Runtime,
}

impl Repository {
    /// A handle on `reference`'s repository (its tag is what [`Repository::manifest`] and
    /// [`Repository::put_manifest`] address). Does not contact the registry yet.
    pub fn new(client: Client, reference: Reference) -> Result<Repository> {
        Ok(Repository {
            client,
            reference,
            runtime: runtime()?,
        })
    }

    /// The manifest under the reference's tag: its bytes and digest (verified).
    pub fn manifest(&self) -> Result<(Vec<u8>, String)> {
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            let (bytes, digest) = session.manifest(None).await?;
            Ok((bytes.to_vec(), digest))
        })
    }

    /// Downloads `blob` into the store unless it is there, verifying digest and size (a
    /// mismatch stores nothing and is an error). Returns whether it was downloaded.
    pub fn fetch_blob(&self, store: &Store, blob: &Descriptor) -> Result<bool> {
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            session.fetch_blob(store, blob).await
        })
    }

    /// Makes the repository hold every blob of `blobs`: skipped when it has it (a HEAD check),
    /// mounted from another repository of the same registry known to hold it (the store's
    /// blob sources), else uploaded from the store after `ensure` has put it there. The
    /// repository is then recorded as holding them, for later pushes to mount from.
    pub fn put_blobs(
        &self,
        store: &Store,
        blobs: &[Descriptor],
        ensure: &dyn Fn(&Descriptor) -> Result<()>,
    ) -> Result<BlobTransfers> {
        let sources = BlobSources::new(store);
        let mut done = BlobTransfers::default();
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            session.authenticate(RegistryOperation::Push).await?;
            let same_registry = format!("{}/", self.reference.domain());
            'blobs: for blob in blobs {
                let digest = blob.digest();
                if session.has_blob(digest).await? {
                    done.skipped += 1;
                    continue;
                }
                for repository in sources.repositories(digest.as_ref())? {
                    let Some(path) = repository.strip_prefix(&same_registry) else {
                        continue;
                    };
                    if path != self.reference.path() && session.mount_blob(digest, path).await {
                        done.mounted += 1;
                        continue 'blobs;
                    }
                }
                ensure(blob)?;
                session.upload_blob(store, digest, blob.size()).await?;
                done.uploaded += 1;
            }
            anyhow::Ok(())
        })?;
        let digests: Vec<String> = blobs.iter().map(|b| b.digest().to_string()).collect();
        sources.record(&self.reference.name(), digests.iter().map(String::as_str))?;
        Ok(done)
    }

    /// Resolves the reference to the image for `platform` (choosing from an index) and stores
    /// its manifest and config, but no layer and no name: for a build that may never need
    /// the layers (they are fetched with [`Repository::fetch_blob`] when they are). Returns
    /// the manifest's descriptor and the layers.
    pub fn resolve_image(
        &self,
        store: &Store,
        platform: &super::platform::Platform,
    ) -> Result<(Descriptor, Vec<Descriptor>)> {
        use crate::model::Document;
        use anyhow::{anyhow, bail};
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            let (mut bytes, mut digest) = session.manifest(None).await?;
            let mut document = Document::from_bytes(&bytes)?;
            if let Document::Index(index) = &document {
                let entry = (platform.select(&index.manifests))
                    .ok_or_else(|| anyhow!("{} has no image for {platform}", self.reference))?;
                (bytes, digest) = session.manifest(Some(entry.digest().as_ref())).await?;
                document = Document::from_bytes(&bytes)?;
            }
            let media = document.media_type();
            let Document::Manifest(manifest) = document else {
                bail!("{} is not an image", self.reference);
            };
            session.fetch_blob(store, &manifest.config).await?;
            let (stored, size) = store.put_blob(&bytes)?;
            if stored.to_string() != digest {
                bail!("the manifest hashes to {stored}, not to {digest} as the registry said");
            }
            let descriptor = Descriptor::new(media, size, stored);
            Ok((descriptor, manifest.layers.clone()))
        })
    }

    /// Puts `bytes` (a manifest of `media_type`) under the reference's tag.
    pub fn put_manifest(&self, bytes: &[u8], media_type: &str) -> Result<()> {
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            session.authenticate(RegistryOperation::Push).await?;
            session.put_manifest(bytes, media_type).await
        })
    }
}
