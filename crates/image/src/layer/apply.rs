//! Applying a layer tarball to a directory, safely.
//!
//! Every entry is checked before anything is written: its path must be relative
//! without `..`, every parent directory is opened with `O_NOFOLLOW` from the root
//! (see [`super::beneath`]), existing entries are replaced by unlinking (never
//! written through), and hardlink targets are resolved the same way. A hostile
//! tar therefore fails with an error naming the entry, and nothing lands outside
//! the root.

use super::beneath::{is_dir, list_dir, lstat_at, remove_all_at, Beneath};
use super::compression::decompressed;
use super::entry_meta::{device_number, read_meta, Meta};
use super::entry_path::{components, display};
use super::whiteout::{overlay_opaque_xattr, OPAQUE_MARKER, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX};
use crate::store::blob::sha256_digest;
use anyhow::{anyhow, bail, Context, Result};
use oci_spec::image::Digest;
use rustix::fs::{
    chmodat, chownat, fchmod, fchown, fsetxattr, futimens, linkat, makedev, mknodat, openat,
    symlinkat, utimensat, AtFlags, FileType, Gid, Mode, OFlags, Timespec, Timestamps, Uid,
    XattrFlags,
};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use tar::EntryType;

/// How OCI whiteouts are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApplyMode {
    /// Into an empty directory that becomes an overlayfs lower layer: `.wh.name`
    /// becomes a 0/0 character device, `.wh..wh..opq` the `trusted.overlay.opaque`
    /// xattr — overlayfs resolves them at mount time. Needs root.
    Overlay,
    /// Onto a directory already holding the lower layers: whiteouts delete.
    /// For `type=local` export and the copy-based fallback without overlayfs.
    Flat,
    /// An archive `ADD` unpacks into a directory ([`extract`]): as [`ApplyMode::Flat`], but
    /// the archive's root entry is skipped and members go through the symlinks already there,
    /// resolved with the directory as `/` (clamped).
    Extract,
}

/// Applies a layer (gzip, zstd or plain tar; detected by magic) onto `root`
/// with whiteouts deleting what they hide. Returns the layer's diff ID.
pub fn apply_flat(reader: impl Read, root: &Path) -> Result<Digest> {
    apply(reader, root, ApplyMode::Flat)
}

/// Unpacks an archive `ADD` names (gzip, zstd or plain tar) into `root`, as BuildKit does
/// ([`ApplyMode::Extract`]).
pub fn extract(reader: impl Read, root: &Path) -> Result<Digest> {
    apply(reader, root, ApplyMode::Extract)
}

/// Applies a layer (gzip, zstd or plain tar; detected by magic) onto `root`.
/// Returns the layer's diff ID (sha256 of the uncompressed tar).
pub fn apply(reader: impl Read, root: &Path, mode: ApplyMode) -> Result<Digest> {
    let mut tar_stream = HashingReader {
        inner: decompressed(reader).context("cannot read the layer")?,
        hasher: Sha256::new(),
    };
    let mut applier = Applier {
        root: Beneath::open(root)?,
        root_path: root.to_path_buf(),
        mode,
        privileged: skiff_host::userns::is_host_root(),
        dirs: BTreeMap::new(),
        touched: HashSet::new(),
    };
    {
        let mut archive = tar::Archive::new(&mut tar_stream);
        for entry in archive
            .entries()
            .context("cannot read the layer as a tar archive")?
        {
            let mut entry = entry.context("corrupt layer tar archive")?;
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            applier
                .entry(&mut entry)
                .with_context(|| format!("layer entry {name:?}: refused"))?;
        }
    }
    applier.finish_dirs()?;
    std::io::copy(&mut tar_stream, &mut std::io::sink()).context("cannot read the layer")?;
    Ok(sha256_digest(tar_stream.hasher))
}

struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

struct DirMeta {
    mode: u32,
    mtime: Timespec,
}

struct Applier {
    root: Beneath,
    root_path: std::path::PathBuf,
    mode: ApplyMode,
    privileged: bool,
    /// Directory modes and mtimes, applied last (adding children changes mtimes,
    /// and a read-only directory must still accept its children).
    dirs: BTreeMap<Vec<OsString>, DirMeta>,
    /// Paths this layer wrote (and their parents): an opaque whiteout keeps them.
    touched: HashSet<Vec<OsString>>,
}

