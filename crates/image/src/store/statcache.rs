//! A stat cache for context checksums: the SHA-256 of a file is remembered with the file's
//! device, inode, size, mtime and ctime, so a rebuild does not read unchanged files again.
//!
//! A changed file is always seen: any write or `touch` changes the ctime, which nothing but
//! the kernel can set, so an edit that keeps the size and restores the mtime is still a miss.
//! Timestamps have a coarse granularity (a few ms), so a file whose ctime is too recent when
//! it is hashed is not remembered (it could change again within the same tick).
//!
//! The cache lives in the store (`statcache/<hash of the context path>.json`, holding the
//! context's path and its files' entries), is loaded when a build first checksums that
//! context and written back atomically (locked temp file in `tmp/` + rename). A missing or
//! unreadable cache file only means files are read again. Entries of files that no longer
//! exist are dropped whenever the cache is written back, so it does not grow with every
//! file a context ever had; the whole file goes at `prune` once its context is gone.

use super::fsutil::atomic_write;
use super::layout::Store;
use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How old a file's ctime must be before its digest is remembered.
const DEFAULT_SETTLE: Duration = Duration::from_secs(2);

/// What identifies one version of a file without reading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    fn of(meta: &fs::Metadata) -> Stamp {
        Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    digest: String,
}

/// A stat cache file: the context it is of (so that `prune` can tell a stale one) and
/// the entries by absolute path.
#[derive(Default, Serialize, Deserialize)]
pub(crate) struct CacheFile {
    pub(crate) context: PathBuf,
    entries: BTreeMap<String, Entry>,
}

/// The remembered digests of one context directory's files.
pub struct StatCache {
    file: PathBuf,
    tmp_dir: PathBuf,
    context: PathBuf,
    entries: BTreeMap<String, Entry>,
    settle: Duration,
    changed: bool,
    reads: usize,
    /// Paths asked for since the cache was opened: they exist, so saving need not check them.
    seen: HashSet<String>,
}

impl Store {
    /// Where the stat cache of the context directory `context` (canonical) lives.
    pub(crate) fn stat_cache_path(&self, context: &Path) -> PathBuf {
        let name = hex::encode(Sha256::digest(context.to_string_lossy().as_bytes()));
        self.stat_cache_dir().join(format!("{name}.json"))
    }
}

/// Whether a stat cache file is stale: unreadable, of an older format, or of a context
/// directory that is gone.
pub(crate) fn is_stale(file: &Path) -> bool {
    fs::read(file)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
        .is_none_or(|f| !f.context.is_dir())
}

