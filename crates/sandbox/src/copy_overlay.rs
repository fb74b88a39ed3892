//! A copy-based stand-in for overlayfs, for hosts where it cannot be mounted (no overlay module,
//! or the store itself on overlayfs, as inside a container) or when `SKIFF_ROOTFS=copy` asks.
//!
//! Mounting copies the merged lower dirs (their overlay whiteouts and opaque dirs applied) into
//! the target and notes every entry's identity. Unmounting with [`CopyMount::write_upper`] turns
//! what the step changed into the upper dir overlayfs would have written: changed and new
//! entries copied (hardlinks kept), a 0/0 character device for each deleted path, the opaque
//! xattr on a directory that replaced another entry. The layer differ then reads it exactly as
//! it reads an overlayfs upper dir, so both ways give the same layers.
//!
//! Identity: an entry is the same one when its inode number and birth time are unchanged (a
//! directory removed and made again is a new one), and unchanged when its ctime is too (every
//! write, chmod, chown or link changes it, and no step can set it back).

use anyhow::{Context, Result};
use rustix::fs::{AtFlags, StatxFlags, Timestamps, XattrFlags, CWD};
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::Metadata;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// The environment variable that picks how step rootfs are made: `overlay` (default, falling
/// back to `copy` where overlayfs cannot be mounted) or `copy`.
pub const ROOTFS_MODE_VAR: &str = "SKIFF_ROOTFS";

/// Whether `SKIFF_ROOTFS=copy` forces the copy-based rootfs.
pub(crate) fn forced() -> bool {
    std::env::var(ROOTFS_MODE_VAR).is_ok_and(|v| v == "copy")
}

/// What the step started from, for telling its changes apart afterwards.
pub(crate) struct CopyMount {
    target: PathBuf,
    upper: PathBuf,
    /// Relative path → identity, for every entry copied in.
    before: HashMap<PathBuf, Identity>,
    /// Relative dir → the names it held.
    children: HashMap<PathBuf, Vec<OsString>>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Identity {
    ino: u64,
    birth: Option<(i64, u32)>,
    ctime: (i64, i64),
}

impl CopyMount {
    /// Copies the merged `lowers` (lowest first) into `target`.
    pub(crate) fn mount(lowers: &[PathBuf], upper: &Path, target: &Path) -> Result<CopyMount> {
        let mut links = HashMap::new();
        for lower in lowers {
            merge(lower, target, &mut links).with_context(|| {
                format!("copying the layer {} into the rootfs", lower.display())
            })?;
        }
        let mut mount = CopyMount {
            target: target.to_path_buf(),
            upper: upper.to_path_buf(),
            before: HashMap::new(),
            children: HashMap::new(),
        };
        mount.record(target, Path::new(""))?;
        Ok(mount)
    }

