//! `RUN --mount=type=cache` contents in the shared cache (`cache-mounts=true`): each cache
//! directory the build used is exported as a layer of its own (with its id, owner and mode),
//! and on import an absent cache directory is seeded from it when a step first mounts it.
//! The contents never enter an image layer or a key.

use super::active::{active_for, Active, BlobSource, CacheMountUse};
use super::flags::CacheTo;
use anyhow::{Context as _, Result};
use skiff_image::cache_manifest::{CacheLayer, CacheMountRecord};
use skiff_image::layer::{apply_flat, create, Compression, CreateOptions};
use skiff_image::Store;
use std::path::Path;
use std::sync::Arc;

/// Notes that a step of the build mounts a cache directory (run or cached), for
/// `cache-mounts=true`.
pub(crate) fn used(store: &Store, mount: CacheMountUse) {
    if let Some(active) = active_for(store) {
        let mut used = active.mounts_used.lock().unwrap_or_else(|e| e.into_inner());
        used.insert(mount.name.clone(), mount);
    }
}

/// The records of every cache directory the build used, their contents written as layers.
/// Those `to` excludes (`cache-mounts-exclude`) or finds too large (`cache-mounts-max-size`,
/// a notice) are left out.
pub(super) fn export(
    store: &Store,
    active: &Active,
    to: &CacheTo,
) -> Result<Vec<CacheMountRecord>> {
    let used = active
        .mounts_used
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let mut records = Vec::new();
    for mount in used.into_values() {
        if to.cache_mounts_exclude.contains(&mount.id) {
            continue;
        }
        let dir = store.cache_mounts_dir().join(&mount.name);
        if !dir.is_dir() {
            continue; // a cached step's cache this store never filled
        }
        let options = CreateOptions {
            compression: Compression::Gzip,
            source_date_epoch: None,
        };
        let Some(layer) = create(store, &dir, &options)
            .with_context(|| format!("writing cache mount {:?} as a layer", mount.id))?
        else {
            continue; // empty
        };
        if layer.descriptor.size() > to.cache_mounts_max_size {
            active.progress.info(format!(
                "cache mount {:?} not exported: {} compressed, over cache-mounts-max-size",
                mount.id,
                crate::progress::human_size(layer.descriptor.size())
            ));
            continue;
        }
        records.push(CacheMountRecord {
            name: mount.name,
            id: mount.id,
            uid: mount.uid,
            gid: mount.gid,
            mode: mount.mode,
            layer: CacheLayer {
                descriptor: layer.descriptor,
                diff_id: layer.diff_id.to_string(),
            },
        });
    }
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

/// Remembers imported cache-mount records, to seed their directories when first mounted.
pub(super) fn import(active: &Active, records: &[CacheMountRecord], source: &Arc<BlobSource>) {
    let mut seeds = active.mount_seeds.lock().unwrap_or_else(|e| e.into_inner());
    for record in records {
        seeds.insert(record.name.clone(), (record.clone(), source.clone()));
    }
}

/// Fills the new cache directory `dir` (not there yet) named `name` from an imported record:
/// created with the record's owner and mode, its layer fetched and applied. Returns whether
/// it did; a failure is a warning and the cache starts empty.
pub(crate) fn seed(store: &Store, name: &str, dir: &Path) -> bool {
    let Some(active) = active_for(store) else {
        return false;
    };
    let found = (active.mount_seeds.lock().unwrap_or_else(|e| e.into_inner())).remove(name);
    let Some((record, source)) = found else {
        return false;
    };
    let seeded = (|| -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let blob = &record.layer.descriptor;
        source.fetch(store, blob)?;
        let file = std::fs::File::open(store.blob_path(blob.digest()))?;
        apply_flat(file, dir)?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(record.mode))?;
        std::os::unix::fs::chown(dir, Some(record.uid), Some(record.gid))?;
        Ok(())
    })();
    match seeded {
        Ok(()) => true,
        Err(e) => {
            let _ = std::fs::remove_dir_all(dir);
            active.progress.info(format!(
                "warning: cache mount {:?} not seeded from the shared cache ({e:#}): it starts empty",
                record.id
            ));
            false
        }
    }
}
