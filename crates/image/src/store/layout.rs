//! The store handle and where each of its entries lives under the root (see the table in
//! the store module), with the operations that need only that: blobs, the build cache
//! index, small-file replacement and locks. On its own so that the store's parts (index,
//! snapshots, prune, stat caches, temp dirs) use the handle without importing the module
//! that calls them.

use super::blob::BlobWriter;
use super::fsutil::{atomic_write, FileLock};
use anyhow::{Context, Result};
use oci_spec::image::Digest;
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A handle on one store directory. Cheap to clone; safe to use from several
/// threads and from several skiff processes at once (file locks).
#[derive(Clone, Debug)]
pub struct Store {
    pub(super) root: PathBuf,
}

/// Proof that this process is using the store (a build or pull in progress):
/// while any lease is held, [`Store::prune`] waits. Released on drop.
#[derive(Debug)]
pub struct StoreLease {
    _lock: FileLock,
}

impl Store {
    /// The default root: `$SKIFF_ROOT`, else `/var/lib/skiff` as root, else `$XDG_DATA_HOME/skiff`
    /// (or `~/.local/share/skiff`), also for root in a user namespace (rootless skiff).
    pub fn default_root() -> PathBuf {
        if let Some(root) = std::env::var_os("SKIFF_ROOT").filter(|v| !v.is_empty()) {
            return PathBuf::from(root);
        }
        if skiff_host::userns::is_host_root() {
            return PathBuf::from("/var/lib/skiff");
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
        {
            return xdg.join("skiff");
        }
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| "/".into());
        home.join(".local/share/skiff")
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(super) fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub(super) fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots/sha256")
    }
    pub(super) fn unsynced_snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots/unsynced")
    }
    pub(super) fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }
    pub(super) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    pub(super) fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }
    pub(super) fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }
    pub(super) fn stat_cache_dir(&self) -> PathBuf {
        self.root.join("statcache")
    }
    pub(super) fn registry_dir(&self) -> PathBuf {
        self.root.join("registry")
    }
    pub(super) fn verified_dir(&self) -> PathBuf {
        self.root.join("verified")
    }

    /// `registry/sources.json` (see the registry client's blob sources).
    pub(crate) fn registry_sources_path(&self) -> PathBuf {
        self.registry_dir().join("sources.json")
    }

    /// Holds the lock `locks/<name>.lock` exclusively until the value is dropped (for
    /// read-modify-write of the store's small state files).
    pub(crate) fn lock_exclusive(&self, name: &str) -> Result<FileLock> {
        FileLock::acquire(&self.locks_dir().join(format!("{name}.lock")), true)
    }

    /// Replaces `dest` (a file of the store) with `bytes` atomically and durably.
    pub(crate) fn replace_file(&self, dest: &Path, bytes: &[u8]) -> Result<()> {
        atomic_write(&self.tmp_dir(), dest, bytes)
    }

    /// Where `RUN --mount=type=cache` directories live (`<name>/`, with `<name>.lock`
    /// beside it for `sharing=locked|private`). A cache mount is created by seeding a
    /// [`Store::temp_dir`] and renaming it here, so a half-made one is never seen.
    pub fn cache_mounts_dir(&self) -> PathBuf {
        self.root.join("cache-mounts")
    }

    /// Where a blob lives (whether or not it exists).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().as_ref())
            .join(digest.digest())
    }

    /// Whether the blob is present.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Starts writing a new blob.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::new(&self.tmp_dir(), self.blobs_dir())
    }

    /// Stores a small blob held in memory.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<(Digest, u64)> {
        let mut w = self.blob_writer()?;
        std::io::Write::write_all(&mut w, bytes).context("cannot write blob to the store")?;
        w.commit(None)
    }

    /// Reads a whole (small) blob, verifying nothing: blobs are verified when written.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        std::fs::read(&path).with_context(|| {
            format!(
                "blob {digest} is not in the store ({}): pull the image again",
                path.display()
            )
        })
    }

    /// The build cache index: the manifest digest recorded for a step's cache key.
    /// An entry whose manifest is no longer in the store counts as absent.
    pub fn cache_get(&self, key: &str) -> Result<Option<Digest>> {
        let path = self.cache_path(key);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        let digest = Digest::from_str(text.trim()).with_context(|| {
            format!(
                "corrupt cache entry {}: remove it or run `skiff prune`",
                path.display()
            )
        })?;
        Ok(self.has_blob(&digest).then_some(digest))
    }

    /// Records a step's result (a manifest blob already in the store) under its cache key.
    /// One file per key replaced by an atomic rename: concurrent writers of one key
    /// leave one whole entry, never a mix, so no lock is needed.
    pub fn cache_put(&self, key: &str, manifest: &Digest) -> Result<()> {
        atomic_write(
            &self.tmp_dir(),
            &self.cache_path(key),
            format!("{manifest}\n").as_bytes(),
        )
    }

    fn cache_path(&self, key: &str) -> PathBuf {
        self.cache_dir()
            .join(hex::encode(Sha256::digest(key.as_bytes())))
    }

    /// Marks the store as in use until the lease is dropped: builds and pulls hold
    /// one from their first blob write until their result is named (tagged or
    /// cached), so [`Store::prune`] cannot collect what they are still assembling.
    /// Do not call `prune` while holding a lease in the same process: it would wait forever.
    pub fn lock_shared(&self) -> Result<StoreLease> {
        Ok(StoreLease {
            _lock: FileLock::acquire(&self.gc_lock_path(), false)?,
        })
    }

    pub(super) fn gc_lock_path(&self) -> PathBuf {
        self.locks_dir().join("gc.lock")
    }
}
