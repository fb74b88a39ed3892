//! `index.json`: the OCI layout's list of manifests, where named images carry the
//! `org.opencontainers.image.ref.name` annotation. Updated read-modify-write under
//! an exclusive lock and replaced atomically, so concurrent skiff processes never
//! lose each other's names and readers never see a torn file.

use super::fsutil::{atomic_write, FileLock};
use super::Store;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ImageIndex, ImageIndexBuilder, MediaType, ANNOTATION_REF_NAME};

pub(crate) fn empty_index() -> Result<ImageIndex> {
    Ok(ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(Vec::<Descriptor>::new())
        .build()?)
}

/// Reads `index.json` (no lock needed: it is only ever replaced by rename).
pub(crate) fn read(store: &Store) -> Result<ImageIndex> {
    let path = store.root().join("index.json");
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return empty_index(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    serde_json::from_slice(&bytes).with_context(|| {
        format!(
            "{} is not a valid OCI image index; fix or remove it",
            path.display()
        )
    })
}

/// Runs `change` on the current index under the index lock and writes the result.
pub(crate) fn update<T>(store: &Store, change: impl FnOnce(&mut ImageIndex) -> T) -> Result<T> {
    let _lock = FileLock::acquire(&store.locks_dir().join("index.lock"), true)?;
    let mut index = read(store)?;
    let out = change(&mut index);
    let bytes = serde_json::to_vec_pretty(&index).context("cannot serialise index.json")?;
    atomic_write(&store.tmp_dir(), &store.root().join("index.json"), &bytes)?;
    Ok(out)
}

/// The name a descriptor carries in `index.json`, if any.
pub(crate) fn ref_name(desc: &Descriptor) -> Option<&str> {
    desc.annotations()
        .as_ref()
        .and_then(|a| a.get(ANNOTATION_REF_NAME))
        .map(String::as_str)
}

/// Points `name` at `manifest`, replacing any previous entry of that name.
pub(crate) fn set_name(index: &mut ImageIndex, name: &str, manifest: &Descriptor) {
    remove_name(index, name);
    let mut desc = manifest.clone();
    let mut annotations = desc.annotations().clone().unwrap_or_default();
    annotations.insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
    desc.set_annotations(Some(annotations));
    let mut manifests = index.manifests().clone();
    manifests.push(desc);
    index.set_manifests(manifests);
}

/// Removes every entry named `name`; returns whether one existed.
pub(crate) fn remove_name(index: &mut ImageIndex, name: &str) -> bool {
    let before = index.manifests().len();
    let mut manifests = index.manifests().clone();
    manifests.retain(|d| ref_name(d) != Some(name));
    index.set_manifests(manifests);
    index.manifests().len() != before
}
