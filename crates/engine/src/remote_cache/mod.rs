//! The build cache shared through an OCI registry or an OCI layout directory
//! (`--cache-from`, `--cache-to`; the format is `docs/remote-cache.md`).
//!
//! Import reads the cache artifact's records first and writes, for each key, the state's
//! config and manifest into the store under that key, but no layer: a step found there is
//! CACHED at once, and its layer blobs are fetched only when something reads them (a step
//! that runs on top of them, a mount, the final image). That is what [`ensure_layers`] does,
//! called by everything that extracts layers. Export writes the records of the cache entries
//! the build used or made ([`noted`]) with the layers they reference.
//!
//! Both hooks are found through the store's root: a build registers its [`CacheSession`]
//! for its store for as long as it runs, so the code that extracts layers or writes cache
//! entries needs no extra parameter.

mod export;
mod flags;
mod import;
mod mounts;

pub use flags::{CacheFrom, CacheLocation, CacheMode, CacheTo};
pub(crate) use mounts::{seed as seed_cache_mount, used as cache_mount_used, CacheMountUse};

use crate::progress::Progress;
use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, Digest};
use skiff_image::cache_manifest::fetch_layout_blob;
use skiff_image::registry::{Client, ClientOptions, Repository};
use skiff_image::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where a lazily imported layer is fetched from.
enum BlobSource {
    Registry(Box<Repository>),
    Local(PathBuf),
}

impl BlobSource {
    fn open(location: &CacheLocation, insecure: &[String], progress: &Progress) -> Result<Self> {
        Ok(match location {
            CacheLocation::Registry(reference) => {
                let client = Client::new(ClientOptions {
                    insecure_registries: insecure.to_vec(),
                    on_notice: Some(progress.registry_notices()),
                    ..ClientOptions::default()
                });
                BlobSource::Registry(Box::new(Repository::new(client, reference.clone())?))
            }
            CacheLocation::Local(dir) => BlobSource::Local(dir.clone()),
            CacheLocation::Inline => {
                anyhow::bail!("type=inline is read as type=registry,ref=IMAGE")
            }
        })
    }

    fn fetch(&self, store: &Store, blob: &Descriptor) -> Result<()> {
        match self {
            BlobSource::Registry(repo) => repo.fetch_blob(store, blob).map(|_| ()),
            BlobSource::Local(dir) => fetch_layout_blob(dir, store, blob),
        }
    }
}

/// An imported record: the state's manifest (in the store) and its layers' digests.
struct Imported {
    manifest: Digest,
    layers: Vec<String>,
}

/// What one build does with shared caches, registered for its store while it runs.
struct Active {
    root: PathBuf,
    /// The imported records, by key. They are not in the store's cache index until the build
    /// has all their layers, so a record whose layer turns out bad can still be dropped.
    imported: Mutex<HashMap<String, Imported>>,
    /// Set when a record was dropped because its layer could not be fetched: the build then
    /// runs again without it.
    tainted: AtomicBool,
    /// The cache-mount directories steps mounted, by name (for `cache-mounts=true`).
    mounts_used: Mutex<std::collections::BTreeMap<String, CacheMountUse>>,
    /// Imported cache-mount contents not seeded yet, by directory name.
    mount_seeds: Mutex<
        HashMap<
            String,
            (
                skiff_image::cache_manifest::CacheMountRecord,
                Arc<BlobSource>,
            ),
        >,
    >,
    /// Every cache entry the build used or wrote: key → value (a manifest or a memo blob).
    log: Mutex<Vec<(String, Digest)>>,
    /// Where each imported layer not yet in the store can be fetched from.
    sources: Mutex<HashMap<String, Arc<BlobSource>>>,
    progress: Progress,
}

static ACTIVE: Mutex<Vec<Arc<Active>>> = Mutex::new(Vec::new());

fn active_for(store: &Store) -> Option<Arc<Active>> {
    let list = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().find(|a| a.root == store.root()).cloned()
}

/// One build's use of shared caches: imported when the build starts, exported by
/// [`CacheSession::export`]; unregistered when dropped.
pub(crate) struct CacheSession {
    active: Arc<Active>,
    to: Vec<CacheTo>,
    insecure: Vec<String>,
}

