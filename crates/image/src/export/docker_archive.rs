//! `type=docker`: the archive `docker load` reads (`manifest.json`, `repositories`,
//! the config and the layer blobs). Docker 20.10 refuses OCI archives, so this
//! is its own format; `docker load` decompresses layers itself (moby's
//! `tarexport` runs every layer through `archive.DecompressStream`), so the
//! store's gzip layer blobs are streamed in as they are, as BuildKit does; it
//! cannot read zstd, so those layers are shipped uncompressed.

use super::archive::Archive;
use super::image::SavedImage;
use super::output::Destination;
use crate::layer::decompressed;
use crate::reference::Reference;
use crate::store::Store;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, MediaType};
use serde::Serialize;
use sha2::{Digest as _, Sha256};
use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Write};
use std::path::Path;

/// One image in `manifest.json`, field names as Docker spells them.
#[derive(Serialize)]
struct DockerManifestEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags")]
    repo_tags: Vec<String>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Writes the single-platform image `manifest` as a docker archive to `dest`,
/// tagged with `names` (names pinned by digest are left out: Docker cannot tag
/// with them).
pub fn write_docker_archive(
    store: &Store,
    manifest: &Descriptor,
    names: &[String],
    dest: &Destination,
) -> Result<()> {
    write_docker_archive_of(
        store,
        &[SavedImage {
            manifest: manifest.clone(),
            names: names.to_vec(),
        }],
        dest,
    )
}

/// Writes several single-platform images as one docker archive to `dest` (what
/// `docker save A B` writes): one `manifest.json` entry per image, each layer
/// once, the `repositories` file naming every tag.
pub fn write_docker_archive_of(
    store: &Store,
    images: &[SavedImage],
    dest: &Destination,
) -> Result<()> {
    let mut archive = Archive::default();
    let scratch = dest.scratch_dir()?;
    let mut entries = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for saved in images {
        let image = store.read_manifest(&saved.manifest)?;
        let config = archive.add_layout_blob(image.config.digest());
        let layers = image
            .layers
            .iter()
            .map(|layer| add_layer(&mut archive, store, layer, &scratch))
            .collect::<Result<_>>()?;
        let mut repo_tags = Vec::new();
        for name in &saved.names {
            let reference = Reference::parse(name)?;
            if let (Some(tag), None) = (reference.tag(), reference.digest()) {
                let familiar = reference.familiar();
                let repo = familiar[..familiar.len() - tag.len() - 1].to_string();
                repo_tags.push(familiar);
                // `docker save` records the top layer's v1 ID here; `docker load` reads
                // this file only when manifest.json is absent, so the image ID serves.
                repositories
                    .entry(repo)
                    .or_default()
                    .insert(tag.to_string(), image.config.digest().digest().to_string());
            }
        }
        entries.push(DockerManifestEntry {
            config,
            repo_tags,
            layers,
        });
    }
    archive.add_bytes("manifest.json", serde_json::to_vec(&entries)?);
    if !repositories.is_empty() {
        archive.add_bytes("repositories", serde_json::to_vec(&repositories)?);
    }
    dest.write_with(|out| archive.write(store, out))
}

/// Adds one layer and returns its path in the archive. gzip and uncompressed
/// layers go in as the store holds them; zstd layers are decompressed into a
/// scratch file first, since docker 20.10 cannot read them ("unexpected EOF").
fn add_layer(
    archive: &mut Archive,
    store: &Store,
    layer: &Descriptor,
    scratch: &Path,
) -> Result<String> {
    if !is_zstd(layer.media_type()) {
        return Ok(archive.add_layout_blob(layer.digest()));
    }
    let blob = std::fs::File::open(store.blob_path(layer.digest())).with_context(|| {
        format!(
            "layer {} is missing from the store: pull or rebuild the image",
            layer.digest()
        )
    })?;
    let mut reader = decompressed(blob)?;
    let file = tempfile::tempfile_in(scratch)
        .with_context(|| format!("creating a scratch file in {}", scratch.display()))?;
    let mut out = BufWriter::new(file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .with_context(|| format!("decompressing layer {}", layer.digest()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    let path = format!("blobs/sha256/{}", hex::encode(hasher.finalize()));
    archive.add_file(&path, file);
    Ok(path)
}

fn is_zstd(media_type: &MediaType) -> bool {
    matches!(
        media_type,
        MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd
    )
}
