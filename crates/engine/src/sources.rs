//! Files a COPY/ADD reads: a tree (the build context, another stage's rootfs, an image's
//! rootfs), the sources a pattern selects in it, their content checksum for the cache key,
//! and copying them into a destination rootfs with Docker's rules.
//!
//! Every path is resolved with [`crate::rootpath::resolve`], so symlinks in a context or a
//! stage can never make a COPY read outside that tree.

use crate::dockerignore::Matcher;
use crate::glob;
use crate::rootpath;
use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A directory tree COPY/ADD can read from.
pub struct SourceTree {
    /// The tree's root.
    pub root: PathBuf,
    /// `.dockerignore` rules (only for the build context).
    pub ignore: Option<Matcher>,
    /// Whether owners are kept when copying (true for stages and images, false for the
    /// context: Docker makes context files root-owned unless `--chown`).
    pub keep_owner: bool,
    /// What to call the tree in messages (`build context`, `stage builder`).
    pub label: String,
}

/// One source a pattern selected: its path relative to the tree's root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// Path relative to the tree root, after following symlinks (clamped to the tree).
    pub rel: String,
    /// Whether it is a directory (its contents are copied, not itself).
    pub is_dir: bool,
}

impl SourceTree {
    fn excluded(&self, rel: &str, is_dir: bool) -> bool {
        match &self.ignore {
            Some(m) => !rel.is_empty() && m.is_excluded(rel, is_dir),
            None => false,
        }
    }

    /// The sources `pattern` names (a path or a wildcard pattern, relative to the tree root).
    pub fn select(&self, pattern: &str) -> Result<Vec<Selected>> {
        let clean = pattern.trim_start_matches('/');
        if !glob::has_wildcard(clean) {
            let abs = rootpath::resolve(&self.root, clean, true)?;
            let rel = rootpath::relative(&self.root, &abs);
            let meta = fs::symlink_metadata(&abs).ok();
            match meta {
                Some(m) if !self.excluded(&rel, m.is_dir()) => {
                    return Ok(vec![Selected {
                        rel,
                        is_dir: m.is_dir(),
                    }]);
                }
                _ => bail!(self.not_found(pattern)),
            }
        }
        let mut found = Vec::new();
        self.expand(&mut found, String::new(), &components(clean))?;
        if found.is_empty() {
            bail!(self.not_found(pattern));
        }
        found.sort_by(|a: &Selected, b| a.rel.cmp(&b.rel));
        Ok(found)
    }

    fn not_found(&self, pattern: &str) -> String {
        let ignored = self.ignore.is_some();
        format!(
            "\"{pattern}\" not found in the {}{}",
            self.label,
            if ignored {
                " (or excluded by .dockerignore)"
            } else {
                ""
            }
        )
    }

