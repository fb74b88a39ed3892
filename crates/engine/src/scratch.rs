//! Scratch directories: step work areas, views, heredoc and bind copies, removed when their
//! guard is dropped.

use anyhow::Result;
use skiff_image::Store;
use std::path::{Path, PathBuf};

/// A scratch area, removed on drop: in the store (same filesystem, so renames work; a
/// store temp dir, which `prune` collects after a crash) or elsewhere.
pub struct WorkDir {
    path: PathBuf,
    _in_store: Option<skiff_image::store::TempDir>,
}

impl WorkDir {
    /// A new empty temp directory of the store.
    pub fn new(store: &Store, prefix: &str) -> Result<WorkDir> {
        let dir = store.temp_dir(prefix.trim_end_matches('-'))?;
        Ok(WorkDir {
            path: dir.path().to_path_buf(),
            _in_store: Some(dir),
        })
    }

    /// A new empty directory under `base` (for scratch data that must stay off the store's
    /// disk, such as secrets in a tmpfs).
    pub fn new_in(base: &Path, prefix: &str) -> Result<WorkDir> {
        let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(base)?;
        Ok(WorkDir {
            path: dir.keep(),
            _in_store: None,
        })
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
