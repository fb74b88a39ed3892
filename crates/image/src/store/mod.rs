//! The content store: one directory laid out as an OCI image layout
//! (`oci-layout`, `index.json`, `blobs/sha256/…`) plus skiff's own state. The store owns
//! every entry under its root; nothing else writes there by path, and each entry has its
//! accessor here and its rule in [`Store::prune`]:
//!
//! | entry | what | kept by `prune` |
//! |---|---|---|
//! | `oci-layout`, `index.json` | the OCI layout; names of images | always |
//! | `blobs/sha256/<hex>` | content, verified when written | when reachable from `index.json` or the cache |
//! | `snapshots/sha256/<hex>/` | extracted layers, overlay-ready (see below; [`Store::snapshots`] is defined beside the layer codec, which fills them), or a step's directory adopted as its layer's snapshot | while their layer blob is kept |
//! | `snapshots/unsynced/<hex>` | the boot id of a snapshot that was not synced to disk: after a reboot it is extracted again (see `snapshot.rs`) | while its snapshot is kept |
//! | `cache/<sha256(key)>` | the build cache index, one small file per step key | while its manifest is kept |
//! | `cache-mounts/<name>/`, `<name>.lock` | `RUN --mount=type=cache` contents ([`Store::cache_mounts_dir`]) | always: they persist across builds by design |
//! | `statcache/<hash>.json` | context stat caches ([`StatCache`]) | while their context directory exists |
//! | `verified/<key>.json` | what the final-image verification found for one image ([`Store::verified_get`]), so a rebuild with the same final image does not read it again | while every layer it names is kept |
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
mod documents;
mod fsutil;
mod index;
mod layout;
mod prune;
pub(crate) mod snapshot;
mod statcache;
mod temp;
mod verified;

pub use blob::BlobWriter;
pub use layout::{Store, StoreLease};
pub use prune::PruneReport;
pub use statcache::{file_digest, file_digests, StatCache};
pub use temp::TempDir;

use anyhow::{Context, Result};
use fsutil::atomic_write;
pub(crate) use fsutil::FileLock;
use oci_spec::image::Descriptor;
use std::path::Path;

const OCI_LAYOUT: &[u8] = b"{\"imageLayoutVersion\":\"1.0.0\"}";

impl Store {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl AsRef<Path>) -> Result<Store> {
        // Absolute once, here: paths under the root are handed to the OCI runtime (cache
        // mounts), which resolves a relative one inside the container's bundle.
        let root = std::path::absolute(root.as_ref())
            .with_context(|| format!("cannot use {} as the store", root.as_ref().display()))?;
        let store = Store { root };
        for dir in [
            store.blobs_dir(),
            store.snapshots_dir(),
            store.unsynced_snapshots_dir(),
            store.cache_dir(),
            store.tmp_dir(),
            store.locks_dir(),
            store.cache_mounts_dir(),
            store.stat_cache_dir(),
            store.registry_dir(),
            store.verified_dir(),
        ] {
            std::fs::create_dir_all(&dir).with_context(|| {
                format!(
                    "cannot create the store directory {} (pick another with --root or SKIFF_ROOT)",
                    dir.display()
                )
            })?;
        }
        // Steps' directories (tmp/) and extracted layers (snapshots/sha256/) hold thousands
        // of new files each: spread them over the disk's inode groups.
        fsutil::spread_new_directories(&store.tmp_dir());
        fsutil::spread_new_directories(&store.snapshots_dir());
        let layout = store.root.join("oci-layout");
        if !layout.exists() {
            atomic_write(&store.tmp_dir(), &layout, OCI_LAYOUT)?;
        }
        if !store.index_path().exists() {
            index::update(&store, |_| ())?;
        }
        Ok(store)
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
