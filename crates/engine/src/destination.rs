//! Writing COPY/ADD sources into a step's rootfs with BuildKit's rules (tonistiigi/fsutil's
//! `copy`):
//!
//! * a directory source's *contents* go into the destination; the destination directory is
//!   created (0755, owned by `--chown` or root) when missing and left as it is otherwise;
//! * a file goes to the destination itself, or into it when the destination ends with `/`,
//!   there are several sources, or it already is a directory;
//! * missing parent directories are created (0755, owned by `--chown` or root);
//! * copied entries keep their mode, mtime, extended attributes and (from a stage or an
//!   image) owner; `--chown` and `--chmod` override them; symlinks are copied as symlinks;
//!   hard links inside one COPY stay hard links;
//! * destination paths are resolved inside the rootfs: symlinks on the way are followed
//!   but clamped to the rootfs, so nothing is ever written outside it. Where a copied
//!   directory meets a symlink to a directory in the rootfs (`lib -> usr/lib`), skiff
//!   follows it (clamped) and merges; BuildKit fails with "cannot copy to non-directory".

use crate::dockerignore::Matcher;
use crate::rootpath;
use crate::sources::{Selected, SourceTree, Walked};
use anyhow::{anyhow, bail, Context as _, Result};
use skiff_frontend::ast::Word;
use skiff_frontend::instructions::{parse_chmod, FileMode};
use skiff_frontend::Diagnostic;
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Ownership and mode overrides of a COPY (`--chown`, `--chmod`), already resolved.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// `--chown` as numbers.
    pub owner: Option<(u32, u32)>,
    /// `--chmod` as a function of the existing mode.
    pub chmod: Option<Chmod>,
}

/// A `--chmod` value, checked once by the frontend's rule (octal up to `07777`, or symbolic
/// `u+x,go-w`, as BuildKit accepts) and kept typed down to where modes are set; the text as
/// written stays with it for the cache key.
#[derive(Clone, Debug)]
pub struct Chmod {
    mode: FileMode,
    written: String,
}

impl Chmod {
    /// The `--chmod` of an expanded instruction; an invalid value is a Dockerfile error at
    /// the flag.
    pub fn from_word(word: &Word) -> Result<Chmod, Diagnostic> {
        Ok(Chmod {
            mode: parse_chmod(word)?,
            written: word.value.clone(),
        })
    }

    /// The value as written (the cache key's text).
    pub fn written(&self) -> &str {
        &self.written
    }

    /// The mode an octal `--chmod` gives: BuildKit (fsutil's `MkdirAll`) creates a copy's
    /// missing directories with it; a symbolic one leaves them 0755.
    pub fn octal(&self) -> Option<u32> {
        match &self.mode {
            FileMode::Octal(v) => Some(*v),
            FileMode::Symbolic(_) => None,
        }
    }

    /// The new mode for an entry whose mode was `old`.
    pub fn apply(&self, old: u32, is_dir: bool) -> u32 {
        match &self.mode {
            FileMode::Octal(v) => *v,
            FileMode::Symbolic(s) => apply_symbolic(s, old, is_dir).unwrap_or(old),
        }
    }
}

fn apply_symbolic(spec: &str, old: u32, is_dir: bool) -> Result<u32> {
    let mut mode = old & 0o7777;
    for clause in spec.split(',') {
        let op_at = clause.find(['+', '-', '=']).ok_or_else(|| {
            anyhow!("invalid chmod \"{spec}\": expected an octal mode or [ugoa][+-=][rwxXst]")
        })?;
        let (who, rest) = clause.split_at(op_at);
        let mut mask = 0;
        for c in who.chars() {
            mask |= match c {
                'u' => 0o4700,
                'g' => 0o2070,
                'o' => 0o1007,
                'a' => 0o7777,
                _ => bail!("invalid chmod \"{spec}\": unknown who '{c}' (use u, g, o or a)"),
            };
        }
        if who.is_empty() {
            mask = 0o7777;
        }
        let op = rest.chars().next().unwrap_or('+');
        let mut bits = 0;
        for c in rest[1..].chars() {
            bits |= match c {
                'r' => 0o444,
                'w' => 0o222,
                'x' => 0o111,
                'X' if is_dir || old & 0o111 != 0 => 0o111,
                'X' => 0,
                's' => 0o6000,
                't' => 0o1000,
                _ => bail!(
                    "invalid chmod \"{spec}\": unknown permission '{c}' (use r, w, x, X, s or t)"
                ),
            };
        }
        let bits = bits & mask;
        mode = match op {
            '+' => mode | bits,
            '-' => mode & !bits,
            _ => (mode & !mask) | bits,
        };
    }
    Ok(mode)
}

/// Writes sources into one destination rootfs; remembers hard links and directory times
/// across the sources of one COPY.
pub struct Writer<'a> {
    root: &'a Path,
    opts: &'a CopyOptions,
    links: HashMap<(u64, u64), PathBuf>,
    dir_times: Vec<(PathBuf, (i64, i64))>,
}

