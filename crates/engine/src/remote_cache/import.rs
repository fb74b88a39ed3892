//! Reading a cache artifact into the store: each record's config and manifest written and
//! its key pointed at the manifest, each memo stored under its key, and each layer the store
//! lacks remembered with the source it can be fetched from (lazy: nothing is downloaded).

use super::active::{Active, BlobSource, Imported};
use super::export::INLINE_FIELD;
use crate::cachekey::KEY_FORMAT_VERSION;
use anyhow::{bail, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use skiff_image::cache_manifest::{
    fetch_layout_blob, read_layout_manifest, Artifact, CacheConfig, CacheRecord,
};
use skiff_image::Store;
use std::sync::Arc;

/// Imports the cache `source` holds; returns how many records were usable.
pub(super) fn import(store: &Store, source: Arc<BlobSource>, active: &Active) -> Result<usize> {
    let config = read_config(store, &source)?;
    if config.key_format != KEY_FORMAT_VERSION {
        bail!(
            "its keys are format {}, this skiff computes format {KEY_FORMAT_VERSION}",
            config.key_format
        );
    }
    let mut usable = 0;
    for record in &config.records {
        match seed(store, record) {
            Ok(manifest) => {
                usable += 1;
                let layers = (record.layers.iter())
                    .map(|l| l.descriptor.digest().to_string())
                    .collect();
                let mut imported = active.imported.lock().unwrap_or_else(|e| e.into_inner());
                imported.insert(record.key.clone(), Imported { manifest, layers });
            }
            Err(e) => active.progress.info(format!(
                "warning: cache record {} discarded: {e:#}",
                record.key
            )),
        }
        let mut sources = active.sources.lock().unwrap_or_else(|e| e.into_inner());
        for layer in &record.layers {
            let digest = layer.descriptor.digest();
            if !store.has_blob(digest) {
                sources.insert(digest.to_string(), source.clone());
            }
        }
    }
    super::mounts::import(active, &config.mounts, &source);
    for memo in &config.memos {
        let (digest, _) = store.put_blob(memo.value.as_bytes())?;
        store.cache_put(&memo.key, &digest)?;
    }
    Ok(usable)
}

/// The cache config `source` holds: a cache artifact's config blob, or the inline cache in
/// an image's config.
fn read_config(store: &Store, source: &BlobSource) -> Result<CacheConfig> {
    let manifest = match source {
        BlobSource::Registry(repo) => repo.manifest()?.0,
        BlobSource::Local(dir) => read_layout_manifest(dir)?,
    };
    let config_desc = match Artifact::config_of(&manifest) {
        Ok(desc) => desc,
        Err(e) => match image_config(&manifest) {
            Some(desc) => desc,
            None => return Err(e),
        },
    };
    match source {
        BlobSource::Registry(repo) => repo.fetch_blob(store, &config_desc).map(|_| ())?,
        BlobSource::Local(dir) => fetch_layout_blob(dir, store, &config_desc)?,
    }
    let bytes = store.read_blob(config_desc.digest())?;
    if config_desc.media_type() != &MediaType::ImageConfig {
        return CacheConfig::parse(&bytes);
    }
    let mut image: serde_json::Value = serde_json::from_slice(&bytes)?;
    match image.get_mut(INLINE_FIELD).map(serde_json::Value::take) {
        Some(inline) => CacheConfig::parse(&serde_json::to_vec(&inline)?),
        None => bail!("the image holds no inline cache (build it with --cache-to type=inline)"),
    }
}

/// The config descriptor of an image manifest.
fn image_config(manifest: &[u8]) -> Option<Descriptor> {
    let value: serde_json::Value = serde_json::from_slice(manifest).ok()?;
    let desc: Descriptor = serde_json::from_value(value.get("config")?.clone()).ok()?;
    (desc.media_type() == &MediaType::ImageConfig).then_some(desc)
}

/// Writes one record's config and manifest; returns the manifest's digest, which must be the
/// exporter's (the manifest is rebuilt byte for byte).
fn seed(store: &Store, record: &CacheRecord) -> Result<Digest> {
    let layers: Vec<_> = (record.layers.iter())
        .map(|l| l.descriptor.clone())
        .collect();
    let manifest = store.write_image_bytes(record.config.as_bytes(), &layers)?;
    if manifest.digest().to_string() != record.manifest {
        bail!(
            "its state rebuilds to manifest {}, not {}",
            manifest.digest(),
            record.manifest
        );
    }
    Ok(manifest.digest().clone())
}