    fn record(&mut self, dir: &Path, rel: &Path) -> Result<()> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
            let entry = entry?;
            let path = entry.path();
            let rel_child = rel.join(entry.file_name());
            self.before.insert(rel_child.clone(), identity(&path)?);
            names.push(entry.file_name());
            if entry.file_type()?.is_dir() {
                self.record(&path, &rel_child)?;
            }
        }
        self.children.insert(rel.to_path_buf(), names);
        Ok(())
    }

    /// Writes what changed in the target since [`CopyMount::mount`] into the upper dir, as
    /// overlayfs would have, then empties the target.
    pub(crate) fn write_upper(self) -> Result<()> {
        let mut links = HashMap::new();
        self.diff_dir(Path::new(""), &mut links)
            .context("collecting the step's changes from the copied rootfs")?;
        self.clear();
        Ok(())
    }

    /// Removes everything copied into the target (it is left an empty directory).
    pub(crate) fn clear(&self) {
        if let Ok(entries) = std::fs::read_dir(&self.target) {
            for entry in entries.flatten() {
                // Best effort: the target's parent is a scratch dir removed later anyway.
                let _ = remove_any(&entry.path());
            }
        }
    }

    /// `rel` is a directory that existed before (the same one) and still does.
    fn diff_dir(&self, rel: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
        let dir = self.target.join(rel);
        let upper_dir = self.upper.join(rel);
        let mut names = Vec::new();
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            names.push(entry?.file_name());
        }
        for name in &names {
            let rel_child = rel.join(name);
            let path = self.target.join(&rel_child);
            let meta = std::fs::symlink_metadata(&path)?;
            let now = identity(&path)?;
            match self.before.get(&rel_child) {
                None => copy_tree(&path, &upper_dir.join(name), &meta, false, links)?,
                Some(was) if (was.ino, was.birth) != (now.ino, now.birth) => {
                    copy_tree(&path, &upper_dir.join(name), &meta, meta.is_dir(), links)?
                }
                Some(_) if meta.is_dir() => {
                    std::fs::create_dir(upper_dir.join(name))?;
                    self.diff_dir(&rel_child, links)?;
                    apply_meta(&path, &upper_dir.join(name), &meta)?;
                }
                Some(was) if was.ctime != now.ctime => {
                    copy_tree(&path, &upper_dir.join(name), &meta, false, links)?
                }
                Some(_) => {}
            }
        }
        for old in self.children.get(rel).into_iter().flatten() {
            if !names.contains(old) {
                rustix::fs::mknodat(
                    CWD,
                    upper_dir.join(old).as_path(),
                    rustix::fs::FileType::CharacterDevice,
                    rustix::fs::Mode::empty(),
                    0,
                )
                .with_context(|| format!("writing the whiteout of {}", rel.join(old).display()))?;
            }
        }
        Ok(())
    }
}

fn identity(path: &Path) -> Result<Identity> {
    let st = rustix::fs::statx(
        CWD,
        path,
        AtFlags::SYMLINK_NOFOLLOW,
        StatxFlags::INO | StatxFlags::CTIME | StatxFlags::BTIME,
    )
    .with_context(|| format!("stat {}", path.display()))?;
    let birth = StatxFlags::from_bits_retain(st.stx_mask)
        .contains(StatxFlags::BTIME)
        .then_some((st.stx_btime.tv_sec, st.stx_btime.tv_nsec));
    Ok(Identity {
        ino: st.stx_ino,
        birth,
        ctime: (st.stx_ctime.tv_sec, i64::from(st.stx_ctime.tv_nsec)),
    })
}

/// Applies one overlay-form lower dir on top of `dst`.
fn merge(src: &Path, dst: &Path, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(src).with_context(|| format!("listing {}", src.display()))? {
        let entry = entry?;
        let (s, d) = (entry.path(), dst.join(entry.file_name()));
        let meta = std::fs::symlink_metadata(&s)?;
        let ft = meta.file_type();
        let existing = std::fs::symlink_metadata(&d).ok();
        if ft.is_char_device() && meta.rdev() == 0 {
            remove_any(&d)?;
        } else if ft.is_dir() {
            let opaque =
                get_xattr(&s, skiff_host::userns::overlay_opaque_xattr()).as_deref() == Some(b"y");
            match existing {
                Some(m) if m.is_dir() && opaque => {
                    remove_any(&d)?;
                    std::fs::create_dir(&d)?;
                }
                Some(m) if m.is_dir() => {}
                Some(_) => {
                    remove_any(&d)?;
                    std::fs::create_dir(&d)?;
                }
                None => std::fs::create_dir(&d)?,
            }
            merge(&s, &d, links)?;
            apply_meta(&s, &d, &meta)?;
        } else {
            if existing.is_some() {
                remove_any(&d)?;
            }
            copy_node(&s, &d, &meta, links)?;
        }
    }
    Ok(())
}

/// Copies `src` (anything) to `dst`, a whole directory tree included; `opaque` marks the
/// copied directory as hiding what was below it.
fn copy_tree(
    src: &Path,
    dst: &Path,
    meta: &Metadata,
    opaque: bool,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    if !meta.is_dir() {
        return copy_node(src, dst, meta, links);
    }
    std::fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
    for entry in std::fs::read_dir(src)? {
        let entry = entry?;
        let child_meta = std::fs::symlink_metadata(entry.path())?;
        copy_tree(
            &entry.path(),
            &dst.join(entry.file_name()),
            &child_meta,
            false,
            links,
        )?;
    }
    if opaque {
        rustix::fs::lsetxattr(
            dst,
            skiff_host::userns::overlay_opaque_xattr(),
            b"y",
            XattrFlags::empty(),
        )
        .with_context(|| format!("marking {} opaque", dst.display()))?;
    }
    apply_meta(src, dst, meta)
}

