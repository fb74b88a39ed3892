//! A small, independent OCI image layout writer (tar + sha2 + serde_json only).
//!
//! Fixtures are written with this rather than with skiff's own store, so that a bug in
//! skiff's image code cannot hide itself by producing the very fixtures it is tested with.

use anyhow::{Context, Result};
use flate2::write::GzEncoder;
use serde_json::{json, Value};
use sha2::{Digest as _, Sha256};
use std::io::Write;
use std::path::Path;

/// Modification time of every entry the fixtures write (2024-01-01T00:00:00Z), so that the
/// same inputs give the same bytes and so the same digests.
pub const FIXED_MTIME: u64 = 1_704_067_200;

/// Media type of an uncompressed OCI layer.
pub const MEDIA_TYPE_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
/// Media type of a gzip-compressed OCI layer.
pub const MEDIA_TYPE_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// Media type of an OCI image manifest.
pub const MEDIA_TYPE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of an OCI image index.
pub const MEDIA_TYPE_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Media type of an OCI image config.
pub const MEDIA_TYPE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// One layer of a fixture image: its uncompressed tar, stored gzip-compressed or not.
pub struct Layer {
    /// The uncompressed tar stream (its digest is the config's `diff_id`).
    pub tar: Vec<u8>,
    /// Store the blob as `tar+gzip` (realistic) or as a plain tar (fast for big random layers).
    pub gzip: bool,
}

/// The blobs and digests of an image written by [`write_layout`].
#[derive(Clone, Debug)]
pub struct WrittenImage {
    /// `sha256:…` of the manifest: what a registry reports after a push that kept digests.
    pub manifest_digest: String,
    /// `sha256:…` of the config blob.
    pub config_digest: String,
    /// `sha256:…` of each layer blob as stored (compressed if gzip), lowest first.
    pub layer_digests: Vec<String>,
}

/// `sha256:<hex>` of some bytes.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// The `GOARCH`-style name of the host's architecture, as image configs spell it.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Writes an OCI image layout in `dir` (created if needed) holding one image for the host's
/// platform, tagged `tag` (the `org.opencontainers.image.ref.name` annotation, which
/// `oci:DIR:TAG` selects).
///
/// `container_config` is the config's `config` object (`Env`, `Cmd`, `WorkingDir`, …); the
/// rest of the config (os, architecture, rootfs diff IDs, history) is filled in here.
pub fn write_layout(
    dir: &Path,
    tag: &str,
    layers: &[Layer],
    container_config: Value,
) -> Result<WrittenImage> {
    let platform = format!("linux/{}", host_architecture());
    let (image, manifest) = write_image(dir, &platform, layers, container_config)?;
    write_index_json(dir, &[manifest], tag)?;
    Ok(image)
}

/// One image of a multi-platform index.
pub struct PlatformImage {
    /// `os/arch[/variant]`, e.g. `linux/arm64` or `linux/arm/v7`.
    pub platform: String,
    /// Its layers, lowest first.
    pub layers: Vec<Layer>,
    /// Its config's `config` object.
    pub container_config: Value,
}

/// The blobs and digests of a multi-platform image written by [`write_index_layout`].
#[derive(Clone, Debug)]
pub struct WrittenIndex {
    /// `sha256:…` of the index.
    pub index_digest: String,
    /// Each platform's image, in the order given.
    pub images: Vec<WrittenImage>,
}

/// Writes an OCI image layout in `dir` whose image `tag` is an index over several platforms.
pub fn write_index_layout(dir: &Path, tag: &str, images: &[PlatformImage]) -> Result<WrittenIndex> {
    let mut written = Vec::new();
    let mut manifests = Vec::new();
    for image in images {
        let (image, manifest) = write_image(
            dir,
            &image.platform,
            &image.layers,
            image.container_config.clone(),
        )?;
        written.push(image);
        manifests.push(manifest);
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": manifests,
    });
    let bytes = serde_json::to_vec(&index)?;
    let index_digest = put_blob(dir, &bytes)?;
    let descriptor =
        json!({"mediaType": MEDIA_TYPE_INDEX, "digest": index_digest, "size": bytes.len()});
    write_index_json(dir, &[descriptor], tag)?;
    Ok(WrittenIndex {
        index_digest,
        images: written,
    })
}

