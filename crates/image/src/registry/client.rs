//! The registry client and how it reaches registries, on their own so that pull, push and
//! the session read the options without importing the module that calls them.

use super::retry::RetryPolicy;
use crate::reference::Reference;
use anyhow::Result;
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
    /// Give up on a response that sends nothing for this long (then retry). Default 60 s,
    /// or `SKIFF_REGISTRY_READ_TIMEOUT` seconds.
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
            read_timeout: read_timeout_from_env().unwrap_or(Duration::from_secs(60)),
            on_blob_progress: None,
            on_notice: None,
        }
    }
}

/// `SKIFF_REGISTRY_READ_TIMEOUT` (seconds, fractions allowed), when set to a positive number.
fn read_timeout_from_env() -> Option<Duration> {
    let secs: f64 = std::env::var("SKIFF_REGISTRY_READ_TIMEOUT")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    (secs.is_finite() && secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// A registry client: pulls images into a [`Store`](crate::store::Store) and pushes them from it.
#[derive(Clone, Debug)]
pub struct Client {
    pub(super) options: ClientOptions,
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
}

/// A small tokio runtime for the blocking entry points (`pull_blocking`, `push_blocking`).
pub(super) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}
