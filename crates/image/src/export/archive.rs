//! A deterministic tar of in-memory files and store blobs: entries sorted by
//! path, with fixed owner, mode and mtime, so the same image gives the same bytes.
//! Blobs are streamed from the store, so memory does not grow with layer size.

use crate::store::Store;
use anyhow::{Context, Result};
use oci_spec::image::Digest;
use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};

/// What one archive entry holds.
enum Entry {
    Dir,
    Bytes(Vec<u8>),
    Blob(Digest),
    File(std::fs::File),
}

/// The entries of an archive, keyed (and so sorted) by path.
#[derive(Default)]
pub(crate) struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    /// Adds a small file held in memory.
    pub(crate) fn add_bytes(&mut self, path: &str, bytes: Vec<u8>) {
        self.add_parents(path);
        self.entries.insert(path.to_string(), Entry::Bytes(bytes));
    }

    /// Adds a store blob at `path` (streamed from the store when written).
    pub(crate) fn add_blob(&mut self, path: &str, digest: &Digest) {
        self.add_parents(path);
        self.entries
            .insert(path.to_string(), Entry::Blob(digest.clone()));
    }

    /// Adds the content of an open (scratch) file, read from its start when written.
    pub(crate) fn add_file(&mut self, path: &str, file: std::fs::File) {
        self.add_parents(path);
        self.entries.insert(path.to_string(), Entry::File(file));
    }

    /// Adds a blob at its OCI layout path, `blobs/<algorithm>/<hex>`, and returns the path.
    pub(crate) fn add_layout_blob(&mut self, digest: &Digest) -> String {
        let path = layout_path(digest);
        self.add_blob(&path, digest);
        path
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            end += i + 1;
            self.entries
                .entry(path[..end].to_string())
                .or_insert(Entry::Dir);
        }
    }

    /// Writes the tar to `out`.
    pub(crate) fn write(&self, store: &Store, out: &mut dyn Write) -> Result<()> {
        let mut tar = tar::Builder::new(out);
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_ustar();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(0);
            match entry {
                Entry::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_mode(0o755);
                    header.set_size(0);
                    tar.append_data(&mut header, path, std::io::empty())
                }
                Entry::Bytes(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, path, bytes.as_slice())
                }
                Entry::File(file) => {
                    let mut file: &std::fs::File = file;
                    file.seek(SeekFrom::Start(0))?;
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(file.metadata()?.len());
                    tar.append_data(&mut header, path, file)
                }
                Entry::Blob(digest) => {
                    let blob_path = store.blob_path(digest);
                    let file = std::fs::File::open(&blob_path).with_context(|| {
                        format!(
                            "blob {digest} is missing from the store ({}): pull or rebuild the image",
                            blob_path.display()
                        )
                    })?;
                    let size = file.metadata()?.len();
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_mode(0o644);
                    header.set_size(size);
                    tar.append_data(&mut header, path, file)
                }
            }
            .with_context(|| format!("adding {path} to the archive"))?;
        }
        tar.into_inner()
            .context("finishing the archive")?
            .flush()
            .context("writing the archive")
    }
}

/// `blobs/sha256/<hex>`: where an OCI image layout keeps a blob.
fn layout_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm(), digest.digest())
}
