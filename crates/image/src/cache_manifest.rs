//! The build cache as an OCI artifact (specified in `docs/remote-cache.md`): an image manifest
//! whose `artifactType` and config media type are skiff's, whose config blob holds the cache
//! records (step key → the state after the step) and whose layers list every layer blob the
//! records reference, so that a registry keeps them and `skopeo copy` carries them.
//!
//! The same artifact is written to a registry (`type=registry`) or to an OCI image layout
//! directory (`type=local`); this module has the format and the layout side.

use crate::store::Store;
use anyhow::{bail, Context as _, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::str::FromStr;

/// The artifact's `artifactType`.
pub const CACHE_ARTIFACT_TYPE: &str = "application/vnd.skiff.cache.v1";
/// The media type of the artifact's config blob (a [`CacheConfig`]).
pub const CACHE_CONFIG_MEDIA_TYPE: &str = "application/vnd.skiff.cache.config.v1+json";
/// The `format` field of a [`CacheConfig`].
pub const CACHE_FORMAT_NAME: &str = "skiff.cache";
/// The version of the [`CacheConfig`] layout; a reader ignores a cache of another version.
pub const CACHE_FORMAT_VERSION: u32 = 1;
/// OCI media type of an image manifest (the artifact is one).
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The config blob of a cache artifact: every record a build exported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CacheConfig {
    /// Always [`CACHE_FORMAT_NAME`].
    pub format: String,
    /// [`CACHE_FORMAT_VERSION`].
    pub version: u32,
    /// The cache key format the keys were computed with (`KEY_FORMAT_VERSION` of the engine):
    /// a reader with another key format finds no key, so it skips the whole cache.
    pub key_format: u32,
    /// Step results: key → image state.
    pub records: Vec<CacheRecord>,
    /// Small values stored under a key (`COPY --from` source checksums).
    pub memos: Vec<CacheMemo>,
    /// `RUN --mount=type=cache` contents (`cache-mounts=true`), one layer per cache.
    #[serde(default)]
    pub mounts: Vec<CacheMountRecord>,
}

/// The contents of one `RUN --mount=type=cache` directory, as a layer of its own.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CacheMountRecord {
    /// The directory's name in the store (a hash of the id and of its `from` source).
    pub name: String,
    /// The mount's `id`.
    pub id: String,
    /// Owner and mode of the cache's top directory.
    pub uid: u32,
    /// Group of the cache's top directory.
    pub gid: u32,
    /// Mode of the cache's top directory.
    pub mode: u32,
    /// The contents, as a layer blob (relative to the cache's top directory).
    pub layer: CacheLayer,
}

/// The state after one step: what `skiff` stores under the step's key.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CacheRecord {
    /// The step's cache key (`sha256:…`, see `docs/cache-keys.md`).
    pub key: String,
    /// The digest of the state's image manifest on the exporting machine; an importer
    /// rebuilds the manifest from `config` and `layers` and checks it gives this digest.
    pub manifest: String,
    /// The image config (history included), byte for byte as stored.
    pub config: String,
    /// The layers, lowest first.
    pub layers: Vec<CacheLayer>,
}

/// One layer of a [`CacheRecord`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CacheLayer {
    /// The layer blob's descriptor (media type, digest, size) as in the manifest.
    pub descriptor: Descriptor,
    /// The digest of the uncompressed layer (the config's `rootfs.diff_ids` entry).
    #[serde(rename = "diffId")]
    pub diff_id: String,
}

/// A small value stored under a key, as text.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CacheMemo {
    /// The key (a `source_checksum` key).
    pub key: String,
    /// The value, exactly as the store holds it.
    pub value: String,
}

impl CacheConfig {
    /// An empty cache of the current format for keys of `key_format`.
    pub fn new(key_format: u32) -> CacheConfig {
        CacheConfig {
            format: CACHE_FORMAT_NAME.into(),
            version: CACHE_FORMAT_VERSION,
            key_format,
            records: Vec::new(),
            memos: Vec::new(),
            mounts: Vec::new(),
        }
    }

    /// Every layer the records reference, each once, in first-seen order.
    pub fn layers(&self) -> Vec<Descriptor> {
        let mut seen = std::collections::BTreeSet::new();
        (self.records.iter())
            .flat_map(|r| r.layers.iter())
            .chain(self.mounts.iter().map(|m| &m.layer))
            .filter(|l| seen.insert(l.descriptor.digest().to_string()))
            .map(|l| l.descriptor.clone())
            .collect()
    }

    /// Parses a config blob; a blob of another format or version is an error.
    pub fn parse(bytes: &[u8]) -> Result<CacheConfig> {
        let config: CacheConfig =
            serde_json::from_slice(bytes).context("parsing the cache config")?;
        if config.format != CACHE_FORMAT_NAME || config.version != CACHE_FORMAT_VERSION {
            bail!(
                "the cache is {} version {}; this skiff reads {CACHE_FORMAT_NAME} version \
                 {CACHE_FORMAT_VERSION}",
                config.format,
                config.version
            );
        }
        Ok(config)
    }
}

/// The artifact's manifest JSON.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest {
    schema_version: u32,
    media_type: String,
    artifact_type: String,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// A cache artifact written into a store: its manifest bytes and the blobs it references.
