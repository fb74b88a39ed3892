//! Writing the cache entries a build used or made as a cache artifact to a registry or an
//! OCI layout directory. Layers the registry has already are not uploaded again.

use super::active::ensure_layers;
use super::flags::{CacheLocation, CacheMode, CacheTo};
use crate::cachekey::KEY_FORMAT_VERSION;
use anyhow::{Context as _, Result};
use oci_spec::image::{Descriptor, Digest};
use serde::Deserialize;
use skiff_image::cache_manifest::{
    write_layout, Artifact, CacheConfig, CacheLayer, CacheMemo, CacheMountRecord, CacheRecord,
};
use skiff_image::registry::{Client, ClientOptions, Repository};
use skiff_image::Store;
use std::collections::BTreeSet;

/// The parts of an image manifest a record needs.
#[derive(Deserialize)]
struct ManifestParts {
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// The parts of an image config a record needs.
#[derive(Deserialize)]
struct ConfigParts {
    rootfs: RootFs,
}

#[derive(Deserialize)]
struct RootFs {
    diff_ids: Vec<String>,
}

/// Exports `log` (key → value entries) to `to`; returns what it did, for the progress.
pub(super) fn export(
    store: &Store,
    to: &CacheTo,
    log: &[(String, Digest)],
    final_layers: &[Descriptor],
    insecure: &[String],
    mounts: Vec<CacheMountRecord>,
) -> Result<String> {
    let mut config = collect(store, to.mode, log, final_layers)?;
    config.mounts = mounts;
    let artifact = Artifact::build(store, &config)?;
    let records = config.records.len();
    match &to.location {
        CacheLocation::Registry(reference) => {
            let repo = Repository::new(
                Client::new(ClientOptions {
                    insecure_registries: insecure.to_vec(),
                    ..ClientOptions::default()
                }),
                reference.clone(),
            )?;
            let mut blobs = artifact.layers.clone();
            blobs.push(artifact.config.clone());
            // A layer this store never fetched is fetched only when the repository lacks it.
            let ensure = |blob: &Descriptor| ensure_layers(store, std::slice::from_ref(blob));
            let done = repo.put_blobs(store, &blobs, &ensure)?;
            repo.put_manifest(&artifact.manifest, Artifact::media_type())?;
            Ok(format!(
                "exported cache to {reference}: {records} records; blobs: {} uploaded, {} \
                 mounted, {} already there",
                done.uploaded, done.mounted, done.skipped
            ))
        }
        CacheLocation::Inline => unreachable!("an inline cache is written into the image"),
        CacheLocation::Local(dir) => {
            ensure_layers(store, &artifact.layers)?;
            write_layout(store, &artifact, dir)?;
            Ok(format!(
                "exported cache to {}: {records} records",
                dir.display()
            ))
        }
    }
}

/// The cache config of the entries in `log` that `mode` exports: `max` all of them, `min`
/// the memos and the states whose layers the final image starts with.
pub(super) fn collect(
    store: &Store,
    mode: CacheMode,
    log: &[(String, Digest)],
    final_layers: &[Descriptor],
) -> Result<CacheConfig> {
    let mut config = CacheConfig::new(KEY_FORMAT_VERSION);
    let mut seen = BTreeSet::new();
    for (key, value) in log {
        if !seen.insert(key.as_str()) {
            continue;
        }
        let bytes = store.read_blob(value)?;
        let Ok(manifest) = serde_json::from_slice::<ManifestParts>(&bytes) else {
            let value = String::from_utf8(bytes).context("a cache memo is not text")?;
            config.memos.push(CacheMemo {
                key: key.clone(),
                value,
            });
            continue;
        };
        let in_final = manifest.layers.len() <= final_layers.len()
            && (manifest.layers.iter().zip(final_layers)).all(|(a, b)| a.digest() == b.digest());
        if mode == CacheMode::Min && !in_final {
            continue;
        }
        config.records.push(record(store, key, value, manifest)?);
    }
    // Stages run at the same time note their entries in any order: sorted, the same build
    // exports the same bytes (an inline cache is part of the image's digest).
    config.records.sort_by(|a, b| a.key.cmp(&b.key));
    config.memos.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(config)
}

/// The field of an image config that holds an inline cache.
pub(super) const INLINE_FIELD: &str = "skiff.cache.v1";

/// `config` (an image config's JSON object, as skiff writes it) with `cache` added as its
/// last field, the rest of the bytes unchanged.
pub(super) fn inline_config(config: &[u8], cache: &CacheConfig) -> Result<Vec<u8>> {
    let body = config
        .strip_suffix(b"}")
        .context("an image config is a JSON object")?;
    let mut out = body.to_vec();
    out.extend_from_slice(format!(",\"{INLINE_FIELD}\":").as_bytes());
    out.extend(skiff_image::model::go_json(serde_json::to_vec(cache)?));
    out.push(b'}');
    Ok(out)
}

fn record(
    store: &Store,
    key: &str,
    value: &Digest,
    manifest: ManifestParts,
) -> Result<CacheRecord> {
    let text = String::from_utf8(store.read_blob(manifest.config.digest())?)
        .context("an image config is not UTF-8")?;
    let parts: ConfigParts = serde_json::from_str(&text).context("parsing an image config")?;
    let layers = (manifest.layers.into_iter())
        .zip(parts.rootfs.diff_ids)
        .map(|(descriptor, diff_id)| CacheLayer {
            descriptor,
            diff_id,
        })
        .collect();
    Ok(CacheRecord {
        key: key.to_string(),
        manifest: value.to_string(),
        config: text,
        layers,
    })
}
