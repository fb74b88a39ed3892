//! Making a layer from a directory — typically an overlayfs upper dir, where
//! overlay whiteouts (0/0 character devices, the opaque xattr) become OCI
//! whiteouts. The tar is deterministic: entries in a sorted depth-first walk,
//! fixed headers (see [`super::tar_header`]), mtimes clamped to
//! `SOURCE_DATE_EPOCH` when given, hardlinks within the tree kept as tar links.

use super::compression::Compression;
use super::pgzip::ParallelGzip;
use super::tar_header::{append, TarEntry};
use super::unchanged::same_as_lower;
use super::whiteout::{OPAQUE_MARKER, WHITEOUT_PREFIX};
use super::xattrs::{is_layer_xattr, is_overlay_xattr, read_xattrs};
use crate::store::blob::sha256_digest;
use crate::store::{BlobWriter, Store};
use anyhow::{bail, Context, Result};
use oci_spec::image::{Descriptor, Digest, MediaType};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// How to make a layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct CreateOptions {
    /// Compression of the layer blob.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: later mtimes are clamped to it, for reproducible layers.
    pub source_date_epoch: Option<i64>,
}

/// A layer just written to the store.
#[derive(Clone, Debug)]
pub struct NewLayer {
    /// The blob as a manifest lists it (media type, digest, size).
    pub descriptor: Descriptor,
    /// sha256 of the uncompressed tar, as the image config's `rootfs.diff_ids` lists it.
    pub diff_id: Digest,
}

/// Makes a layer from `dir` into the store, digesting the compressed blob and
/// the uncompressed tar while it streams. An empty `dir` is no change: `None`.
pub fn create(store: &Store, dir: &Path, opts: &CreateOptions) -> Result<Option<NewLayer>> {
    write_layer(store, &walk(dir, None)?.entries, opts)
}

/// Makes a layer from an overlayfs upper dir, given `lower`, the merged view of the layers
/// below it: what overlayfs only copied up without changing it (directories above a change or
/// a removed mount point, files opened for writing but left alone) is left out, and a directory
/// appears only when it changed or holds a change — BuildKit's overlay differ does the same.
/// Nothing changed: `None`.
pub fn create_from_upper(
    store: &Store,
    upper: &Path,
    lower: &Path,
    opts: &CreateOptions,
) -> Result<Option<NewLayer>> {
    write_layer(store, &walk(upper, Some(lower))?.entries, opts)
}

/// Writes `entries` as a layer blob into the store; none: `None`.
pub(super) fn write_layer(
    store: &Store,
    entries: &[Walked],
    opts: &CreateOptions,
) -> Result<Option<NewLayer>> {
    if entries.is_empty() {
        return Ok(None);
    }
    let blob = store.blob_writer()?;
    let (encoder, media_type) = match opts.compression {
        Compression::Gzip => (
            Encoder::Gzip(ParallelGzip::new(blob, 0)),
            MediaType::ImageLayerGzip,
        ),
        Compression::Zstd => (
            Encoder::Zstd(zstd::Encoder::new(blob, 3).context("cannot start zstd")?),
            MediaType::ImageLayerZstd,
        ),
        Compression::Uncompressed => (Encoder::Plain(blob), MediaType::ImageLayer),
    };
    let mut tar_out = HashingWriter {
        inner: encoder,
        hasher: Sha256::new(),
    };
    write_entries(entries, &mut tar_out, opts.source_date_epoch)?;
    let diff_id = sha256_digest(tar_out.hasher);
    let blob = tar_out
        .inner
        .finish()
        .context("cannot finish compressing the layer")?;
    let (digest, size) = blob.commit(None)?;
    Ok(Some(NewLayer {
        descriptor: Descriptor::new(media_type, size, digest),
        diff_id,
    }))
}

/// Writes `dir` as an uncompressed, deterministic tar (the same bytes
/// [`create`] digests as the diff ID), e.g. for `--output type=tar`.
/// Returns how many entries were written.
pub fn write_tar(dir: &Path, out: impl Write, source_date_epoch: Option<i64>) -> Result<usize> {
    let entries = walk(dir, None)?.entries;
    write_entries(&entries, out, source_date_epoch)?;
    Ok(entries.len())
}

