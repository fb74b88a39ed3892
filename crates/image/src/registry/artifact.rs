//! Blob-level access to one repository, for artifacts that are not images (the build cache):
//! fetch a manifest by tag, fetch a blob into the store, put a blob unless the repository
//! already has it, put a manifest. Every call runs its own session (credentials from the
//! Docker config, retries, digest-verified downloads), synchronously.

use super::session::Session;
use super::Client;
use crate::reference::Reference;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::Descriptor;

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
            runtime: super::runtime()?,
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

    /// Uploads the store's blobs `blobs` the repository does not have (a HEAD check first, so
    /// a blob is never uploaded twice). Returns how many were uploaded.
    pub fn put_blobs(&self, store: &Store, blobs: &[Descriptor]) -> Result<usize> {
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            let mut uploaded = 0;
            for blob in blobs {
                if !session.has_blob(blob.digest()).await? {
                    session
                        .upload_blob(store, blob.digest(), blob.size())
                        .await?;
                    uploaded += 1;
                }
            }
            Ok(uploaded)
        })
    }

    /// Puts `bytes` (a manifest of `media_type`) under the reference's tag.
    pub fn put_manifest(&self, bytes: &[u8], media_type: &str) -> Result<()> {
        self.runtime.block_on(async {
            let session = Session::open(&self.client, &self.reference).await?;
            session.put_manifest(bytes, media_type).await
        })
    }
}
