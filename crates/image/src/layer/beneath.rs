//! Filesystem operations confined to one root directory. Every path is walked
//! component by component with `openat(O_NOFOLLOW | O_DIRECTORY)` from a file
//! descriptor of the root, so no symlink — whatever it points at — is ever
//! followed, and no `..` is ever resolved: nothing can be reached outside the root.

use super::entry_path::display;
use anyhow::{anyhow, Result};
use rustix::fs::{mkdirat, openat, statat, unlinkat, AtFlags, Dir, FileType, Mode, OFlags, Stat};
use rustix::io::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A root directory, held open.
pub(crate) struct Beneath {
    root: OwnedFd,
}

impl Beneath {
    /// Opens `root` (which must be a directory).
    pub(crate) fn open(root: &Path) -> Result<Beneath> {
        let fd = openat(
            rustix::fs::CWD,
            root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| anyhow!("cannot open directory {}: {e}", root.display()))?;
        Ok(Beneath { root: fd })
    }

    /// Opens the directory at `comps` without following any symlink. With `create`,
    /// missing directories are made (mode 0755); otherwise `Ok(None)` when one is missing.
    /// A component that is a symlink or not a directory is an error naming it.
    pub(crate) fn open_dir(&self, comps: &[OsString], create: bool) -> Result<Option<OwnedFd>> {
        let mut cur = openat(&self.root, ".", DIR_FLAGS, Mode::empty())?;
        for (i, comp) in comps.iter().enumerate() {
            let next = match openat(&cur, comp.as_os_str(), DIR_FLAGS, Mode::empty()) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create => {
                    match mkdirat(&cur, comp.as_os_str(), Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => {
                            return Err(anyhow!(
                                "cannot create directory {}: {e}",
                                display(&comps[..=i])
                            ))
                        }
                    }
                    openat(&cur, comp.as_os_str(), DIR_FLAGS, Mode::empty())
                        .map_err(|e| walk_error(&comps[..=i], e))?
                }
                Err(Errno::NOENT) => return Ok(None),
                Err(e) => return Err(walk_error(&comps[..=i], e)),
            };
            cur = next;
        }
        Ok(Some(cur))
    }
}

fn walk_error(prefix: &[OsString], e: Errno) -> anyhow::Error {
    match e {
        Errno::LOOP | Errno::NOTDIR => anyhow!(
            "`{}` is a symlink or not a directory; refusing to go through it",
            display(prefix)
        ),
        e => anyhow!("cannot open directory {}: {e}", display(prefix)),
    }
}

/// `lstat` of `name` in `dir`; `None` when it does not exist.
pub(crate) fn lstat_at(dir: impl AsFd, name: &OsStr) -> rustix::io::Result<Option<Stat>> {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Whether a stat is of a directory.
pub(crate) fn is_dir(st: &Stat) -> bool {
    FileType::from_raw_mode(st.st_mode) == FileType::Directory
}

/// Removes `name` in `dir` and, if it is a directory, everything under it —
/// without following symlinks. Missing is fine.
pub(crate) fn remove_all_at(dir: impl AsFd, name: &OsStr) -> rustix::io::Result<()> {
    let dir = dir.as_fd();
    let Some(st) = lstat_at(dir, name)? else {
        return Ok(());
    };
    if !is_dir(&st) {
        return match unlinkat(dir, name, AtFlags::empty()) {
            Ok(()) | Err(Errno::NOENT) => Ok(()),
            Err(e) => Err(e),
        };
    }
    let sub = openat(dir, name, DIR_FLAGS, Mode::empty())?;
    for child in list_dir(&sub)? {
        remove_all_at(&sub, &child)?;
    }
    match unlinkat(dir, name, AtFlags::REMOVEDIR) {
        Ok(()) | Err(Errno::NOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The names in a directory (without `.` and `..`).
pub(crate) fn list_dir(dir: impl AsFd) -> rustix::io::Result<Vec<OsString>> {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    Ok(out)
}
