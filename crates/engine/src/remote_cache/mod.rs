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

mod active;
mod export;
mod flags;
mod import;
mod mounts;

pub(crate) use active::CacheMountUse;
pub(crate) use active::{cache_get, ensure_layers, lazy_base, noted};
pub use flags::{CacheFrom, CacheLocation, CacheMode, CacheTo};
pub(crate) use mounts::{seed as seed_cache_mount, used as cache_mount_used};

use crate::progress::Progress;
use active::{Active, BlobSource, ACTIVE};
use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, Digest};
use skiff_image::Store;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
