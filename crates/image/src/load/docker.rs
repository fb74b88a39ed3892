//! Docker archives (`docker save`): `manifest.json` lists each image's config and layer
//! paths and its `RepoTags`. Docker 20.10 writes `<id>.json` configs and uncompressed
//! `<id>/layer.tar` layers; newer Dockers and skiff write `blobs/sha256/<hex>`, skiff with
//! gzip layers. A config named by its digest must have that digest, and every layer must
//! have the diff ID its config lists (the check `docker load` makes); the manifest
//! written into the store gives each layer the OCI media type of its compression.

use super::loaded::LoadedImage;
use super::members::{sha256_of, Members};
use crate::layer::{decompressed, sniff, Compressed, SNIFF_LEN};
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use std::io::Read;

/// One image in `manifest.json`, field names as Docker spells them.
#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers", default)]
    layers: Vec<String>,
}

/// Loads every image `manifest.json` lists (not yet named in the store).
pub(crate) fn load(store: &Store, members: &Members<'_>) -> Result<Vec<LoadedImage>> {
    let entries: Vec<Entry> = serde_json::from_slice(&members.bytes("manifest.json")?)
        .context("manifest.json of the docker archive is not valid")?;
    entries
        .iter()
        .map(|entry| load_one(store, members, entry))
        .collect()
}

fn load_one(store: &Store, members: &Members<'_>, entry: &Entry) -> Result<LoadedImage> {
    let config = members.bytes(&entry.config)?;
    let id = sha256_of(&config);
    let stem = entry.config.rsplit('/').next().unwrap_or_default();
    let stem = stem.strip_suffix(".json").unwrap_or(stem);
    if stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit()) && stem != id.digest() {
        bail!(
            "config {} in the archive is corrupt: its digest is {id}",
            entry.config
        );
    }
    let value: serde_json::Value = serde_json::from_slice(&config)
        .with_context(|| format!("config {} in the archive is not JSON", entry.config))?;
    let diff_ids: Vec<&str> = value["rootfs"]["diff_ids"]
        .as_array()
        .map(|ids| ids.iter().filter_map(|d| d.as_str()).collect())
        .unwrap_or_default();
    if diff_ids.len() != entry.layers.len() {
        bail!(
            "image {id} in the archive lists {} layers but its config has {} diff IDs",
            entry.layers.len(),
            diff_ids.len()
        );
    }
    let mut layers = Vec::new();
    for (path, diff_id) in entry.layers.iter().zip(diff_ids) {
        let (digest, size) = members.store_blob(path)?;
        let (media_type, actual) = classify(store, &digest)
            .with_context(|| format!("reading layer {path} of the archive"))?;
        if actual.to_string() != diff_id {
            bail!(
                "layer {path} in the archive is corrupt: its content has diff ID {actual}, \
                 its image config says {diff_id}"
            );
        }
        layers.push(Descriptor::new(media_type, size, digest));
    }
    let manifest = store.write_image_bytes(&config, &layers)?;
    let names = entry
        .repo_tags
        .iter()
        .flatten()
        .map(|tag| {
            Reference::parse(tag)
                .map(|r| r.to_string())
                .with_context(|| format!("the archive names an image {tag:?}"))
        })
        .collect::<Result<_>>()?;
    Ok(LoadedImage {
        names,
        id,
        manifest,
    })
}

/// A layer blob's media type (by its magic bytes) and its diff ID (the digest of
/// the uncompressed tar).
fn classify(store: &Store, digest: &Digest) -> Result<(MediaType, Digest)> {
    let mut file = std::fs::File::open(store.blob_path(digest))?;
    let mut head = [0u8; SNIFF_LEN];
    let n = file.read(&mut head)?;
    let media_type = match sniff(&head[..n]) {
        None => return Ok((MediaType::ImageLayer, digest.clone())),
        Some(Compressed::Gzip) => MediaType::ImageLayerGzip,
        Some(Compressed::Zstd) => MediaType::ImageLayerZstd,
        Some(other) => bail!("the layer is {other:?}-compressed, which no image may use"),
    };
    let file = std::fs::File::open(store.blob_path(digest))?;
    let mut reader = decompressed(file)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader.read(&mut buf).context("decompressing the layer")?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let diff_id = format!("sha256:{}", hex::encode(hasher.finalize())).parse()?;
    Ok((media_type, diff_id))
}