/// Writes one image's blobs; returns them and the manifest's descriptor (with its platform).
fn write_image(
    dir: &Path,
    platform: &str,
    layers: &[Layer],
    container_config: Value,
) -> Result<(WrittenImage, Value)> {
    let mut parts = platform.splitn(3, '/');
    let (os, architecture, variant) = (
        parts.next().unwrap_or("linux"),
        parts.next().context("a platform is os/arch[/variant]")?,
        parts.next(),
    );
    let mut layer_descriptors = Vec::new();
    let mut layer_digests = Vec::new();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for layer in layers {
        diff_ids.push(sha256_digest(&layer.tar));
        let (blob, media_type) = if layer.gzip {
            let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
            gz.write_all(&layer.tar)?;
            (gz.finish()?, MEDIA_TYPE_LAYER_GZIP)
        } else {
            (layer.tar.clone(), MEDIA_TYPE_LAYER_TAR)
        };
        let digest = put_blob(dir, &blob)?;
        layer_descriptors.push(json!({
            "mediaType": media_type, "digest": digest, "size": blob.len(),
        }));
        layer_digests.push(digest);
        history.push(json!({"created": "2024-01-01T00:00:00Z", "created_by": "skiff-testkit"}));
    }
    let mut config = json!({
        "created": "2024-01-01T00:00:00Z",
        "architecture": architecture,
        "os": os,
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let mut platform_json = json!({"os": os, "architecture": architecture});
    if let Some(variant) = variant {
        config["variant"] = json!(variant);
        platform_json["variant"] = json!(variant);
    }
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = put_blob(dir, &config_bytes)?;
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_MANIFEST,
        "config": {"mediaType": MEDIA_TYPE_CONFIG, "digest": config_digest, "size": config_bytes.len()},
        "layers": layer_descriptors,
    });
    let manifest_bytes = serde_json::to_vec(&manifest)?;
    let manifest_digest = put_blob(dir, &manifest_bytes)?;
    let descriptor = json!({
        "mediaType": MEDIA_TYPE_MANIFEST,
        "digest": manifest_digest,
        "size": manifest_bytes.len(),
        "platform": platform_json,
    });
    let image = WrittenImage {
        manifest_digest,
        config_digest,
        layer_digests,
    };
    Ok((image, descriptor))
}

/// Stores a blob in the layout under its digest.
fn put_blob(dir: &Path, bytes: &[u8]) -> Result<String> {
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).with_context(|| format!("creating {}", blobs.display()))?;
    let digest = sha256_digest(bytes);
    let path = blobs.join(&digest["sha256:".len()..]);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
    Ok(digest)
}

/// Writes `oci-layout` and `index.json` naming the first descriptor `tag`.
fn write_index_json(dir: &Path, descriptors: &[Value], tag: &str) -> Result<()> {
    let mut manifests = descriptors.to_vec();
    if let Some(first) = manifests.first_mut() {
        first["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    }
    let index = json!({
        "schemaVersion": 2,
        "mediaType": MEDIA_TYPE_INDEX,
        "manifests": manifests,
    });
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    std::fs::write(dir.join("index.json"), serde_json::to_vec(&index)?)?;
    Ok(())
}

/// Builds a layer tar from regular files (`path`, contents), each mode 0644 and owned by root.
pub fn tar_of_files(files: &[(&str, &[u8])]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(FIXED_MTIME);
        builder.append_data(&mut header, path, *contents)?;
    }
    Ok(builder.into_inner()?)
}