    fn expand(&self, out: &mut Vec<Selected>, base: String, rest: &[String]) -> Result<()> {
        let Some((first, rest)) = rest.split_first() else {
            let abs = rootpath::resolve(&self.root, &base, true)?;
            if let Ok(m) = fs::metadata(&abs) {
                let rel = rootpath::relative(&self.root, &abs);
                if !self.excluded(&rel, m.is_dir()) {
                    out.push(Selected {
                        rel,
                        is_dir: m.is_dir(),
                    });
                }
            }
            return Ok(());
        };
        let join = |name: &str| {
            if base.is_empty() {
                name.to_string()
            } else {
                format!("{base}/{name}")
            }
        };
        if !glob::has_wildcard(first) {
            return self.expand(out, join(first), rest);
        }
        let dir = rootpath::resolve(&self.root, &base, true)?;
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if glob::matches(first, &name) {
                self.expand(out, join(&name), rest)?;
            }
        }
        Ok(())
    }

    /// Every entry under a selected source, sorted, as `(path relative to the source, metadata)`;
    /// the source itself is `""`. Excluded entries are left out.
    pub fn walk(&self, sel: &Selected) -> Result<Vec<(String, PathBuf, fs::Metadata)>> {
        let abs = self.root.join(&sel.rel);
        let meta = fs::symlink_metadata(&abs).with_context(|| format!("reading {}", sel.rel))?;
        let mut out = vec![(String::new(), abs.clone(), meta)];
        if sel.is_dir {
            self.walk_dir(&abs, &sel.rel, "", &mut out)?;
        }
        Ok(out)
    }

    fn walk_dir(
        &self,
        dir: &Path,
        tree_rel: &str,
        src_rel: &str,
        out: &mut Vec<(String, PathBuf, fs::Metadata)>,
    ) -> Result<()> {
        let mut names: Vec<_> = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let name = name.to_string_lossy().into_owned();
            let abs = dir.join(&name);
            let meta = fs::symlink_metadata(&abs)?;
            let t_rel = if tree_rel.is_empty() {
                name.clone()
            } else {
                format!("{tree_rel}/{name}")
            };
            let s_rel = if src_rel.is_empty() {
                name.clone()
            } else {
                format!("{src_rel}/{name}")
            };
            if self.excluded(&t_rel, meta.is_dir()) {
                if meta.is_dir()
                    && self
                        .ignore
                        .as_ref()
                        .is_some_and(|m| m.may_include_under(&t_rel))
                {
                    self.walk_dir(&abs, &t_rel, &s_rel, out)?;
                }
                continue;
            }
            let is_dir = meta.is_dir();
            out.push((s_rel.clone(), abs.clone(), meta));
            if is_dir {
                self.walk_dir(&abs, &t_rel, &s_rel, out)?;
            }
        }
        Ok(())
    }

    /// The content checksum of the selected sources: path, type, mode, owner (when kept),
    /// symlink target and file contents — never timestamps, so a `touch` does not change it.
    pub fn checksum(&self, selected: &[Selected]) -> Result<String> {
        let mut h = Sha256::new();
        for sel in selected {
            h.update(format!("source {} {}\n", sel.rel, sel.is_dir).as_bytes());
            for (rel, abs, meta) in self.walk(sel)? {
                let kind = file_kind(&meta);
                let owner = if self.keep_owner {
                    format!("{}:{}", meta.uid(), meta.gid())
                } else {
                    String::new()
                };
                h.update(
                    format!("{rel}\0{kind}\0{:o}\0{owner}\0", meta.mode() & 0o7777).as_bytes(),
                );
                if meta.file_type().is_symlink() {
                    h.update(fs::read_link(&abs)?.to_string_lossy().as_bytes());
                } else if meta.is_file() {
                    h.update(file_digest(&abs)?.as_bytes());
                }
                h.update(b"\n");
            }
        }
        Ok(format!("sha256:{}", hex::encode(h.finalize())))
    }
}

fn file_kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "link"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else {
        "special"
    }
}

