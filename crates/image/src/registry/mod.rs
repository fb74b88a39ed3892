//! Talking to registries: pulling images into the store and pushing them out, over the OCI
//! distribution protocol (oci-client does the HTTP, auth and token flows; this module adds
//! platform choice, streaming digest-verified writes into the store, retries, blob skipping
//! and cross-repository mounts).

mod artifact;
mod auth;
mod media;
pub mod platform;
mod pull;
mod push;
pub mod retry;
mod session;
mod sources;

pub use artifact::{BlobTransfers, Repository};
pub use platform::Platform;
pub use retry::RetryPolicy;

use crate::reference::Reference;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::{Descriptor, Digest, ImageConfiguration, ImageManifest};
use std::time::Duration;

/// How a [`Client`] reaches registries.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// Registries (`host` or `host:port`) reached over plain HTTP, like Docker's
    /// `--insecure-registry`. Loopback registries (`localhost`, `127.0.0.0/8`, `[::1]`) always are.
    pub insecure_registries: Vec<String>,
    /// How many blobs are downloaded (or uploaded) at once.
    pub max_concurrent_transfers: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// Give up connecting after this long (then retry).
    pub connect_timeout: Duration,
    /// Give up on a response that sends nothing for this long (then retry).
    pub read_timeout: Duration,
    /// Told as pulled blob bytes arrive, for progress displays.
    pub on_blob_progress: Option<BlobProgress>,
    /// Told what a person should hear that is not an error (a retry, a credential that cannot
    /// be used); without one, such notices are printed on stderr.
    pub on_notice: Option<NoticeSink>,
}

/// `(blob digest, bytes received, blob size)`, called as a pull downloads a blob.
pub type BlobProgressFn = dyn Fn(&str, u64, u64) + Send + Sync;

/// A shared [`BlobProgressFn`]: how a progress display hears about pulled bytes.
#[derive(Clone)]
pub struct BlobProgress(pub std::sync::Arc<BlobProgressFn>);

impl std::fmt::Debug for BlobProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BlobProgress(..)")
    }
}

/// One notice (a whole line of text, no trailing newline), for [`ClientOptions::on_notice`].
pub type NoticeFn = dyn Fn(&str) + Send + Sync;

/// A shared [`NoticeFn`]: how a progress display (which owns the terminal or prints one JSON
/// object per line) gets the client's notices instead of having them written over its output.
#[derive(Clone)]
pub struct NoticeSink(pub std::sync::Arc<NoticeFn>);

impl std::fmt::Debug for NoticeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoticeSink(..)")
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            max_concurrent_transfers: 3,
            retry: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
            on_blob_progress: None,
            on_notice: None,
        }
    }
}

/// A registry client: pulls images into a [`Store`] and pushes them from it.
#[derive(Clone, Debug)]
pub struct Client {
    options: ClientOptions,
}

/// What a pull put into the store.
#[derive(Clone, Debug)]
pub struct PulledImage {
    /// The name the image is tagged under in the store (the normalised reference).
    pub name: String,
    /// The image manifest's descriptor (the platform's manifest when the reference named an index).
    pub manifest: Descriptor,
    /// The image manifest.
    pub manifest_value: ImageManifest,
    /// The image config.
    pub config: ImageConfiguration,
}

/// What a push did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PushReport {
    /// Where the image went (normalised reference).
    pub reference: String,
    /// The pushed manifest's digest: `reference@digest` pulls exactly this image.
    pub digest: Digest,
    /// Blobs sent to the registry.
    pub uploaded: usize,
    /// Blobs the repository already had.
    pub skipped: usize,
    /// Blobs mounted from another repository of the same registry.
    pub mounted: usize,
}

impl Client {
    /// A client with the given options.
    pub fn new(options: ClientOptions) -> Client {
        Client { options }
    }

    /// Tells the person watching something that is not an error: through
    /// [`ClientOptions::on_notice`], or on stderr when there is none.
    pub(crate) fn notice(&self, message: &str) {
        match &self.options.on_notice {
            Some(sink) => (sink.0)(message),
            None => eprintln!("{message}"),
        }
    }

    /// Whether `reference`'s registry is reached over plain HTTP: loopback registries and
    /// those named in [`ClientOptions::insecure_registries`] (Docker's rules, except that
    /// Docker first tries HTTPS on those; skiff goes straight to HTTP).
    pub fn is_plain_http(&self, reference: &Reference) -> bool {
        let domain = reference.domain();
        let host = domain.rsplit_once(':').map_or(domain, |(h, _)| h);
        reference.is_loopback_registry()
            || self.options.insecure_registries.iter().any(|entry| {
                let entry = entry
                    .trim_start_matches("http://")
                    .trim_start_matches("https://")
                    .trim_end_matches('/');
                entry == domain || entry == host
            })
    }

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

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