impl CacheSession {
    /// Registers the build on `store` and imports every `from` (a cache that cannot be read
    /// is a notice: the build goes on without it).
    pub fn start(
        store: &Store,
        from: &[CacheFrom],
        to: &[CacheTo],
        insecure: &[String],
        progress: &Progress,
    ) -> CacheSession {
        let active = Arc::new(Active {
            root: store.root().to_path_buf(),
            imported: Mutex::new(HashMap::new()),
            tainted: AtomicBool::new(false),
            mounts_used: Mutex::new(std::collections::BTreeMap::new()),
            mount_seeds: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            sources: Mutex::new(HashMap::new()),
            progress: progress.clone(),
        });
        for cache in from {
            let imported = BlobSource::open(&cache.location, insecure, progress)
                .and_then(|source| import::import(store, Arc::new(source), &active));
            match imported {
                Ok(count) => progress.info(format!(
                    "importing cache {}: {count} records",
                    describe(&cache.location)
                )),
                Err(e) => progress.info(format!(
                    "cache {} not imported ({e:#}): building without it",
                    describe(&cache.location)
                )),
            }
        }
        (ACTIVE.lock().unwrap_or_else(|e| e.into_inner())).push(active.clone());
        CacheSession {
            active,
            to: to.to_vec(),
            insecure: insecure.to_vec(),
        }
    }

