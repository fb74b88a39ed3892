//! Crash-safe file primitives the store is built from: temp files that are
//! visibly "in use" while their writer lives, atomic replace-by-rename with the
//! fsyncs that make it durable, and advisory file locks.

use anyhow::{Context, Result};
use rustix::fs::{flock, FlockOperation};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// A unique name for a temp file or directory in the store's `tmp/`:
/// `<prefix>-<pid>-<nanos>-<counter>`, unique across threads and processes.
pub(crate) fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{nanos}-{n}", std::process::id())
}

/// Creates a new temp file in `dir`, exclusively locked (`flock`) for as long as
/// the returned handle lives. `prune` treats a temp file it can lock as abandoned
/// by a dead process and deletes it; one whose writer is alive stays untouched.
pub(crate) fn create_locked_temp(dir: &Path, prefix: &str) -> Result<(File, PathBuf)> {
    loop {
        let path = dir.join(unique_name(prefix));
        let file = OpenOptions::new()
            .write(true)
            .read(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("cannot create temp file {}", path.display()))?;
        if lock_new_entry(&file, &path)? {
            return Ok((file, path));
        }
    }
}

/// Creates a new temp directory in `dir`, exclusively locked like [`create_locked_temp`]'s
/// files: the returned handle (the open directory) holds the lock.
pub(crate) fn create_locked_temp_dir(dir: &Path, prefix: &str) -> Result<(File, PathBuf)> {
    loop {
        let path = dir.join(unique_name(prefix));
        std::fs::create_dir(&path)
            .with_context(|| format!("cannot create temp directory {}", path.display()))?;
        let handle = match File::open(&path) {
            Ok(h) => h,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue, // pruned already
            Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
        };
        if lock_new_entry(&handle, &path)? {
            return Ok((handle, path));
        }
    }
}

/// Locks a temp entry just created. Between its creation and this lock a concurrent
/// `prune` may have claimed it (it holds the lock while it deletes): then it is false
/// and the caller makes another. The entry must still be the one at `path` once locked.
fn lock_new_entry(handle: &File, path: &Path) -> Result<bool> {
    match flock(handle, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => return Ok(false),
        Err(e) => return Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
    let ours = rustix::fs::fstat(handle)?;
    Ok(
        rustix::fs::lstat(path)
            .is_ok_and(|st| st.st_ino == ours.st_ino && st.st_dev == ours.st_dev),
    )
}

/// Marks `dir` as a top of directory hierarchies (`FS_TOPDIR_FL`, `chattr +T`), so that
/// ext4 places each new directory made in it as it places top-level ones (Orlov: in a block
/// group with free inodes and few directories) instead of beside its parent.
///
/// Why: a step writes thousands of files into a new directory under `tmp/`. Next to its
/// parent, that directory lands in the block groups where the store's earlier entries were
/// just deleted, and on ext4 without a journal the inode allocator skips every inode freed
/// in the last 60–360 s one buffer lookup at a time (`recently_deleted`), per file created:
/// a 5,000-file COPY took 0.4 s on a fresh disk and 1.6–1.8 s a few builds later
/// (docs/benchmarks.md). Only a placement hint: where the filesystem has no such flag, or it
/// cannot be set, nothing changes, so errors are ignored.
pub(crate) fn spread_new_directories(dir: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(handle) = File::open(dir) else { return };
    if let Ok(flags) = ioctl_getflags(&handle) {
        if !flags.contains(IFlags::TOPDIR) {
            let _ = ioctl_setflags(&handle, flags | IFlags::TOPDIR);
        }
    }
}

/// fsyncs a directory so a rename or create inside it survives a crash.
pub(crate) fn fsync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).with_context(|| format!("cannot open {}", dir.display()))?;
    d.sync_all()
        .with_context(|| format!("cannot fsync directory {}", dir.display()))
}

/// Atomically replaces `dest` with `bytes`: written to a temp file in `tmp_dir`
/// (same filesystem), fsync'd, renamed over `dest`, and `dest`'s directory fsync'd.
/// A crash at any point leaves either the old or the new content.
pub(crate) fn atomic_write(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
    let (mut file, tmp) = create_locked_temp(tmp_dir, "write")?;
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, dest)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot write {}", dest.display()));
    }
    fsync_dir(dest.parent().unwrap_or(Path::new("/")))
}

/// An advisory lock on a file in the store's `locks/`; released when dropped
/// (or when the process dies, however it dies).
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

impl FileLock {
    /// Blocks until the lock is held (`exclusive` or shared).
    pub(crate) fn acquire(path: &Path, exclusive: bool) -> Result<FileLock> {
        let file = open_lock_file(path)?;
        let op = if exclusive {
            FlockOperation::LockExclusive
        } else {
            FlockOperation::LockShared
        };
        flock(&file, op).with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(FileLock { _file: file })
    }

    /// Takes the exclusive lock only if nobody holds the lock now.
    pub(crate) fn try_exclusive(path: &Path) -> Result<Option<FileLock>> {
        let file = open_lock_file(path)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
        }
    }
}

fn open_lock_file(path: &Path) -> Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("cannot open lock file {}", path.display()))
}

/// Claims a temp entry (file or directory) if it is abandoned: nobody holds its
/// `flock`. Writers keep their temp entries locked until they rename or remove them;
/// the returned handle keeps the entry locked while the caller deletes it, so a
/// writer that just created it cannot take it (see `lock_new_entry`).
pub(crate) fn claim_abandoned(path: &Path) -> Result<Option<File>> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot open {}", path.display())),
    };
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(file)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

/// Total bytes of regular files under `path` (not following symlinks).
pub(crate) fn disk_usage(path: &Path) -> u64 {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if meta.is_file() { meta.len() } else { 0 };
    }
    std::fs::read_dir(path)
        .map(|rd| rd.flatten().map(|e| disk_usage(&e.path())).sum())
        .unwrap_or(0)
}
