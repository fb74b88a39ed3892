//! The content store: one directory laid out as an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/…`) plus skiff's own state
//! (extracted layer snapshots, the build cache index, locks).
//!
//! CONTRACT (lead): the signatures below are what the engine and the registry code
//! program against. Bodies are filled in by the store work; keep the signatures.

use anyhow::Result;
use oci_spec::image::{Descriptor, Digest};
use std::path::{Path, PathBuf};

/// A handle on one store directory. Cheap to clone; safe to use from several
/// threads and from several skiff processes at once (file locks).
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// A blob being written: bytes are streamed to a temp file inside the store and
/// hashed as they go; [`BlobWriter::commit`] verifies, fsyncs and renames into place.
pub struct BlobWriter {
    _private: (),
}

impl std::io::Write for BlobWriter {
    fn write(&mut self, _buf: &[u8]) -> std::io::Result<usize> {
        unimplemented!()
    }
    fn flush(&mut self) -> std::io::Result<()> {
        unimplemented!()
    }
}

impl BlobWriter {
    /// Finishes the blob. With `expected`, a digest (or size) mismatch is an error
    /// and nothing is stored. Returns the digest and size.
    pub fn commit(self, _expected: Option<(&Digest, Option<u64>)>) -> Result<(Digest, u64)> {
        unimplemented!()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        Ok(Store {
            root: root.as_ref().to_path_buf(),
        })
    }

    /// The default root: `$SKIFF_ROOT`, else `/var/lib/skiff` as root, else `$XDG_DATA_HOME/skiff`.
    pub fn default_root() -> PathBuf {
        unimplemented!()
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a blob lives (whether or not it exists).
    pub fn blob_path(&self, _digest: &Digest) -> PathBuf {
        unimplemented!()
    }

    /// Whether the blob is present.
    pub fn has_blob(&self, _digest: &Digest) -> bool {
        unimplemented!()
    }

    /// Starts writing a new blob.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        unimplemented!()
    }

    /// Stores a small blob held in memory.
    pub fn put_blob(&self, _bytes: &[u8]) -> Result<(Digest, u64)> {
        unimplemented!()
    }

    /// Reads a whole (small) blob, verifying nothing: blobs are verified when written.
    pub fn read_blob(&self, _digest: &Digest) -> Result<Vec<u8>> {
        unimplemented!()
    }

    /// Names an image: `name` (normalised reference) → manifest descriptor, in `index.json`.
    pub fn tag(&self, _name: &str, _manifest: &Descriptor) -> Result<()> {
        unimplemented!()
    }

    /// The manifest descriptor a name points at.
    pub fn resolve(&self, _name: &str) -> Result<Option<Descriptor>> {
        unimplemented!()
    }

    /// Removes a name; returns whether it existed.
    pub fn untag(&self, _name: &str) -> Result<bool> {
        unimplemented!()
    }

    /// All named images.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>> {
        unimplemented!()
    }

    /// Makes sure every layer is extracted (overlay-ready: OCI whiteouts turned into
    /// overlay whiteouts) and returns their directories, lowest layer first.
    /// Extraction happens once per layer and is shared by all builds.
    pub fn snapshots(&self, _layers: &[Descriptor]) -> Result<Vec<PathBuf>> {
        unimplemented!()
    }

    /// The build cache index: the manifest digest recorded for a step's cache key.
    pub fn cache_get(&self, _key: &str) -> Result<Option<Digest>> {
        unimplemented!()
    }

    /// Records a step's result (a manifest blob already in the store) under its cache key.
    pub fn cache_put(&self, _key: &str, _manifest: &Digest) -> Result<()> {
        unimplemented!()
    }
}
