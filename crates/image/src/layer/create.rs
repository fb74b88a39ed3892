//! Making a layer from a directory — typically an overlayfs upper dir, where
//! overlay whiteouts (0/0 character devices, the opaque xattr) become OCI
//! whiteouts. The tar is deterministic: entries in a sorted depth-first walk,
//! fixed headers (see [`super::tar_header`]), mtimes clamped to
//! `SOURCE_DATE_EPOCH` when given, hardlinks within the tree kept as tar links.

use super::compression::Compression;
use super::pgzip::ParallelGzip;
use super::tar_header::{append, TarEntry};
use super::whiteout::{OPAQUE_MARKER, WHITEOUT_PREFIX};
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
    let entries = walk(dir)?;
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
    write_entries(&entries, &mut tar_out, opts.source_date_epoch)?;
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
    let entries = walk(dir)?;
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

enum Kind {
    Dir { opaque: bool },
    File,
    Hardlink(Vec<u8>),
    Symlink(PathBuf),
    Device(tar::EntryType, u32, u32),
    Fifo,
    Whiteout,
}

struct Walked {
    /// Path relative to the walked dir, without trailing slash.
    rel: Vec<u8>,
    abs: PathBuf,
    meta: Metadata,
    kind: Kind,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

/// Everything under `dir` in tar order: depth-first, siblings by name bytes.
fn walk(dir: &Path) -> Result<Vec<Walked>> {
    let mut out = Vec::new();
    let mut seen_inodes = HashMap::new();
    walk_into(dir, &[], &mut out, &mut seen_inodes)?;
    Ok(out)
}

fn walk_into(
    dir: &Path,
    rel_dir: &[u8],
    out: &mut Vec<Walked>,
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
        let xattrs: Vec<_> = all_xattrs
            .into_iter()
            .filter(|(k, _)| {
                !k.starts_with(b"trusted.overlay.") && !k.starts_with(b"user.overlay.")
            })
            .collect();
        let kind = if ft.is_dir() {
            Kind::Dir { opaque }
        } else if ft.is_char_device() && meta.rdev() == 0 {
            Kind::Whiteout
        } else if ft.is_socket() {
            continue; // tar cannot carry sockets; Docker drops them too
        } else if let Some(first) = (meta.nlink() > 1)
            .then(|| seen.get(&(meta.dev(), meta.ino())).cloned())
            .flatten()
        {
            Kind::Hardlink(first)
        } else {
            if meta.nlink() > 1 {
                seen.insert((meta.dev(), meta.ino()), rel.clone());
            }
            if ft.is_file() {
                Kind::File
            } else if ft.is_symlink() {
                Kind::Symlink(
                    std::fs::read_link(&abs)
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
            }
        };
        let is_dir = matches!(kind, Kind::Dir { .. });
        out.push(Walked {
            rel: rel.clone(),
            abs: abs.clone(),
            meta,
            kind,
            xattrs,
        });
        if is_dir {
            walk_into(&abs, &rel, out, seen)?;
        }
    }
    Ok(())
}

fn read_xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    use rustix::fs::{lgetxattr, llistxattr};
    let mut names = vec![0u8; 4096];
    let n = match llistxattr(path, &mut names[..]) {
        Ok(n) => n,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(rustix::io::Errno::RANGE) => {
            names = vec![0u8; 65536];
            llistxattr(path, &mut names[..])
                .with_context(|| format!("cannot list xattrs of {}", path.display()))?
        }
        Err(e) => {
            return Err(e).with_context(|| format!("cannot list xattrs of {}", path.display()))
        }
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name_os = std::ffi::OsStr::from_bytes(name);
        let mut value = vec![0u8; 65536];
        let len = match lgetxattr(path, name_os, &mut value[..]) {
            Ok(len) => len,
            Err(rustix::io::Errno::NODATA) => continue, // removed meanwhile
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot read xattr {} of {}",
                        name_os.to_string_lossy(),
                        path.display()
                    )
                })
            }
        };
        value.truncate(len);
        out.push((name.to_vec(), value));
    }
    out.sort();
    Ok(out)
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