impl StatCache {
    /// Loads the cache of `context` from `store` (empty when there is none).
    pub fn open(store: &Store, context: &Path) -> StatCache {
        let context = context
            .canonicalize()
            .unwrap_or_else(|_| context.to_path_buf());
        let file = store.stat_cache_path(&context);
        let entries = fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|f| f.context == context)
            .map(|f| f.entries)
            .unwrap_or_default();
        StatCache {
            file,
            tmp_dir: store.tmp_dir(),
            context,
            entries,
            settle: DEFAULT_SETTLE,
            changed: false,
            reads: 0,
            seen: HashSet::new(),
        }
    }

    /// The SHA-256 (hex) of the regular file `path` whose metadata is `meta`: remembered when
    /// the file has not changed since it was last read, read (and remembered) otherwise.
    pub fn digest(&mut self, path: &Path, meta: &fs::Metadata) -> Result<String> {
        Ok(self.digests(&[(path, meta)])?.remove(0))
    }

    /// [`StatCache::digest`] of many files at once: the ones that must be read are read on
    /// every core.
    pub fn digests(&mut self, files: &[(&Path, &fs::Metadata)]) -> Result<Vec<String>> {
        let mut out: Vec<Option<String>> = Vec::with_capacity(files.len());
        let mut misses = Vec::new();
        for (i, (path, meta)) in files.iter().enumerate() {
            let key = path.to_string_lossy().into_owned();
            let stamp = Stamp::of(meta);
            let hit = (self.entries.get(&key))
                .filter(|e| e.stamp == stamp)
                .map(|e| e.digest.clone());
            self.seen.insert(key);
            if hit.is_none() {
                misses.push(i);
            }
            out.push(hit);
        }
        let paths: Vec<&Path> = misses.iter().map(|&i| files[i].0).collect();
        let read = read_in_parallel(&paths, true)?;
        for (&i, (digest, after)) in misses.iter().zip(read) {
            let (path, meta) = files[i];
            self.remember(path, Stamp::of(meta), &digest, after);
            out[i] = Some(digest);
        }
        Ok(out.into_iter().flatten().collect())
    }

    /// Records the digest of a file just read, whose stamp was `stamp` before and `after`
    /// the read.
    fn remember(&mut self, path: &Path, stamp: Stamp, digest: &str, after: Option<Stamp>) {
        let key = path.to_string_lossy().into_owned();
        self.reads += 1;
        // Only a file that has settled is remembered, and only when it did not change
        // while it was read.
        let settled = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .and_then(|now| now.checked_sub(self.settle))
            .is_some_and(|limit| {
                (stamp.ctime.0, stamp.ctime.1)
                    < (limit.as_secs() as i64, limit.subsec_nanos() as i64)
            });
        if settled && after.as_ref() == Some(&stamp) {
            self.entries.insert(
                key,
                Entry {
                    stamp,
                    digest: digest.to_string(),
                },
            );
            self.changed = true;
        } else if self.entries.remove(&key).is_some() {
            self.changed = true;
        }
    }

    /// Writes the cache back (atomically) when it changed, without the entries of files
    /// that are gone (only the files this build did not look at are checked).
    pub fn save(&mut self) -> Result<()> {
        if !self.changed {
            return Ok(());
        }
        let seen = &self.seen;
        self.entries
            .retain(|path, _| seen.contains(path) || fs::symlink_metadata(path).is_ok());
        let file = CacheFile {
            context: self.context.clone(),
            entries: std::mem::take(&mut self.entries),
        };
        let bytes = serde_json::to_vec(&file);
        self.entries = file.entries;
        atomic_write(&self.tmp_dir, &self.file, &bytes?)
    }
}

/// The SHA-256 (hex) of a file's contents.
pub fn file_digest(path: &Path) -> Result<String> {
    digest_with(path, &mut vec![0u8; 1 << 16])
}

/// The SHA-256 (hex) of each file's contents, in order, read on every core.
pub fn file_digests(paths: &[&Path]) -> Result<Vec<String>> {
    Ok(read_in_parallel(paths, false)?
        .into_iter()
        .map(|(digest, _)| digest)
        .collect())
}

