//! Scratch directories: step work areas, views, heredoc and bind copies, removed when their
//! guard is dropped.

use anyhow::Result;
use skiff_image::Store;
use std::path::{Path, PathBuf};

/// A scratch area inside the store (same filesystem, so renames work), removed on drop.
pub struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    /// A new empty directory under the store's `tmp/`.
    pub fn new(store: &Store, prefix: &str) -> Result<WorkDir> {
        let base = store.root().join("tmp");
        std::fs::create_dir_all(&base)?;
        WorkDir::new_in(&base, prefix)
    }

    /// A new empty directory under `base` (for scratch data that must stay off the store's
    /// disk, such as secrets in a tmpfs).
    pub fn new_in(base: &Path, prefix: &str) -> Result<WorkDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(base)?;
        Ok(WorkDir { path: dir.keep() })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}