    /// Exports the cache to every `--cache-to`; `final_layers` are the target's layers
    /// (`mode=min` exports the steps whose layers they start with). A failed export fails
    /// the build unless it has `ignore-error=true` (then it is a warning).
    pub fn export(&self, store: &Store, final_layers: &[Descriptor]) -> Result<()> {
        let log = self
            .active
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for to in (self.to.iter()).filter(|t| t.location != CacheLocation::Inline) {
            let done = (if to.cache_mounts {
                mounts::export(store, &self.active, to)
            } else {
                Ok(Vec::new())
            })
            .and_then(|mounts| {
                export::export(store, to, &log, final_layers, &self.insecure, mounts)
            })
            .with_context(|| format!("exporting the cache to {}", describe(&to.location)));
            match done {
                Ok(report) => self.active.progress.info(report),
                Err(e) if to.ignore_error => {
                    self.active
                        .progress
                        .info(format!("warning: {e:#} (ignored)"));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl CacheSession {
    /// Whether a cached layer turned out unusable since the last call (its records are
    /// dropped): the build should run again, and the steps that needed it then run.
    pub fn take_tainted(&self) -> bool {
        self.active.tainted.swap(false, Ordering::SeqCst)
    }

    /// Records in the store's cache index the imported records the build used whose layers
    /// are all in the store now, so the next build finds them without the remote cache.
    pub fn keep_used(&self, store: &Store) -> Result<()> {
        let log = self
            .active
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let imported = (self.active.imported.lock()).unwrap_or_else(|e| e.into_inner());
        for (key, _) in log {
            let Some(record) = imported.get(&key) else {
                continue;
            };
            let present = (record.layers.iter())
                .all(|d| Digest::from_str(d).is_ok_and(|d| store.has_blob(&d)));
            if present {
                store.cache_put(&key, &record.manifest)?;
            }
        }
        Ok(())
    }
}

impl CacheSession {
    /// With `--cache-to type=inline`: the final image's config bytes `config` with the cache
    /// records of its steps added as a last field (`"skiff.cache.v1"`), so that pushing the
    /// image ships its cache. `None` without an inline export.
    pub fn inline(
        &self,
        store: &Store,
        config: &[u8],
        final_layers: &[Descriptor],
    ) -> Result<Option<Vec<u8>>> {
        if !self.to.iter().any(|t| t.location == CacheLocation::Inline) {
            return Ok(None);
        }
        let log = self
            .active
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let cache = export::collect(store, CacheMode::Min, &log, final_layers)?;
        export::inline_config(config, &cache).map(Some)
    }
}

impl Drop for CacheSession {
    fn drop(&mut self) {
        let mut list = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|a| !Arc::ptr_eq(a, &self.active));
    }
}

fn describe(location: &CacheLocation) -> String {
    match location {
        CacheLocation::Registry(r) => r.to_string(),
        CacheLocation::Local(dir) => dir.display().to_string(),
        CacheLocation::Inline => "the image (inline)".to_string(),
    }
}

/// Notes that the build used or wrote the cache entry `key` → `value`, for `--cache-to`.
pub(crate) fn noted(store: &Store, key: &str, value: &Digest) {
    if let Some(active) = active_for(store) {
        let mut log = active.log.lock().unwrap_or_else(|e| e.into_inner());
        log.push((key.to_string(), value.clone()));
    }
}

/// With a shared cache imported, a base image the store does not have is resolved lazily:
/// its manifest and config are stored (not named), and its layers fetched only when a step
/// or the final image needs them, so a fully cached builder stage never downloads its base.
/// `None` without an imported cache, or when the registry cannot resolve it that way (the
/// caller then pulls as usual).
pub(crate) fn lazy_base(
    store: &Store,
    reference: &skiff_image::reference::Reference,
    platform: &skiff_image::registry::Platform,
    insecure: &[String],
) -> Option<Descriptor> {
    let active = active_for(store)?;
    if (active.imported.lock().unwrap_or_else(|e| e.into_inner())).is_empty() {
        return None;
    }
    let location = CacheLocation::Registry(reference.clone());
    let source = BlobSource::open(&location, insecure, &active.progress).ok()?;
    let BlobSource::Registry(repo) = &source else {
        return None;
    };
    let (manifest, layers) = repo.resolve_image(store, platform).ok()?;
    let source = Arc::new(source);
    let mut sources = active.sources.lock().unwrap_or_else(|e| e.into_inner());
    for layer in layers.iter().filter(|l| !store.has_blob(l.digest())) {
        sources.insert(layer.digest().to_string(), source.clone());
    }
    Some(manifest)
}

/// The store's cache entry for `key`, else the imported record's manifest.
pub(crate) fn cache_get(store: &Store, key: &str) -> Result<Option<Digest>> {
    if let Some(found) = store.cache_get(key)? {
        return Ok(Some(found));
    }
    let Some(active) = active_for(store) else {
        return Ok(None);
    };
    let imported = active.imported.lock().unwrap_or_else(|e| e.into_inner());
    Ok(imported.get(key).map(|r| r.manifest.clone()))
}

/// Drops every imported record that references `digest` (a layer that could not be fetched
/// or did not match its digest) and marks the build tainted.
fn discard(active: &Active, digest: &str, err: &anyhow::Error) {
    let mut imported = active.imported.lock().unwrap_or_else(|e| e.into_inner());
    let before = imported.len();
    imported.retain(|_, r| !r.layers.iter().any(|l| l == digest));
    active.progress.info(format!(
        "warning: cached layer {digest} discarded ({err:#}); the {} steps that used it run again",
        before - imported.len()
    ));
    active.tainted.store(true, Ordering::SeqCst);
}

/// Makes sure every blob of `layers` is in the store, fetching the ones an imported cache
/// left out (lazily: only what is about to be read). A blob that cannot be fetched or does
/// not match its digest is an error naming it (nothing of it is stored).
pub(crate) fn ensure_layers(store: &Store, layers: &[Descriptor]) -> Result<()> {
    let missing: Vec<&Descriptor> = (layers.iter())
        .filter(|l| !store.has_blob(l.digest()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    let Some(active) = active_for(store) else {
        return Ok(()); // extraction reports the missing blob
    };
    for layer in missing {
        let source = {
            let sources = active.sources.lock().unwrap_or_else(|e| e.into_inner());
            sources.get(layer.digest().as_ref()).cloned()
        };
        if let Some(source) = source {
            if let Err(e) = source.fetch(store, layer) {
                discard(&active, layer.digest().as_ref(), &e);
                return Err(e.context(format!("fetching cached layer {}", layer.digest())));
            }
        }
    }
    Ok(())
}
