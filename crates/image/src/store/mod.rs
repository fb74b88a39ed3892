//! The content store: one directory laid out as an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/…`) plus skiff's own state. The store owns
//! every entry under its root; nothing else writes there by path, and each entry has its
//! accessor here and its rule in [`Store::prune`]:
//!
//! | entry | what | kept by `prune` |
//! |---|---|---|
//! | `oci-layout`, `index.json` | the OCI layout; names of images | always |
//! | `blobs/sha256/<hex>` | content, verified when written | when reachable from `index.json` or the cache |
//! | `snapshots/sha256/<hex>/` | extracted layers, overlay-ready (see below) | while their layer blob is kept |
//! | `cache/<sha256(key)>` | the build cache index, one small file per step key | while its manifest is kept |
//! | `cache-mounts/<name>/`, `<name>.lock` | `RUN --mount=type=cache` contents ([`Store::cache_mounts_dir`]) | always: they persist across builds by design |
//! | `statcache/<hash>.json` | context stat caches ([`StatCache`]) | while their context directory exists |
//! | `registry/sources.json` | which repositories each blob came from or went to (cross-repository mounts on push) | always |
//! | `tmp/` | temp files and directories of work in progress ([`Store::temp_dir`]) | while the process that made them lives |
//! | `locks/` | `index.lock` (read-modify-write of `index.json`), `gc.lock` (builds and pulls shared, `prune` exclusive), `snapshot-<hex>.lock`, `sources.lock` | always |
//!
//! Crash safety: every write goes to a temp file in `tmp/` (same filesystem),
//! is verified and fsync'd, renamed into place, and the directory fsync'd, so a
//! `kill -9` at any moment leaves the old or the new state, plus at worst an
//! abandoned temp file that [`Store::prune`] removes. Writers keep their temp
//! entries `flock`ed, which is how `prune` tells abandoned ones from live ones.
//!
//! Snapshot key: a snapshot is named by the **digest of the layer blob** it was
//! extracted from. In the overlay-ready form a layer is extracted alone into an
//! empty directory — whiteouts stay markers that overlayfs resolves at mount
//! time — so its content is a function of that one blob and nothing below it.
//! This is the degenerate case of a chain ID (a chain of one): keying by the full
//! chain (`sha256(parent chain + " " + diff ID)`) would extract the same layer
//! again under every distinct parent stack and would need the diff ID, which is
//! only known after decompressing, before the lookup.

pub(crate) mod blob;
mod fsutil;
mod index;
mod prune;
mod snapshot;
mod statcache;
mod temp;

pub use blob::BlobWriter;
pub use prune::PruneReport;
pub use statcache::{file_digest, StatCache};
pub use temp::TempDir;

use anyhow::{Context, Result};
use fsutil::atomic_write;
pub(crate) use fsutil::FileLock;
use oci_spec::image::{Descriptor, Digest};
use sha2::{Digest as _, Sha256};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A handle on one store directory. Cheap to clone; safe to use from several
/// threads and from several skiff processes at once (file locks).
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// Proof that this process is using the store (a build or pull in progress):
/// while any lease is held, [`Store::prune`] waits. Released on drop.
#[derive(Debug)]
pub struct StoreLease {
    _lock: FileLock,
}

const OCI_LAYOUT: &[u8] = b"{\"imageLayoutVersion\":\"1.0.0\"}";

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        let store = Store {
            root: root.as_ref().to_path_buf(),
        };
        for dir in [
            store.blobs_dir(),
            store.snapshots_dir(),
            store.cache_dir(),
            store.tmp_dir(),
            store.locks_dir(),
            store.cache_mounts_dir(),
            store.stat_cache_dir(),
            store.registry_dir(),
        ] {
            std::fs::create_dir_all(&dir).with_context(|| {
                format!(
                    "cannot create the store directory {} (pick another with --root or SKIFF_ROOT)",
                    dir.display()
                )
            })?;
        }
        let layout = store.root.join("oci-layout");
        if !layout.exists() {
            atomic_write(&store.tmp_dir(), &layout, OCI_LAYOUT)?;
        }
        if !store.index_path().exists() {
            index::update(&store, |_| ())?;
        }
        Ok(store)
    }

    /// The default root: `$SKIFF_ROOT`, else `/var/lib/skiff` as root, else `$XDG_DATA_HOME/skiff`
    /// (or `~/.local/share/skiff`).
    pub fn default_root() -> PathBuf {
        if let Some(root) = std::env::var_os("SKIFF_ROOT").filter(|v| !v.is_empty()) {
            return PathBuf::from(root);
        }
        if rustix::process::geteuid().is_root() {
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

    fn blobs_dir(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    fn snapshots_dir(&self) -> PathBuf {
        self.root.join("snapshots/sha256")
    }
    fn cache_dir(&self) -> PathBuf {
        self.root.join("cache")
    }
    fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }
    fn locks_dir(&self) -> PathBuf {
        self.root.join("locks")
    }
    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }
    fn stat_cache_dir(&self) -> PathBuf {
        self.root.join("statcache")
    }
    fn registry_dir(&self) -> PathBuf {
        self.root.join("registry")
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

    /// Names an image: `name` (normalised reference) → manifest descriptor, in `index.json`.
    pub fn tag(&self, name: &str, manifest: &Descriptor) -> Result<()> {
        index::update(self, |idx| index::set_name(idx, name, manifest))
    }

    /// The manifest descriptor a name points at.
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        Ok(index::read(self)?
            .manifests
            .iter()
            .find(|d| index::ref_name(d) == Some(name))
            .cloned())
    }

    /// Removes a name; returns whether it existed.
    pub fn untag(&self, name: &str) -> Result<bool> {
        index::update(self, |idx| index::remove_name(idx, name))
    }

    /// All named images, sorted by name.
    pub fn images(&self) -> Result<Vec<(String, Descriptor)>> {
        let mut out: Vec<_> = index::read(self)?
            .manifests
            .iter()
            .filter_map(|d| index::ref_name(d).map(|n| (n.to_string(), d.clone())))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }

    /// Makes sure every layer is extracted (overlay-ready: OCI whiteouts turned into
    /// overlay whiteouts) and returns their directories, lowest layer first.
    /// Extraction happens once per layer and is shared by all builds.
    pub fn snapshots(&self, layers: &[Descriptor]) -> Result<Vec<PathBuf>> {
        layers.iter().map(|l| snapshot::ensure(self, l)).collect()
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

    fn gc_lock_path(&self) -> PathBuf {
        self.locks_dir().join("gc.lock")
    }

    /// Garbage-collects, first (at once) temp files and directories abandoned by dead
    /// processes and stat caches of contexts that are gone, then — once no build or pull
    /// holds a lease — blobs unreachable from `index.json` and the cache, snapshots of
    /// layers no longer stored, and cache entries whose manifest is gone.
    pub fn prune(&self) -> Result<PruneReport> {
        let mut report = PruneReport::default();
        prune::remove_stale(self, &mut report)?;
        let _gc = FileLock::acquire(&self.gc_lock_path(), true)?;
        prune::run(self, &mut report)?;
        Ok(report)
    }
}
