//! `index.json`: the OCI layout's list of manifests, where named images carry the
//! `org.opencontainers.image.ref.name` annotation. Updated read-modify-write under
//! an exclusive lock and replaced atomically, so concurrent skiff processes never
//! lose each other's names and readers never see a torn file.

use super::fsutil::{atomic_write, FileLock};
use super::layout::Store;
use crate::model::Index;
use anyhow::{Context, Result};
use oci_spec::image::{Descriptor, ANNOTATION_REF_NAME};

/// Reads `index.json` (no lock needed: it is only ever replaced by rename).
pub(crate) fn read(store: &Store) -> Result<Index> {
    let path = store.index_path();
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Index::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    Index::from_bytes(&bytes).with_context(|| {
        format!(
            "{} is not a valid OCI image index; fix or remove it",
            path.display()
        )
    })
}

/// Runs `change` on the current index under the index lock and writes the result.
pub(crate) fn update<T>(store: &Store, change: impl FnOnce(&mut Index) -> T) -> Result<T> {
    let _lock = FileLock::acquire(&store.locks_dir().join("index.lock"), true)?;
    let mut index = read(store)?;
    let out = change(&mut index);
    atomic_write(
        &store.tmp_dir(),
        &store.index_path(),
        &index.to_pretty_bytes()?,
    )?;
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
pub(crate) fn set_name(index: &mut Index, name: &str, manifest: &Descriptor) {
    remove_name(index, name);
    let mut desc = manifest.clone();
    let mut annotations = desc.annotations().clone().unwrap_or_default();
    annotations.insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
    desc.set_annotations(Some(annotations));
    index.manifests.push(desc);
}

/// Removes every entry named `name`; returns whether one existed.
pub(crate) fn remove_name(index: &mut Index, name: &str) -> bool {
    let before = index.manifests.len();
    index.manifests.retain(|d| ref_name(d) != Some(name));
    index.manifests.len() != before
}