fn digest_with(path: &Path, buf: &mut [u8]) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    loop {
        let n = f.read(buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Files per unit of work handed to a thread.
const CHUNK: usize = 32;

/// A file's digest and (when asked for) its stamp once it was read.
type Digested = (String, Option<Stamp>);

/// Each file's digest and (with `restat`) its stamp once read, in order; the files are
/// shared out in chunks among as many threads as there are cores (one for a few files).
fn read_in_parallel(paths: &[&Path], restat: bool) -> Result<Vec<Digested>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let read_one = |path: &Path, buf: &mut [u8]| -> Result<Digested> {
        let digest = digest_with(path, buf)?;
        let after = restat
            .then(|| fs::symlink_metadata(path).ok().map(|m| Stamp::of(&m)))
            .flatten();
        Ok((digest, after))
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(paths.len().div_ceil(CHUNK));
    if threads <= 1 {
        let mut buf = vec![0u8; 1 << 16];
        return paths.iter().map(|p| read_one(p, &mut buf)).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || -> Result<Vec<(usize, Digested)>> {
        let mut buf = vec![0u8; 1 << 16];
        let mut done = Vec::new();
        loop {
            let start = next.fetch_add(CHUNK, Ordering::Relaxed);
            if start >= paths.len() {
                return Ok(done);
            }
            for (i, path) in paths.iter().enumerate().skip(start).take(CHUNK) {
                done.push((i, read_one(path, &mut buf)?));
            }
        }
    };
    let parts: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads).map(|_| s.spawn(work)).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a digest thread panicked"))
            .collect()
    });
    let mut out: Vec<Option<Digested>> = (0..paths.len()).map(|_| None).collect();
    for part in parts {
        for (i, result) in part? {
            out[i] = Some(result);
        }
    }
    Ok(out.into_iter().flatten().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(store: &Path, ctx: &Path) -> StatCache {
        let mut c = StatCache::open(&Store::open(store).unwrap(), ctx);
        c.settle = Duration::ZERO;
        c
    }

    #[test]
    fn unchanged_files_are_not_read_again_and_edits_are_seen() {
        let store = tempfile::tempdir().unwrap();
        let ctx = tempfile::tempdir().unwrap();
        let file = ctx.path().join("a.txt");
        fs::write(&file, "one").unwrap();
        let mut c = cache(store.path(), ctx.path());
        let first = c.digest(&file, &fs::metadata(&file).unwrap()).unwrap();
        assert_eq!(c.reads, 1);
        c.save().unwrap();

        let mut c = cache(store.path(), ctx.path());
        let again = c.digest(&file, &fs::metadata(&file).unwrap()).unwrap();
        assert_eq!(
            (again.as_str(), c.reads),
            (first.as_str(), 0),
            "a hit reads nothing"
        );

        // Same size, mtime put back: only the ctime tells.
        let before = fs::metadata(&file).unwrap();
        fs::write(&file, "two").unwrap();
        let mtime = filetime_of(&before);
        set_mtime(&file, mtime);
        let after = fs::metadata(&file).unwrap();
        assert_eq!((after.len(), filetime_of(&after)), (before.len(), mtime));
        let edited = c.digest(&file, &after).unwrap();
        assert_eq!(c.reads, 1);
        assert_ne!(edited, first);
        assert_eq!(edited, file_digest(&file).unwrap());
    }

    #[test]
    fn entries_of_deleted_files_are_dropped_when_saved() {
        let store = tempfile::tempdir().unwrap();
        let ctx = tempfile::tempdir().unwrap();
        let (kept, gone) = (ctx.path().join("kept"), ctx.path().join("gone"));
        fs::write(&kept, "k").unwrap();
        fs::write(&gone, "g").unwrap();
        let mut c = cache(store.path(), ctx.path());
        for f in [&kept, &gone] {
            c.digest(f, &fs::metadata(f).unwrap()).unwrap();
        }
        c.save().unwrap();
        fs::remove_file(&gone).unwrap();
        let extra = ctx.path().join("new");
        fs::write(&extra, "n").unwrap();
        let mut c = cache(store.path(), ctx.path());
        c.digest(&extra, &fs::metadata(&extra).unwrap()).unwrap();
        c.save().unwrap();
        let c = cache(store.path(), ctx.path());
        let remembered: Vec<_> = c.entries.keys().cloned().collect();
        let expected: Vec<_> = [&kept, &extra]
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        assert_eq!(remembered, expected);
    }

    #[test]
    fn recently_changed_files_are_not_remembered() {
        let store = tempfile::tempdir().unwrap();
        let ctx = tempfile::tempdir().unwrap();
        let file = ctx.path().join("a.txt");
        fs::write(&file, "fresh").unwrap();
        let mut c = StatCache::open(&Store::open(store.path()).unwrap(), ctx.path());
        let meta = fs::metadata(&file).unwrap();
        c.digest(&file, &meta).unwrap();
        c.digest(&file, &meta).unwrap();
        assert_eq!(c.reads, 2, "a file changed just now is read every time");
    }

    fn set_mtime(path: &Path, (sec, nsec): (i64, i64)) {
        use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
        let ts = Timespec {
            tv_sec: sec,
            tv_nsec: nsec as _,
        };
        let times = Timestamps {
            last_access: ts,
            last_modification: ts,
        };
        utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW).unwrap();
    }

    #[test]
    fn a_cache_is_stale_once_its_context_is_gone() {
        let store_dir = tempfile::tempdir().unwrap();
        let store = Store::open(store_dir.path()).unwrap();
        let ctx = tempfile::tempdir().unwrap();
        let file = ctx.path().join("a");
        fs::write(&file, "a").unwrap();
        let mut c = cache(store_dir.path(), ctx.path());
        c.digest(&file, &fs::metadata(&file).unwrap()).unwrap();
        c.save().unwrap();
        let path = store.stat_cache_path(&ctx.path().canonicalize().unwrap());
        assert!(!is_stale(&path));
        drop(ctx);
        assert!(is_stale(&path));
    }

    fn filetime_of(m: &fs::Metadata) -> (i64, i64) {
        (m.mtime(), m.mtime_nsec())
    }
}
