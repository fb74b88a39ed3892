//! The state one build keeps about shared caches, registered by the store's root for as long
//! as the build runs, and the hooks the rest of the engine calls through it: cache lookups
//! that also see imported records, layers fetched when they are read, base images resolved
//! lazily, cache entries noted for export.

use super::flags::CacheLocation;
use crate::progress::Progress;
use anyhow::Result;
use oci_spec::image::{Descriptor, Digest};
use skiff_image::cache_manifest::{fetch_layout_blob, CacheMountRecord};
use skiff_image::registry::{Client, ClientOptions, Repository};
use skiff_image::Store;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// Where a lazily imported layer is fetched from.
pub(super) enum BlobSource {
    Registry(Box<Repository>),
    Local(PathBuf),
}

impl BlobSource {
    pub(super) fn open(
        location: &CacheLocation,
        insecure: &[String],
        progress: &Progress,
    ) -> Result<Self> {
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

    pub(super) fn fetch(&self, store: &Store, blob: &Descriptor) -> Result<()> {
        match self {
            BlobSource::Registry(repo) => repo.fetch_blob(store, blob).map(|_| ()),
            BlobSource::Local(dir) => fetch_layout_blob(dir, store, blob),
        }
    }
}

/// An imported record: the state's manifest (in the store) and its layers' digests.
pub(super) struct Imported {
    pub manifest: Digest,
    pub layers: Vec<String>,
}

/// What one build does with shared caches, registered for its store while it runs.
pub(super) struct Active {
    pub root: PathBuf,
    /// The imported records, by key. They are not in the store's cache index until the build
    /// has all their layers, so a record whose layer turns out bad can still be dropped.
    pub imported: Mutex<HashMap<String, Imported>>,
    /// Set when a record was dropped because its layer could not be fetched: the build then
    /// runs again without it.
    pub tainted: AtomicBool,
    /// The cache-mount directories steps mounted, by name (for `cache-mounts=true`).
    pub mounts_used: Mutex<BTreeMap<String, CacheMountUse>>,
    /// Imported cache-mount contents not seeded yet, by directory name.
    pub mount_seeds: Mutex<HashMap<String, (CacheMountRecord, Arc<BlobSource>)>>,
    /// Every cache entry the build used or wrote: key → value (a manifest or a memo blob).
    pub log: Mutex<Vec<(String, Digest)>>,
    /// Where each imported layer not yet in the store can be fetched from.
    pub sources: Mutex<HashMap<String, Arc<BlobSource>>>,
    pub progress: Progress,
}

pub(super) static ACTIVE: Mutex<Vec<Arc<Active>>> = Mutex::new(Vec::new());

pub(super) fn active_for(store: &Store) -> Option<Arc<Active>> {
    let list = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().find(|a| a.root == store.root()).cloned()
}

/// Notes that the build used or wrote the cache entry `key` → `value`, for `--cache-to`.
pub fn noted(store: &Store, key: &str, value: &Digest) {
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
pub fn lazy_base(
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
pub fn cache_get(store: &Store, key: &str) -> Result<Option<Digest>> {
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
pub fn ensure_layers(store: &Store, layers: &[Descriptor]) -> Result<()> {
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

/// A cache directory a step mounted: its name in the store, id, owner and mode.
#[derive(Clone, Debug)]
pub(crate) struct CacheMountUse {
    /// The directory's name under the store's `cache-mounts/`.
    pub name: String,
    /// The mount's id.
    pub id: String,
    /// Owner of the top directory.
    pub uid: u32,
    /// Group of the top directory.
    pub gid: u32,
    /// Mode of the top directory.
    pub mode: u32,
}