enum Encoder {
    Gzip(ParallelGzip<BlobWriter>),
    Zstd(zstd::Encoder<'static, BlobWriter>),
    Plain(BlobWriter),
}

impl Encoder {
    fn finish(self) -> std::io::Result<BlobWriter> {
        match self {
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Plain(w) => Ok(w),
        }
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Encoder::Gzip(e) => e.write(buf),
            Encoder::Zstd(e) => e.write(buf),
            Encoder::Plain(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Encoder::Gzip(e) => e.flush(),
            Encoder::Zstd(e) => e.flush(),
            Encoder::Plain(w) => w.flush(),
        }
    }
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

pub(super) enum Kind {
    Dir { opaque: bool },
    File,
    Hardlink(Vec<u8>),
    Symlink(PathBuf),
    Device(tar::EntryType, u32, u32),
    Fifo,
    Whiteout,
}

pub(super) struct Walked {
    /// Path relative to the walked dir, without trailing slash.
    pub(super) rel: Vec<u8>,
    pub(super) abs: PathBuf,
    pub(super) meta: Metadata,
    pub(super) kind: Kind,
    pub(super) xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The names of the xattrs it has that the layer leaves out (overlayfs's own, and every
    /// one but `security.capability`): a snapshot made of the upper dir must lose them too.
    pub(super) overlay_xattrs: Vec<Vec<u8>>,
}

/// What a walk found: the layer's entries in tar order, and the paths of the directory that
/// are not in the layer (what overlayfs only copied up, whiteouts that hide nothing,
/// sockets), outermost only.
pub(super) struct Walk {
    pub(super) entries: Vec<Walked>,
    pub(super) left_out: Vec<PathBuf>,
}

/// Everything under `dir` in tar order: depth-first, siblings by name bytes. With `lower`,
/// `dir` is an overlay upper dir and entries it only copied up from `lower` are left out.
pub(super) fn walk(dir: &Path, lower: Option<&Path>) -> Result<Walk> {
    let mut walk = Walk {
        entries: Vec::new(),
        left_out: Vec::new(),
    };
    let mut seen_inodes = HashMap::new();
    walk_into(dir, &[], lower, &mut walk, &mut seen_inodes)?;
    Ok(walk)
}

/// Walks `dir` (at `rel_dir` in the layer); `lower` is the same directory in the layers
/// below, when it exists there and is not hidden by an opaque directory.
fn walk_into(
    dir: &Path,
    rel_dir: &[u8],
    lower: Option<&Path>,
    walk: &mut Walk,
    seen: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<()> {
    let mut children: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("cannot list {}", dir.display()))?;
    children.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in children {
        let abs = dir.join(&name);
        let lower_path = lower.map(|l| l.join(&name));
        let mut rel = rel_dir.to_vec();
        if !rel.is_empty() {
            rel.push(b'/');
        }
        rel.extend_from_slice(name.as_bytes());
        let meta = std::fs::symlink_metadata(&abs)
            .with_context(|| format!("cannot stat {}", abs.display()))?;
        let ft = meta.file_type();
        let all_xattrs = read_xattrs(&abs)?;
        let opaque = all_xattrs.iter().any(|(k, v)| {
            (k == b"trusted.overlay.opaque" || k == b"user.overlay.opaque") && v == b"y"
        });
        let (overlay, xattrs): (Vec<_>, Vec<_>) = all_xattrs
            .into_iter()
            .partition(|(k, _)| is_overlay_xattr(k));
        let mut overlay_xattrs: Vec<Vec<u8>> = overlay.into_iter().map(|(k, _)| k).collect();
        let in_lower = lower_path
            .as_deref()
            .filter(|l| std::fs::symlink_metadata(l).is_ok());
        let unchanged = !opaque && in_lower.is_some_and(|l| same_as_lower(&abs, &meta, &xattrs, l));
        // Only file capabilities reach a layer, as containerd's tar writer (is_layer_xattr).
        let (xattrs, dropped): (Vec<_>, Vec<_>) =
            xattrs.into_iter().partition(|(k, _)| is_layer_xattr(k));
        overlay_xattrs.extend(dropped.into_iter().map(|(k, _)| k));
        let kind = if ft.is_dir() {
            Kind::Dir { opaque }
        } else if ft.is_char_device() && meta.rdev() == 0 {
            if lower.is_some() && in_lower.is_none() {
                walk.left_out.push(abs);
                continue; // hides nothing below
            }
            Kind::Whiteout
        } else if ft.is_socket() || unchanged {
            walk.left_out.push(abs);
            continue; // tar cannot carry sockets (Docker drops them too); unchanged copy-up
        } else {
            plain_kind(&abs, &meta, &rel, seen)?
        };
        let entry = Walked {
            rel,
            abs,
            meta,
            kind,
            xattrs,
            overlay_xattrs,
        };
        let Kind::Dir { opaque } = entry.kind else {
            walk.entries.push(entry);
            continue;
        };
        // Below an opaque or new directory nothing comes from the lower layers.
        let below = if opaque {
            None
        } else {
            in_lower.filter(|l| l.is_dir())
        };
        let mut inner = Walk {
            entries: Vec::new(),
            left_out: Vec::new(),
        };
        walk_into(&entry.abs, &entry.rel, below, &mut inner, seen)?;
        if unchanged && inner.entries.is_empty() {
            walk.left_out.push(entry.abs);
            continue;
        }
        walk.entries.push(entry);
        walk.entries.append(&mut inner.entries);
        walk.left_out.append(&mut inner.left_out);
    }
    Ok(())
}

/// The kind of an entry that is neither a directory nor a whiteout: a hard link of a file
/// seen earlier in the walk (`seen`), or the file, symlink, fifo or device itself.
fn plain_kind(
    abs: &Path,
    meta: &Metadata,
    rel: &[u8],
    seen: &mut HashMap<(u64, u64), Vec<u8>>,
) -> Result<Kind> {
    let ft = meta.file_type();
    if meta.nlink() > 1 {
        if let Some(first) = seen.get(&(meta.dev(), meta.ino())) {
            return Ok(Kind::Hardlink(first.clone()));
        }
        seen.insert((meta.dev(), meta.ino()), rel.to_vec());
    }
    Ok(if ft.is_file() {
        Kind::File
    } else if ft.is_symlink() {
        Kind::Symlink(
            std::fs::read_link(abs)
                .with_context(|| format!("cannot read symlink {}", abs.display()))?,
        )
    } else if ft.is_fifo() {
        Kind::Fifo
    } else {
        let dev = meta.rdev();
        let (major, minor) = (rustix::fs::major(dev), rustix::fs::minor(dev));
        let t = if ft.is_char_device() {
            tar::EntryType::Char
        } else {
            tar::EntryType::Block
        };
        Kind::Device(t, major, minor)
    })
}

fn write_entries(
    entries: &[Walked],
    out: impl Write,
    source_date_epoch: Option<i64>,
) -> Result<()> {
    let clamp = |t: i64| -> u64 {
        let t = match source_date_epoch {
            Some(epoch) => t.min(epoch),
            None => t,
        };
        t.max(0) as u64
    };
    let mut b = tar::Builder::new(out);
    for w in entries {
        let mtime = clamp(w.meta.mtime());
        let mut path = w.rel.clone();
        let mut entry = TarEntry {
            path: &[],
            kind: tar::EntryType::Regular,
            link: None,
            mode: w.meta.mode() & 0o7777,
            uid: u64::from(w.meta.uid()),
            gid: u64::from(w.meta.gid()),
            mtime,
            size: 0,
            dev: None,
            xattrs: &w.xattrs,
        };
        let context = || format!("cannot add {} to the layer", w.abs.display());
        let link_bytes;
        match &w.kind {
            Kind::Whiteout => {
                let (dir, base) = split_last(&w.rel);
                path = dir.to_vec();
                path.extend_from_slice(WHITEOUT_PREFIX.as_bytes());
                path.extend_from_slice(base);
                entry.path = &path;
                (entry.mode, entry.uid, entry.gid, entry.xattrs) = (0, 0, 0, &[]);
                append(&mut b, &entry, std::io::empty()).with_context(context)?;
            }
            Kind::Dir { opaque } => {
                path.push(b'/');
                entry.path = &path;
                entry.kind = tar::EntryType::Directory;
                append(&mut b, &entry, std::io::empty()).with_context(context)?;
                if *opaque {
                    let mut marker = path.clone();
                    marker.extend_from_slice(OPAQUE_MARKER.as_bytes());
                    let m = TarEntry {
                        path: &marker,
                        mode: 0,
                        uid: 0,
                        gid: 0,
                        xattrs: &[],
                        ..entry
                    };
                    append(&mut b, &m, std::io::empty()).with_context(context)?;
                }
            }
            Kind::File => {
                entry.path = &path;
                entry.size = w.meta.len();
                let file = std::fs::File::open(&w.abs).with_context(context)?;
                let mut data = ExactReader {
                    inner: file.take(entry.size),
                    left: entry.size,
                };
                append(&mut b, &entry, &mut data).with_context(context)?;
                if data.left != 0 {
                    bail!("{} shrank while it was being archived", w.abs.display());
                }
            }
            Kind::Hardlink(first) => {
                entry.path = &path;
                entry.kind = tar::EntryType::Link;
                entry.link = Some(first);
                append(&mut b, &entry, std::io::empty()).with_context(context)?;
            }
            Kind::Symlink(target) => {
                link_bytes = target.as_os_str().as_bytes().to_vec();
                entry.path = &path;
                entry.kind = tar::EntryType::Symlink;
                entry.link = Some(&link_bytes);
                append(&mut b, &entry, std::io::empty()).with_context(context)?;
            }
            Kind::Device(t, major, minor) => {
                entry.path = &path;
                entry.kind = *t;
                entry.dev = Some((*major, *minor));
                append(&mut b, &entry, std::io::empty()).with_context(context)?;
            }
            Kind::Fifo => {
                entry.path = &path;
                entry.kind = tar::EntryType::Fifo;
                append(&mut b, &entry, std::io::empty()).with_context(context)?;
            }
        }
    }
    b.finish().context("cannot finish the layer tar")?;
    Ok(())
}

/// `(dir_with_trailing_slash, base)` of a relative path.
fn split_last(rel: &[u8]) -> (&[u8], &[u8]) {
    match rel.iter().rposition(|b| *b == b'/') {
        Some(i) => (&rel[..=i], &rel[i + 1..]),
        None => (&[], rel),
    }
}

/// Reads a file's first `size` bytes, counting; zero-fills nothing, so a file
/// that shrank is detected by the caller (tar would otherwise be corrupt).
struct ExactReader<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for ExactReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::walk;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    fn paths(upper: &Path, lower: &Path) -> Vec<String> {
        walk(upper, Some(lower))
            .unwrap()
            .entries
            .iter()
            .map(|w| String::from_utf8(w.rel.clone()).unwrap())
            .collect()
    }