/// Copies one non-directory entry, keeping hardlinks among the entries copied so far.
fn copy_node(
    src: &Path,
    dst: &Path,
    meta: &Metadata,
    links: &mut HashMap<(u64, u64), PathBuf>,
) -> Result<()> {
    let ft = meta.file_type();
    let context = || format!("copying {} to {}", src.display(), dst.display());
    if meta.nlink() > 1 && !ft.is_dir() {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            return std::fs::hard_link(first, dst).with_context(context);
        }
        links.insert((meta.dev(), meta.ino()), dst.to_path_buf());
    }
    if ft.is_file() {
        std::fs::copy(src, dst).with_context(context)?;
    } else if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst).with_context(context)?;
    } else if ft.is_socket() {
        return Ok(()); // a layer cannot carry sockets
    } else {
        let kind = if ft.is_fifo() {
            rustix::fs::FileType::Fifo
        } else if ft.is_char_device() {
            rustix::fs::FileType::CharacterDevice
        } else {
            rustix::fs::FileType::BlockDevice
        };
        rustix::fs::mknodat(
            CWD,
            dst,
            kind,
            rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777),
            meta.rdev(),
        )
        .with_context(context)?;
    }
    apply_meta(src, dst, meta)
}

/// Gives `dst` the owner, mode, xattrs (overlayfs's own left out) and times of `src`.
fn apply_meta(src: &Path, dst: &Path, meta: &Metadata) -> Result<()> {
    let context = || {
        format!(
            "copying the metadata of {} to {}",
            src.display(),
            dst.display()
        )
    };
    let is_symlink = meta.file_type().is_symlink();
    rustix::fs::chownat(
        CWD,
        dst,
        Some(rustix::fs::Uid::from_raw(meta.uid())),
        Some(rustix::fs::Gid::from_raw(meta.gid())),
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .with_context(context)?;
    if !is_symlink {
        // After chown, which clears setuid/setgid.
        rustix::fs::chmod(dst, rustix::fs::Mode::from_raw_mode(meta.mode() & 0o7777))
            .with_context(context)?;
        for (name, value) in xattrs(src)? {
            rustix::fs::lsetxattr(dst, name.as_slice(), &value, XattrFlags::empty())
                .with_context(context)?;
        }
    }
    let times = Timestamps {
        last_access: rustix::fs::Timespec {
            tv_sec: meta.atime(),
            tv_nsec: meta.atime_nsec() as _,
        },
        last_modification: rustix::fs::Timespec {
            tv_sec: meta.mtime(),
            tv_nsec: meta.mtime_nsec() as _,
        },
    };
    rustix::fs::utimensat(CWD, dst, &times, AtFlags::SYMLINK_NOFOLLOW).with_context(context)?;
    Ok(())
}

/// The xattrs of `path` except overlayfs's own.
fn xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut names = vec![0u8; 64 * 1024];
    let n = match rustix::fs::llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => 0,
        Err(e) => return Err(e).with_context(|| format!("listing xattrs of {}", path.display())),
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        if name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.") {
            continue;
        }
        if let Some(value) = get_xattr(path, std::ffi::OsStr::from_bytes(name)) {
            out.push((name.to_vec(), value));
        }
    }
    Ok(out)
}

fn get_xattr(path: &Path, name: impl rustix::path::Arg) -> Option<Vec<u8>> {
    let mut value = vec![0u8; 64 * 1024];
    let len = rustix::fs::lgetxattr(path, name, &mut value[..]).ok()?;
    value.truncate(len);
    Some(value)
}

fn remove_any(path: &Path) -> Result<()> {
    let result = match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => Err(e),
    };
    result.with_context(|| format!("removing {}", path.display()))
}
