//! A directory tree as one tar stream, for `type=tar`: entries in sorted path
//! order, with modes, owners, mtimes, hardlinks, symlinks, device nodes and
//! extended attributes as they are on disk.

use anyhow::{Context, Result};
use std::collections::HashMap;
use std::fs::Metadata;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Writes everything under `root` (not `root` itself) to `out` as a tar.
pub(crate) fn write_dir_tar(root: &Path, out: &mut dyn Write) -> Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut links = HashMap::new();
    walk(&mut tar, root, Path::new(""), &mut links)?;
    tar.into_inner()
        .context("finishing the tar")?
        .flush()
        .context("writing the tar")
}

type Links = HashMap<(u64, u64), PathBuf>;

fn walk(
    tar: &mut tar::Builder<&mut dyn Write>,
    root: &Path,
    rel: &Path,
    links: &mut Links,
) -> Result<()> {
    let dir = root.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .with_context(|| format!("reading {}", dir.display()))?;
    names.sort();
    for name in names {
        let rel = rel.join(&name);
        let path = root.join(&rel);
        let meta = std::fs::symlink_metadata(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        append(tar, &path, &rel, &meta, links)
            .with_context(|| format!("adding {} to the tar", rel.display()))?;
        if meta.is_dir() {
            walk(tar, root, &rel, links)?;
        }
    }
    Ok(())
}

fn append(
    tar: &mut tar::Builder<&mut dyn Write>,
    path: &Path,
    rel: &Path,
    meta: &Metadata,
    links: &mut Links,
) -> Result<()> {
    let kind = meta.file_type();
    if kind.is_socket() {
        return Ok(()); // tar cannot hold sockets; BuildKit skips them too
    }
    let xattrs = read_xattrs(path)?;
    if !xattrs.is_empty() {
        tar.append_pax_extensions(xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    let mut header = tar::Header::new_gnu();
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(meta.uid().into());
    header.set_gid(meta.gid().into());
    header.set_mtime(meta.mtime().max(0) as u64);
    header.set_size(0);
    if kind.is_file() && meta.nlink() > 1 {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            header.set_entry_type(tar::EntryType::Link);
            tar.append_link(&mut header, rel, first)?;
            return Ok(());
        }
        links.insert((meta.dev(), meta.ino()), rel.to_path_buf());
    }
    if kind.is_file() {
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(meta.len());
        let file = std::fs::File::open(path)?;
        tar.append_data(&mut header, rel, file)?;
    } else if kind.is_dir() {
        header.set_entry_type(tar::EntryType::Directory);
        tar.append_data(&mut header, rel, std::io::empty())?;
    } else if kind.is_symlink() {
        header.set_entry_type(tar::EntryType::Symlink);
        let target = std::fs::read_link(path)?;
        tar.append_link(&mut header, rel, target)?;
    } else {
        header.set_entry_type(if kind.is_char_device() {
            tar::EntryType::Char
        } else if kind.is_block_device() {
            tar::EntryType::Block
        } else {
            tar::EntryType::Fifo
        });
        let rdev = rustix::fs::Dev::from(meta.rdev());
        header.set_device_major(rustix::fs::major(rdev))?;
        header.set_device_minor(rustix::fs::minor(rdev))?;
        tar.append_data(&mut header, rel, std::io::empty())?;
    }
    Ok(())
}

/// `SCHILY.xattr.NAME` PAX records for the file's extended attributes, sorted.
fn read_xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>> {
    let mut names = vec![0u8; 4096];
    let len = match rustix::fs::llistxattr(path, &mut names) {
        Ok(len) => len,
        Err(rustix::io::Errno::NOTSUP) => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("listing xattrs of {}", path.display())),
    };
    let mut out = Vec::new();
    for name in names[..len].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let mut value = vec![0u8; 65536];
        let n = rustix::fs::lgetxattr(path, name.as_str(), &mut value)
            .with_context(|| format!("reading xattr {name} of {}", path.display()))?;
        value.truncate(n);
        out.push((format!("SCHILY.xattr.{name}"), value));
    }
    out.sort();
    Ok(out)
}