    /// `dir` with `mode`, created in both trees.
    fn dir_in(roots: &[&Path], rel: &str, mode: u32) {
        for root in roots {
            fs::create_dir_all(root.join(rel)).unwrap();
            fs::set_permissions(root.join(rel), fs::Permissions::from_mode(mode)).unwrap();
        }
    }

    /// A file copied up from `lower` to `upper` the way overlayfs does: same metadata.
    fn copied_up(lower: &Path, upper: &Path, rel: &str) {
        fs::copy(lower.join(rel), upper.join(rel)).unwrap();
        let meta = fs::metadata(lower.join(rel)).unwrap();
        let times = fs::FileTimes::new().set_modified(meta.modified().unwrap());
        fs::File::options()
            .write(true)
            .open(upper.join(rel))
            .unwrap()
            .set_times(times)
            .unwrap();
    }

    #[test]
    fn copied_up_entries_are_left_out_and_changed_ones_kept() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        dir_in(&[&lower, &upper], "etc", 0o755);
        dir_in(&[&lower, &upper], "tmp", 0o1777);
        dir_in(&[&lower, &upper], "var/lib", 0o755);
        fs::write(lower.join("etc/passwd"), "root\n").unwrap();
        fs::write(lower.join("etc/group"), "root\n").unwrap();
        copied_up(&lower, &upper, "etc/passwd");
        fs::write(upper.join("etc/group"), "root\n").unwrap(); // rewritten: new mtime
        fs::write(upper.join("tmp/x"), "").unwrap();
        fs::create_dir(upper.join("new")).unwrap();
        // A copied-up dir whose mode changed is a change of its own.
        fs::set_permissions(upper.join("var/lib"), fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(
            paths(&upper, &lower),
            ["etc", "etc/group", "new", "tmp", "tmp/x", "var", "var/lib"]
        );
    }

    #[test]
    fn a_copied_up_dir_with_new_xattrs_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        dir_in(&[&lower, &upper], "d", 0o755);
        dir_in(&[&lower, &upper], "same", 0o755);
        if rustix::fs::setxattr(
            upper.join("d").as_path(),
            "user.skiff-test",
            b"v",
            rustix::fs::XattrFlags::empty(),
        )
        .is_err()
        {
            eprintln!("SKIP: the temporary directory's filesystem has no user xattrs");
            return;
        }
        assert_eq!(paths(&upper, &lower), ["d"]);
    }

    #[test]
    fn whiteouts_of_paths_the_lower_lacks_are_dropped() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("SKIP: overlay whiteouts (0/0 character devices) need root");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        dir_in(&[&lower, &upper], "etc", 0o755);
        fs::write(lower.join("etc/gone"), "").unwrap();
        for name in ["etc/gone", "etc/never-there"] {
            rustix::fs::mknodat(
                rustix::fs::CWD,
                upper.join(name).as_path(),
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::empty(),
                0,
            )
            .unwrap();
        }
        assert_eq!(paths(&upper, &lower), ["etc", "etc/gone"]);
    }
}