impl Applier {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<()> {
        let path = entry.path_bytes().into_owned();
        let kind = match entry.header().entry_type() {
            EntryType::XGlobalHeader => return Ok(()),
            // pre-POSIX tars mark directories with a trailing slash only
            EntryType::Regular if path.ends_with(b"/") => EntryType::Directory,
            kind => kind,
        };
        let mut comps = components(&path).map_err(|why| anyhow!(why))?;
        if self.mode == ApplyMode::Extract && comps.len() > 1 {
            let name = comps.pop().expect("two components or more");
            comps = super::extract::resolve_beneath(&self.root_path, &comps)?;
            comps.push(name);
        }
        let meta = read_meta(entry)?;
        let Some((name, parent_comps)) = comps.split_last() else {
            if self.mode == ApplyMode::Extract {
                return Ok(()); // the archive's root: the destination keeps its own metadata
            }
            if kind.is_dir() {
                self.dirs.insert(Vec::new(), dir_meta(&meta));
                return Ok(());
            }
            bail!("the layer root can only be a directory");
        };
        if name.as_bytes().starts_with(WHITEOUT_PREFIX.as_bytes()) {
            return self.whiteout(parent_comps, name);
        }
        for i in 1..=comps.len() {
            self.touched.insert(comps[..i].to_vec());
        }
        let parent = self.open_parent(parent_comps)?;
        match kind {
            EntryType::Directory => self.directory(&parent, &comps, name, meta),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(entry, &parent, name, &meta)
            }
            EntryType::Symlink => {
                let target = entry
                    .link_name_bytes()
                    .context("symlink without a target")?
                    .into_owned();
                self.symlink(&parent, name, &target, &meta)
            }
            EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .context("hardlink without a target")?
                    .into_owned();
                self.hardlink(&parent, name, &target)
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.special(entry.header(), kind, &parent, name, &meta)
            }
            other => bail!("unsupported tar entry type {other:?}"),
        }
    }

    /// A regular file: created anew (never through an existing link), then its contents,
    /// owner, xattrs, mode and mtime.
    fn regular<R: Read>(
        &self,
        entry: &mut tar::Entry<R>,
        parent: &OwnedFd,
        name: &OsString,
        meta: &Meta,
    ) -> Result<()> {
        replace(parent, name)?;
        let fd = openat(
            parent,
            name.as_os_str(),
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::from_raw_mode(0o600),
        )
        .context("cannot create file")?;
        let mut file = std::fs::File::from(fd);
        let mut out = std::io::BufWriter::with_capacity(1 << 20, &mut file);
        std::io::copy(entry, &mut out)
            .and_then(|_| out.flush())
            .context("cannot write file contents")?;
        drop(out);
        self.owner_and_xattrs(&file, meta)?;
        fchmod(&file, Mode::from_raw_mode(meta.mode)).context("cannot set mode")?;
        futimens(&file, &times(meta.mtime)).context("cannot set mtime")?;
        Ok(())
    }

    /// A symlink, whose target is stored as it is (it is never followed here).
    fn symlink(&self, parent: &OwnedFd, name: &OsString, target: &[u8], meta: &Meta) -> Result<()> {
        replace(parent, name)?;
        symlinkat(OsStr::from_bytes(target), parent, name.as_os_str())
            .context("cannot create symlink")?;
        self.chown_at(parent, name, meta)?;
        utimensat(
            parent,
            name.as_os_str(),
            &times(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .context("cannot set symlink mtime")?;
        Ok(())
    }

    /// A device node or a fifo (device nodes only when running as root).
    fn special(
        &self,
        header: &tar::Header,
        kind: EntryType,
        parent: &OwnedFd,
        name: &OsString,
        meta: &Meta,
    ) -> Result<()> {
        let file_type = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        if file_type != FileType::Fifo && !self.privileged {
            return Ok(()); // device nodes need root; rootless extraction skips them
        }
        let dev = if file_type == FileType::Fifo {
            0
        } else {
            device_number(header)?
        };
        replace(parent, name)?;
        mknodat(
            parent,
            name.as_os_str(),
            file_type,
            Mode::from_raw_mode(0o600),
            dev,
        )
        .context("cannot create device node or fifo")?;
        self.chown_at(parent, name, meta)?;
        chmodat(
            parent,
            name.as_os_str(),
            Mode::from_raw_mode(meta.mode),
            AtFlags::empty(),
        )
        .context("cannot set mode")?;
        utimensat(
            parent,
            name.as_os_str(),
            &times(meta.mtime),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .context("cannot set mtime")?;
        Ok(())
    }

    fn open_parent(&self, parent_comps: &[OsString]) -> Result<OwnedFd> {
        Ok(self
            .root
            .open_dir(parent_comps, true)?
            .expect("open_dir with create returns a directory"))
    }

    fn directory(
        &mut self,
        parent: &OwnedFd,
        comps: &[OsString],
        name: &OsString,
        meta: Meta,
    ) -> Result<()> {
        match lstat_at(parent, name)? {
            Some(st) if is_dir(&st) => {}
            Some(_) => {
                replace(parent, name)?;
                rustix::fs::mkdirat(parent, name.as_os_str(), Mode::from_raw_mode(0o700))?;
            }
            None => rustix::fs::mkdirat(parent, name.as_os_str(), Mode::from_raw_mode(0o700))
                .context("cannot create directory")?,
        }
        let fd = openat(
            parent,
            name.as_os_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .context("cannot open the directory just made")?;
        self.owner_and_xattrs(&fd, &meta)?; // mode comes last: see `dirs`
        self.dirs.insert(comps.to_vec(), dir_meta(&meta));
        Ok(())
    }

    fn hardlink(&self, parent: &OwnedFd, name: &OsString, target: &[u8]) -> Result<()> {
        let tcomps = components(target).map_err(|why| {
            anyhow!(
                "hardlink target {:?}: {why}",
                String::from_utf8_lossy(target)
            )
        })?;
        let Some((tname, tparent_comps)) = tcomps.split_last() else {
            bail!("hardlink target is the layer root");
        };
        let tparent = self
            .root
            .open_dir(tparent_comps, false)
            .with_context(|| format!("hardlink target {}", display(&tcomps)))?
            .with_context(|| format!("hardlink target {} does not exist", display(&tcomps)))?;
        let tst = lstat_at(&tparent, tname)?
            .with_context(|| format!("hardlink target {} does not exist", display(&tcomps)))?;
        if is_dir(&tst) {
            bail!("hardlink target {} is a directory", display(&tcomps));
        }
        if let Some(st) = lstat_at(parent, name)? {
            if st.st_ino == tst.st_ino && st.st_dev == tst.st_dev {
                return Ok(());
            }
        }
        replace(parent, name)?;
        linkat(
            &tparent,
            tname.as_os_str(),
            parent,
            name.as_os_str(),
            AtFlags::empty(),
        )
        .context("cannot create hardlink")?;
        Ok(())
    }

    fn whiteout(&mut self, parent_comps: &[OsString], name: &OsString) -> Result<()> {
        let bytes = name.as_bytes();
        if bytes == OPAQUE_MARKER.as_bytes() {
            return match self.mode {
                ApplyMode::Overlay => {
                    let dir = self.open_parent(parent_comps)?;
                    fsetxattr(&dir, overlay_opaque_xattr(), b"y", XattrFlags::empty())
                        .context("cannot mark a directory opaque")?;
                    Ok(())
                }
                ApplyMode::Flat | ApplyMode::Extract => {
                    let mut dir = parent_comps.to_vec();
                    self.clear_opaque(&mut dir)
                }
            };
        }
        if bytes.starts_with(WHITEOUT_META_PREFIX.as_bytes()) {
            return Ok(()); // other aufs metadata (.wh..wh.plnk …): meaningless here
        }
        let hidden = OsStr::from_bytes(&bytes[WHITEOUT_PREFIX.len()..]);
        if hidden.is_empty() || hidden == "." || hidden == ".." || hidden.as_bytes().contains(&b'/')
        {
            bail!("malformed whiteout name");
        }
        match self.mode {
            ApplyMode::Overlay => {
                let parent = self.open_parent(parent_comps)?;
                remove_all_at(&parent, hidden).context("cannot replace entry with a whiteout")?;
                mknodat(
                    &parent,
                    hidden,
                    FileType::CharacterDevice,
                    Mode::empty(),
                    makedev(0, 0),
                )
                .context("cannot create overlay whiteout (a 0/0 character device: needs root)")?;
            }
            ApplyMode::Flat | ApplyMode::Extract => {
                if let Some(parent) = self.root.open_dir(parent_comps, false)? {
                    remove_all_at(&parent, hidden).context("cannot delete whited-out entry")?;
                }
            }
        }
        Ok(())
    }

    /// Flat opaque whiteout: delete everything in `dir` this layer did not write.
    fn clear_opaque(&self, dir: &mut Vec<OsString>) -> Result<()> {
        let Some(fd) = self.root.open_dir(dir, false)? else {
            return Ok(());
        };
        for child in list_dir(&fd)? {
            dir.push(child.clone());
            if self.touched.contains(dir.as_slice()) {
                if lstat_at(&fd, &child)?.is_some_and(|st| is_dir(&st)) {
                    self.clear_opaque(dir)?;
                }
            } else {
                remove_all_at(&fd, &child).context("cannot apply opaque whiteout")?;
            }
            dir.pop();
        }
        Ok(())
    }

    /// Owner, then xattrs (chown clears `security.capability`). The caller sets
    /// the mode afterwards, since chown also clears setuid/setgid bits.
    fn owner_and_xattrs(&self, fd: impl AsFd, meta: &Meta) -> Result<()> {
        let fd = fd.as_fd();
        match fchown(
            fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        ) {
            Ok(()) => {}
            Err(Errno::PERM) if !self.privileged => {}
            Err(e) => return Err(owner_error(e, meta)),
        }
        for (key, value) in &meta.xattrs {
            match fsetxattr(fd, key.as_os_str(), value, XattrFlags::empty()) {
                Ok(()) => {}
                Err(Errno::PERM | Errno::NOTSUP) if !self.privileged => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("cannot set xattr {}", key.to_string_lossy()))
                }
            }
        }
        Ok(())
    }

    fn chown_at(&self, parent: &OwnedFd, name: &OsString, meta: &Meta) -> Result<()> {
        match chownat(
            parent,
            name.as_os_str(),
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        ) {
            Ok(()) => Ok(()),
            Err(Errno::PERM) if !self.privileged => Ok(()),
            Err(e) => Err(owner_error(e, meta)),
        }
    }

    /// Sets directory modes and mtimes, deepest first, on what is still a directory.
    fn finish_dirs(&mut self) -> Result<()> {
        for (comps, meta) in std::mem::take(&mut self.dirs).into_iter().rev() {
            let Ok(Some(fd)) = self.root.open_dir(&comps, false) else {
                continue; // removed or replaced later in the layer
            };
            fchmod(&fd, Mode::from_raw_mode(meta.mode))
                .with_context(|| format!("cannot set mode of {}", display(&comps)))?;
            futimens(&fd, &times(meta.mtime))
                .with_context(|| format!("cannot set mtime of {}", display(&comps)))?;
        }
        Ok(())
    }
}

/// Why an entry's owner could not be set. In a user namespace (rootless), EINVAL means an id
/// the namespace does not map: say which, and where more ids come from.
fn owner_error(err: Errno, meta: &Meta) -> anyhow::Error {
    use skiff_host::userns::{unmapped_id_message, IdKind, IdMap};
    if err == Errno::INVAL {
        if !IdMap::current(IdKind::User).contains(meta.uid) {
            return anyhow::anyhow!(unmapped_id_message(IdKind::User, meta.uid));
        }
        if !IdMap::current(IdKind::Group).contains(meta.gid) {
            return anyhow::anyhow!(unmapped_id_message(IdKind::Group, meta.gid));
        }
    }
    anyhow::Error::new(err).context("cannot set owner")
}

/// Makes room for a new entry called `name` by removing whatever is there
/// (a directory with its contents: tar semantics, as containerd has them).
/// Never writes through an existing entry, so a planted symlink cannot redirect.
fn replace(parent: &OwnedFd, name: &OsString) -> Result<()> {
    remove_all_at(parent, name).context("cannot replace the existing entry")
}

fn dir_meta(meta: &Meta) -> DirMeta {
    DirMeta {
        mode: meta.mode,
        mtime: meta.mtime,
    }
}

fn times(mtime: Timespec) -> Timestamps {
    Timestamps {
        last_access: mtime,
        last_modification: mtime,
    }
}
