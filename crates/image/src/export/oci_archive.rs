//! `type=oci`: the image as an OCI image layout in one tar, named in `index.json`
//! the way BuildKit names it (`io.containerd.image.name` = the full name,
//! `org.opencontainers.image.ref.name` = its tag).

use super::archive::Archive;
use super::image::{all_blobs, SavedImage};
use super::output::Destination;
use crate::model::Index;
use crate::reference::Reference;
use crate::store::Store;
use anyhow::Result;
use oci_spec::image::Descriptor;
use std::collections::BTreeMap;

/// The annotation containerd and BuildKit use for the full image name.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI annotation for a manifest's name within a layout (the tag).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Writes the image `manifest` (a manifest or an index) with every blob it
/// references as an OCI layout tar to `dest`, with one `index.json` entry per name.
pub fn write_oci_archive(
    store: &Store,
    manifest: &Descriptor,
    names: &[String],
    dest: &Destination,
) -> Result<()> {
    write_oci_archive_of(
        store,
        &[SavedImage {
            manifest: manifest.clone(),
            names: names.to_vec(),
        }],
        dest,
    )
}

/// Writes several images as one OCI layout tar to `dest` (`skiff save --format oci A B`):
/// every blob once, one `index.json` entry per image and name.
pub fn write_oci_archive_of(
    store: &Store,
    images: &[SavedImage],
    dest: &Destination,
) -> Result<()> {
    let mut archive = Archive::default();
    let mut entries = Vec::new();
    for saved in images {
        for digest in all_blobs(store, &saved.manifest)? {
            archive.add_layout_blob(&digest);
        }
        entries.extend(index_entries(&saved.manifest, &saved.names)?);
    }
    archive.add_bytes("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec());
    archive.add_bytes("index.json", Index::new(entries).to_bytes()?);
    dest.write_with(|out| archive.write(store, out))
}

/// The `index.json` entries of one image: one per name, or one unnamed entry.
fn index_entries(manifest: &Descriptor, names: &[String]) -> Result<Vec<Descriptor>> {
    let mut entries = Vec::new();
    if names.is_empty() {
        entries.push(index_entry(manifest, BTreeMap::new()));
    }
    for name in names {
        let reference = Reference::parse(name)?;
        let full = reference.to_string();
        // containerd's `ociReferenceName`: what follows the repository (`latest`,
        // `v1@sha256:…`, `@sha256:…`).
        let object = full[reference.name().len()..]
            .trim_start_matches(':')
            .to_string();
        let annotations = BTreeMap::from([
            (ANNOTATION_IMAGE_NAME.to_string(), full),
            (ANNOTATION_REF_NAME.to_string(), object),
        ]);
        entries.push(index_entry(manifest, annotations));
    }
    Ok(entries)
}

/// The manifest's descriptor (its platform kept) with `annotations` only.
fn index_entry(manifest: &Descriptor, annotations: BTreeMap<String, String>) -> Descriptor {
    let mut entry = Descriptor::new(
        manifest.media_type().clone(),
        manifest.size(),
        manifest.digest().clone(),
    );
    entry.set_platform(manifest.platform().clone());
    if !annotations.is_empty() {
        entry.set_annotations(Some(annotations.into_iter().collect()));
    }
    entry
}