fn file_digest(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn components(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .map(str::to_string)
        .collect()
}

/// Ownership and mode overrides of a COPY (`--chown`, `--chmod`), already resolved.
#[derive(Clone, Debug, Default)]
pub struct CopyOptions {
    /// `--chown` as numbers.
    pub owner: Option<(u32, u32)>,
    /// `--chmod` as a function of the existing mode.
    pub chmod: Option<Chmod>,
}

/// A `--chmod` value: octal (`0755`) or symbolic (`u+x,go-w`), as BuildKit accepts.
#[derive(Clone, Debug)]
pub enum Chmod {
    /// Octal: the mode bits replace the old ones.
    Octal(u32),
    /// Symbolic clauses applied to the old mode.
    Symbolic(String),
}

impl Chmod {
    /// Parses `--chmod`'s value.
    pub fn parse(s: &str) -> Result<Chmod> {
        if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
            let v = u32::from_str_radix(s, 8)
                .map_err(|_| anyhow!("invalid chmod \"{s}\": not an octal mode"))?;
            if v > 0o7777 {
                bail!("invalid chmod \"{s}\": mode out of range");
            }
            return Ok(Chmod::Octal(v));
        }
        // Validate the symbolic form by applying it once.
        apply_symbolic(s, 0o644, false)?;
        Ok(Chmod::Symbolic(s.to_string()))
    }

    /// The new mode for an entry whose mode was `old`.
    pub fn apply(&self, old: u32, is_dir: bool) -> u32 {
        match self {
            Chmod::Octal(v) => *v,
            Chmod::Symbolic(s) => apply_symbolic(s, old, is_dir).unwrap_or(old),
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

/// Copies the selected sources into `dest` (already resolved inside the destination rootfs):
/// a directory source's contents go into `dest`; a file goes to `dest` itself, or into it
/// when `dest_is_dir`. Returns how many entries were written.
pub fn copy_into(
    tree: &SourceTree,
    selected: &[Selected],
    dest_root: &Path,
    dest: &str,
    dest_is_dir: bool,
    opts: &CopyOptions,
) -> Result<usize> {
    let mut count = 0;
    for sel in selected {
        let entries = tree.walk(sel)?;
        let base_target = if sel.is_dir || dest_is_dir {
            let d = rootpath::resolve(dest_root, dest, true)?;
            crate::copy::mkdir_all(dest_root, &d, opts.owner)?;
            if sel.is_dir {
                d
            } else {
                let name = Path::new(&sel.rel)
                    .file_name()
                    .map(|n| n.to_owned())
                    .unwrap_or_default();
                d.join(name)
            }
        } else {
            let d = rootpath::resolve(dest_root, dest, true)?;
            if let Some(parent) = d.parent() {
                crate::copy::mkdir_all(dest_root, parent, opts.owner)?;
            }
            d
        };
        for (rel, abs, meta) in entries {
            let target = if rel.is_empty() {
                base_target.clone()
            } else {
                // Resolve inside the destination again: a symlink already in the rootfs must
                // not carry the copy outside it.
                let parent_rel = rootpath::relative(dest_root, &base_target);
                rootpath::resolve(dest_root, &format!("{parent_rel}/{rel}"), false)?
            };
            copy_entry(tree, &abs, &meta, &target, opts)?;
            count += 1;
        }
    }
    Ok(count)
}

fn copy_entry(
    tree: &SourceTree,
    src: &Path,
    meta: &fs::Metadata,
    dst: &Path,
    opts: &CopyOptions,
) -> Result<()> {
    let t = meta.file_type();
    if let Ok(existing) = fs::symlink_metadata(dst) {
        if !(existing.is_dir() && t.is_dir()) {
            if existing.is_dir() {
                fs::remove_dir_all(dst)?;
            } else {
                fs::remove_file(dst)?;
            }
        }
    }
    if t.is_dir() {
        if !dst.is_dir() {
            fs::create_dir(dst).with_context(|| format!("creating {}", dst.display()))?;
        }
    } else if t.is_symlink() {
        std::os::unix::fs::symlink(fs::read_link(src)?, dst)?;
    } else if t.is_file() {
        fs::copy(src, dst).with_context(|| format!("copying to {}", dst.display()))?;
    } else {
        // Devices, fifos and sockets are not copied, as in BuildKit's context transfer.
        return Ok(());
    }
    let (uid, gid) = match opts.owner {
        Some(o) => o,
        None if tree.keep_owner => (meta.uid(), meta.gid()),
        None => (0, 0),
    };
    std::os::unix::fs::lchown(dst, Some(uid), Some(gid))?;
    if !t.is_symlink() {
        let mode = match &opts.chmod {
            Some(c) => c.apply(meta.mode() & 0o7777, t.is_dir()),
            None => meta.mode() & 0o7777,
        };
        fs::set_permissions(dst, fs::Permissions::from_mode(mode))?;
    }
    let mtime = filetime_of(meta);
    set_mtime(dst, mtime)?;
    Ok(())
}

fn filetime_of(meta: &fs::Metadata) -> (i64, i64) {
    (meta.mtime(), meta.mtime_nsec())
}

fn set_mtime(path: &Path, (sec, nsec): (i64, i64)) -> Result<()> {
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