impl<'a> Writer<'a> {
    /// A writer into the rootfs at `root`.
    pub fn new(root: &'a Path, opts: &'a CopyOptions) -> Writer<'a> {
        Writer {
            root,
            opts,
            links: HashMap::new(),
            dir_times: Vec::new(),
        }
    }

    /// Copies one selected source to `dest` (an absolute path in the rootfs; `dest_is_dir`
    /// when it ends with `/`). A file goes inside `dest` when that is a directory by then, so
    /// several sources or matches copied in turn land as BuildKit's chained copies do.
    pub fn copy_source(
        &mut self,
        tree: &SourceTree,
        sel: &Selected,
        excludes: Option<&Matcher>,
        dest: &str,
        dest_is_dir: bool,
    ) -> Result<()> {
        if SourceTree::excludes_source(sel, excludes) {
            return Ok(());
        }
        let entries = tree.walk(sel, excludes)?;
        let d = rootpath::resolve(self.root, dest, true)?;
        if sel.is_dir {
            match fs::metadata(&d) {
                Ok(m) if !m.is_dir() => bail!(
                    "cannot copy directory \"{}\" to {dest}: {dest} exists and is not a directory",
                    sel.matched
                ),
                Ok(_) => {}
                Err(_) => self.make_dirs(&d)?,
            }
            let base = rootpath::relative(self.root, &d);
            for w in &entries[1..] {
                let target =
                    rootpath::resolve(self.root, &format!("{base}/{}", w.rel), w.meta.is_dir())?;
                self.write(tree, w, &target)?;
            }
        } else {
            let target = if dest_is_dir || d.is_dir() {
                self.make_dirs(&d)?;
                d.join(sel.name())
            } else {
                if let Some(parent) = d.parent() {
                    self.make_dirs(parent)?;
                }
                d
            };
            self.write(tree, &entries[0], &target)?;
        }
        Ok(())
    }

    /// Creates `dir` and its missing parents for the copy: owned as `--chown` says, and with
    /// an octal `--chmod` as their mode (as fsutil's `MkdirAll` in BuildKit; directories
    /// already there keep theirs).
    fn make_dirs(&self, dir: &Path) -> Result<()> {
        use skiff_sandbox::rootfs_path::{mkdir_all, InTheWay};
        let created = mkdir_all(self.root, dir, self.opts.owner, InTheWay::Replace)?;
        if let Some(mode) = self.opts.chmod.as_ref().and_then(Chmod::octal) {
            for d in created {
                fs::set_permissions(&d, fs::Permissions::from_mode(mode))
                    .with_context(|| format!("setting the mode of {}", d.display()))?;
            }
        }
        Ok(())
    }

    /// For `--parents`: creates `dest/<dirs>` one level at a time, each missing level as a
    /// copy of the source directory `<pivot>/<level>` (mode, owner, time), as BuildKit does.
    pub fn copy_parent_dirs(
        &mut self,
        tree: &SourceTree,
        pivot: &str,
        dirs: &str,
        dest: &str,
    ) -> Result<()> {
        let mut rel = String::new();
        for part in dirs.split('/').filter(|p| !p.is_empty()) {
            rel = if rel.is_empty() {
                part.to_string()
            } else {
                format!("{rel}/{part}")
            };
            let target = rootpath::resolve(
                self.root,
                &format!("{}/{rel}", dest.trim_end_matches('/')),
                true,
            )?;
            if target.exists() {
                continue;
            }
            if let Some(parent) = target.parent() {
                mkdir_all(self.root, parent, self.opts.owner)?;
            }
            let src = rootpath::resolve(&tree.root, &format!("{pivot}/{rel}"), true)?;
            let meta = fs::metadata(&src).with_context(|| format!("reading {pivot}/{rel}"))?;
            let w = Walked {
                rel: rel.clone(),
                abs: src,
                meta,
            };
            self.write(tree, &w, &target)?;
        }
        Ok(())
    }

    /// Sets the times of the directories written (after their contents, which change them).
    pub fn finish(self) -> Result<()> {
        for (dir, time) in self.dir_times.iter().rev() {
            set_mtime(dir, *time)?;
        }
        Ok(())
    }

    fn write(&mut self, tree: &SourceTree, w: &Walked, target: &Path) -> Result<()> {
        let meta = &w.meta;
        let t = meta.file_type();
        let shown = || format!("/{}", rootpath::relative(self.root, target));
        if let Ok(existing) = fs::symlink_metadata(target) {
            match (t.is_dir(), existing.is_dir()) {
                (true, true) => {}
                (true, false) => bail!(
                    "cannot copy directory to {}: it exists and is not a directory",
                    shown()
                ),
                (false, true) => bail!(
                    "cannot replace directory {} with a file: remove it first (RUN rm -r) or \
                     copy to another path",
                    shown()
                ),
                (false, false) => {
                    fs::remove_file(target).with_context(|| format!("replacing {}", shown()))?
                }
            }
        }
        if t.is_dir() {
            if !target.is_dir() {
                fs::create_dir(target).with_context(|| format!("creating {}", shown()))?;
            }
        } else if t.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&w.abs)?, target)
                .with_context(|| format!("creating symlink {}", shown()))?;
        } else if t.is_file() {
            if meta.nlink() > 1 {
                if let Some(first) = self.links.get(&(meta.dev(), meta.ino())) {
                    fs::hard_link(first, target)
                        .with_context(|| format!("creating hard link {}", shown()))?;
                    return Ok(());
                }
                self.links
                    .insert((meta.dev(), meta.ino()), target.to_path_buf());
            }
            fs::copy(&w.abs, target).with_context(|| format!("copying to {}", shown()))?;
        } else if t.is_fifo() {
            // BuildKit's context transfer (fsutil) recreates fifos, and its copy keeps them.
            use rustix::fs::{mknodat, FileType, Mode, CWD};
            mknodat(CWD, target, FileType::Fifo, Mode::from_raw_mode(0o600), 0)
                .with_context(|| format!("creating fifo {}", shown()))?;
        } else if t.is_socket() {
            // fsutil clears a socket's type bit, so the socket arrives as an empty file.
            fs::File::create(target).with_context(|| format!("creating {}", shown()))?;
        } else {
            // Devices are not copied: a build context is not where device nodes come from.
            return Ok(());
        }
        let (uid, gid) = match self.opts.owner {
            Some(o) => o,
            None if tree.keep_owner => (meta.uid(), meta.gid()),
            None => (0, 0),
        };
        std::os::unix::fs::lchown(target, Some(uid), Some(gid))
            .with_context(|| format!("changing the owner of {}", shown()))?;
        if !t.is_symlink() {
            let mode = match &self.opts.chmod {
                Some(c) => c.apply(meta.mode() & 0o7777, t.is_dir()),
                None => meta.mode() & 0o7777,
            };
            fs::set_permissions(target, fs::Permissions::from_mode(mode))?;
        }
        // After chown, which would clear security.capability. A local tree (the context, a
        // named directory) loses its file capabilities, as in BuildKit: its context transfer
        // (fsutil) sets xattrs before the owner, and that chown clears them.
        copy_xattrs(&w.abs, target, tree.keep_owner);
        let time = (meta.mtime(), meta.mtime_nsec());
        if t.is_dir() {
            self.dir_times.push((target.to_path_buf(), time));
        } else {
            set_mtime(target, time)?;
        }
        Ok(())
    }
}

