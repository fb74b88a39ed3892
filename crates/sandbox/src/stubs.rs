//! Mount points that had to be created in the rootfs for a run, removed again afterwards so
//! they do not end up in the step's layer (BuildKit's "mount stubs cleaner" does the same).
//!
//! A bind or tmpfs mount needs its destination to exist. When the rootfs lacks it (say
//! `/etc/resolv.conf` in a scratch-based stage), an empty file or directory is created before the
//! run and removed after it if it is still empty, deepest first; the modification time of the
//! directory it was created in is put back. On overlayfs that directory has then been copied up
//! into the upper dir with unchanged metadata: the layer differ must skip such directories.

use crate::rootfs_path::resolve_in_rootfs;
use anyhow::{Context, Result};
use std::fs::{File, FileTimes};
use std::path::{Path, PathBuf};

/// What a mount destination must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StubKind {
    /// A directory (directory binds, tmpfs, proc, ...).
    Dir,
    /// A regular file (file binds).
    File,
}

/// The stubs created so far; removed on drop.
#[derive(Default)]
pub(crate) struct MountStubs {
    created: Vec<(PathBuf, StubKind)>,
    parent_times: Vec<(PathBuf, FileTimes)>,
}

impl MountStubs {
    /// Makes sure `destination` exists in `rootfs` as `kind`, creating what is missing.
    pub(crate) fn ensure(
        &mut self,
        rootfs: &Path,
        destination: &str,
        kind: StubKind,
    ) -> Result<()> {
        let target = resolve_in_rootfs(rootfs, destination)?;
        let relative = target
            .strip_prefix(rootfs)
            .unwrap_or(Path::new(""))
            .to_path_buf();
        let mut current = rootfs.to_path_buf();
        let count = relative.components().count();
        for (i, part) in relative.components().enumerate() {
            let parent = current.clone();
            current.push(part);
            if std::fs::symlink_metadata(&current).is_ok() {
                continue;
            }
            if let Ok(meta) = std::fs::metadata(&parent) {
                let times = FileTimes::new()
                    .set_accessed(meta.accessed()?)
                    .set_modified(meta.modified()?);
                self.parent_times.push((parent, times));
            }
            let this_kind = if i + 1 == count { kind } else { StubKind::Dir };
            match this_kind {
                StubKind::Dir => std::fs::create_dir(&current),
                StubKind::File => File::create(&current).map(drop),
            }
            .with_context(|| format!("creating mount point {}", current.display()))?;
            self.created.push((current.clone(), this_kind));
        }
        Ok(())
    }
}

impl Drop for MountStubs {
    fn drop(&mut self) {
        // Best effort: a stub the step wrote into is its own change and stays.
        for (path, kind) in self.created.iter().rev() {
            let _ = match kind {
                StubKind::Dir => std::fs::remove_dir(path),
                StubKind::File => match std::fs::symlink_metadata(path) {
                    Ok(meta) if meta.is_file() && meta.len() == 0 => std::fs::remove_file(path),
                    _ => Ok(()),
                },
            };
        }
        for (dir, times) in self.parent_times.iter().rev() {
            if let Ok(file) = File::open(dir) {
                let _ = file.set_times(*times);
            }
        }
    }
}