pub struct Artifact {
    /// The manifest's bytes.
    pub manifest: Vec<u8>,
    /// The config blob's descriptor (the blob is in the store).
    pub config: Descriptor,
    /// The layer blobs' descriptors.
    pub layers: Vec<Descriptor>,
}

impl Artifact {
    /// Writes `config` as a blob into `store` and makes the artifact's manifest.
    pub fn build(store: &Store, config: &CacheConfig) -> Result<Artifact> {
        let bytes = serde_json::to_vec(config)?;
        let (digest, size) = store.put_blob(&bytes)?;
        let config_desc = Descriptor::new(
            MediaType::Other(CACHE_CONFIG_MEDIA_TYPE.into()),
            size,
            digest,
        );
        let layers = config.layers();
        let manifest = serde_json::to_vec(&ArtifactManifest {
            schema_version: 2,
            media_type: MANIFEST_MEDIA_TYPE.into(),
            artifact_type: CACHE_ARTIFACT_TYPE.into(),
            config: config_desc.clone(),
            layers: layers.clone(),
        })?;
        Ok(Artifact {
            manifest,
            config: config_desc,
            layers,
        })
    }

    /// The media type to put the manifest with.
    pub fn media_type() -> &'static str {
        MANIFEST_MEDIA_TYPE
    }

    /// The config blob's descriptor named by a manifest, checking it is a skiff cache.
    pub fn config_of(manifest: &[u8]) -> Result<Descriptor> {
        let m: ArtifactManifest =
            serde_json::from_slice(manifest).context("parsing the cache manifest")?;
        let media = m.config.media_type().to_string();
        if media != CACHE_CONFIG_MEDIA_TYPE {
            bail!("not a skiff cache (its config is {media})");
        }
        Ok(m.config)
    }
}

/// Writes `artifact` (its blobs taken from `store`) into the OCI image layout `dir`, named
/// `latest` in its `index.json` (replacing what had that name).
pub fn write_layout(store: &Store, artifact: &Artifact, dir: &Path) -> Result<()> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    for blob in artifact.layers.iter().chain([&artifact.config]) {
        let dest = blobs.join(blob.digest().digest());
        if !dest.is_file() {
            copy_file(&store.blob_path(blob.digest()), &dest)?;
        }
    }
    let digest = Digest::from_str(&format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&artifact.manifest))
    ))?;
    write_atomic(&blobs.join(digest.digest()), &artifact.manifest)?;
    write_atomic(
        &dir.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": CACHE_ARTIFACT_TYPE,
            "digest": digest.to_string(),
            "size": artifact.manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": "latest"}
        }]
    });
    write_atomic(&dir.join("index.json"), &serde_json::to_vec(&index)?)
}

/// The manifest bytes of the cache in the OCI image layout `dir` (the `latest` entry of its
/// `index.json`, else its only entry).
pub fn read_layout_manifest(dir: &Path) -> Result<Vec<u8>> {
    let index_path = dir.join("index.json");
    let text =
        std::fs::read(&index_path).with_context(|| format!("reading {}", index_path.display()))?;
    let index: serde_json::Value = serde_json::from_slice(&text).context("parsing index.json")?;
    let manifests = index["manifests"].as_array().cloned().unwrap_or_default();
    let named = manifests
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str() == Some("latest"));
    let entry = match (named, manifests.as_slice()) {
        (Some(m), _) | (None, [m]) => m,
        _ => bail!("{} names no cache (`latest`)", index_path.display()),
    };
    let digest = Digest::from_str(entry["digest"].as_str().unwrap_or_default())
        .context("the index entry's digest")?;
    read_layout_blob(dir, &digest)
}

/// The path of blob `digest` in the OCI image layout `dir`.
pub fn layout_blob_path(dir: &Path, digest: &Digest) -> std::path::PathBuf {
    dir.join("blobs")
        .join(digest.algorithm().as_ref())
        .join(digest.digest())
}

/// Reads a blob of the layout `dir`, checking its digest.
pub fn read_layout_blob(dir: &Path, digest: &Digest) -> Result<Vec<u8>> {
    let path = layout_blob_path(dir, digest);
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let actual = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes));
    if actual != digest.digest() {
        bail!("{} does not match its digest {digest}", path.display());
    }
    Ok(bytes)
}

/// Copies blob `blob` of the layout `dir` into `store`, verifying its digest and size (a
/// mismatch stores nothing and is an error).
pub fn fetch_layout_blob(dir: &Path, store: &Store, blob: &Descriptor) -> Result<()> {
    if store.has_blob(blob.digest()) {
        return Ok(());
    }
    let path = layout_blob_path(dir, blob.digest());
    let mut file =
        std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut writer = store.blob_writer()?;
    std::io::copy(&mut file, &mut writer).with_context(|| format!("reading {}", path.display()))?;
    writer.commit(Some((blob.digest(), Some(blob.size()))))?;
    Ok(())
}

fn copy_file(from: &Path, to: &Path) -> Result<()> {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp)
        .with_context(|| format!("copying {} to {}", from.display(), tmp.display()))?;
    std::fs::rename(&tmp, to).with_context(|| format!("renaming into {}", to.display()))
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming into {}", path.display()))
}
