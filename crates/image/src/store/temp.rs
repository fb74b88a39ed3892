//! Temp directories of work in progress (a step's rootfs, a download, a cache mount being
//! seeded), under the store's `tmp/` so that they are on the store's filesystem (renames
//! into place work) and so that `prune` can find what a killed process left.
//!
//! Liveness is an `flock` on the directory, held by the open handle inside [`TempDir`]:
//! the kernel drops it when the process dies however it dies (`kill -9` included), and
//! each process holds its own, so two builds on one store never take each other's
//! directories for abandoned ones. A pid would be wrong after the pid is reused, and a
//! lock file next to the directory could outlive it.

use super::fsutil::create_locked_temp_dir;
use super::layout::Store;
use anyhow::Result;
use std::fs::File;
use std::path::{Path, PathBuf};

/// A directory under the store's `tmp/`, locked for as long as this value lives and
/// removed (with everything in it) when it is dropped. After a crash, `prune` removes it.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
    _lock: File,
}

impl TempDir {
    /// Its path: `tmp/<prefix>-<pid>-<nanos>-<n>`.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

impl Store {
    /// A new empty temp directory in the store (see [`TempDir`]). `prefix` says what it
    /// is for; the process id follows it in the name.
    pub fn temp_dir(&self, prefix: &str) -> Result<TempDir> {
        let (lock, path) = create_locked_temp_dir(&self.tmp_dir(), prefix)?;
        Ok(TempDir { path, _lock: lock })
    }
}