/// Copies the extended attributes of `src` to `dst` (symlinks not followed), as fsutil does,
/// `security.capability` only with `keep_capability`. One the destination cannot take is
/// skipped, as BuildKit allows xattr errors on COPY.
fn copy_xattrs(src: &Path, dst: &Path, keep_capability: bool) {
    use rustix::fs::{lgetxattr, lgetxattr_query, llistxattr, llistxattr_query, lsetxattr};
    let Ok(size) = llistxattr_query(src) else {
        return;
    };
    if size == 0 {
        return;
    }
    let mut names = vec![0u8; size];
    let Ok(size) = llistxattr(src, &mut names[..]) else {
        return;
    };
    for name in names[..size].split(|b| *b == 0) {
        let Ok(name) = std::str::from_utf8(name) else {
            continue;
        };
        if name.is_empty()
            || name.starts_with("trusted.overlay.")
            || (!keep_capability && name == "security.capability")
        {
            continue;
        }
        let Ok(len) = lgetxattr_query(src, name) else {
            continue;
        };
        let mut value = vec![0u8; len];
        if let Ok(len) = lgetxattr(src, name, &mut value[..]) {
            let _ = lsetxattr(dst, name, &value[..len], rustix::fs::XattrFlags::empty());
        }
    }
}

/// Creates `dir` and its missing parents inside `root` (mode 0755, owned by `owner` or root),
/// replacing a non-directory in the way: the sandbox's [`skiff_sandbox::rootfs_path::mkdir_all`].
pub fn mkdir_all(root: &Path, dir: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    use skiff_sandbox::rootfs_path::{mkdir_all, InTheWay};
    mkdir_all(root, dir, owner, InTheWay::Replace).map(drop)
}

/// Sets a path's mtime (and atime) without following a final symlink.
pub fn set_mtime(path: &Path, (sec, nsec): (i64, i64)) -> Result<()> {
    use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
    let ts = Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    utimensat(
        CWD,
        path,
        &Timestamps {
            last_access: ts,
            last_modification: ts,
        },
        AtFlags::SYMLINK_NOFOLLOW,
    )
    .with_context(|| format!("setting mtime of {}", path.display()))?;
    Ok(())
}
