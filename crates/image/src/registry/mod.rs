//! Talking to registries: pulling images into the store and pushing them out, over the OCI
//! distribution protocol (oci-client does the HTTP, auth and token flows; this module adds
//! platform choice, streaming digest-verified writes into the store, retries, blob skipping
//! and cross-repository mounts).

mod artifact;
mod auth;
mod client;
mod media;
pub mod platform;
mod pull;
mod push;
pub mod retry;
mod session;
mod sources;

pub use artifact::{BlobTransfers, Repository};
use client::runtime;
pub use client::{BlobProgress, BlobProgressFn, Client, ClientOptions, NoticeFn, NoticeSink};
pub use platform::Platform;
pub use pull::PulledImage;
pub use push::PushReport;
pub use retry::RetryPolicy;

use crate::reference::Reference;
use crate::store::Store;
use anyhow::Result;

impl Client {
    /// Pulls `reference` (by tag or digest) into `store` and tags it there under its
    /// normalised name. From an index, the manifest for `platform` (default: the host's) is
    /// pulled. Every blob is verified against its digest and size as it streams to disk; a
    /// mismatch fails the pull and stores nothing of that blob.
    pub async fn pull(
        &self,
        store: &Store,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<PulledImage> {
        pull::pull(self, store, reference, platform).await
    }

    /// Pushes the image named `source` in `store` to `destination`: blobs the repository has
    /// are skipped, blobs known to live in another repository of the same registry are
    /// mounted, the rest uploaded; then the manifest is put under the destination's tag.
    pub async fn push(
        &self,
        store: &Store,
        source: &Reference,
        destination: &Reference,
    ) -> Result<PushReport> {
        push::push(self, store, source, destination).await
    }

    /// [`Client::pull`] for synchronous callers (runs its own tokio runtime; do not call
    /// from inside one).
    pub fn pull_blocking(
        &self,
        store: &Store,
        reference: &Reference,
        platform: Option<&Platform>,
    ) -> Result<PulledImage> {
        runtime()?.block_on(self.pull(store, reference, platform))
    }

    /// [`Client::push`] for synchronous callers (runs its own tokio runtime; do not call
    /// from inside one).
    pub fn push_blocking(
        &self,
        store: &Store,
        source: &Reference,
        destination: &Reference,
    ) -> Result<PushReport> {
        runtime()?.block_on(self.push(store, source, destination))
    }
}
