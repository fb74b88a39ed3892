//! `ADD` of a local archive: a tar (plain, gzip, bzip2, xz or zstd) is extracted into the
//! destination instead of being copied, as Docker does. Extraction goes through the image
//! crate's safe layer applier, so an archive can never write outside the destination.

use crate::destination::CopyOptions;
use anyhow::{Context as _, Result};
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// The compression an archive uses, told by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Tar,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// The image crate's sniffer, the one the workspace uses.
fn compression(head: &[u8]) -> Kind {
    use skiff_image::layer::Compressed;
    match skiff_image::layer::sniff(head) {
        Some(Compressed::Gzip) => Kind::Gzip,
        Some(Compressed::Bzip2) => Kind::Bzip2,
        Some(Compressed::Xz) => Kind::Xz,
        Some(Compressed::Zstd) => Kind::Zstd,
        None => Kind::Tar,
    }
}

fn open(path: &Path, kind: Kind) -> Result<Box<dyn Read>> {
    let file =
        BufReader::new(File::open(path).with_context(|| format!("reading {}", path.display()))?);
    Ok(match kind {
        Kind::Tar => Box::new(file),
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        Kind::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(file)),
        Kind::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    })
}

/// Whether `block` is a valid tar header (its checksum matches), as Go's `tar.Reader.Next`
/// accepts it: that is how BuildKit tells an archive from any other (compressed) file.
fn is_tar_header(block: &[u8]) -> bool {
    if block.len() < 512 || block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = String::from_utf8_lossy(&block[148..156]);
    let Ok(stored) = u32::from_str_radix(field.trim_matches(|c: char| c == '\0' || c == ' '), 8)
    else {
        return false;
    };
    let sum: u32 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u32::from(*b)
            }
        })
        .sum();
    sum == stored
}

/// The compression of `path` when it is a tar archive (plain or compressed), else `None`.
fn sniff(path: &Path) -> Result<Option<Kind>> {
    let mut head = [0u8; skiff_image::layer::SNIFF_LEN];
    let n = read_up_to(&mut File::open(path)?, &mut head)?;
    let kind = compression(&head[..n]);
    let mut block = [0u8; 512];
    let Ok(mut reader) = open(path, kind) else {
        return Ok(None);
    };
    let n = read_up_to(&mut reader, &mut block).unwrap_or(0);
    Ok(is_tar_header(&block[..n]).then_some(kind))
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            got => n += got,
        }
    }
    Ok(n)
}

/// Extracts `archive` into `dest` (inside `root`) when it is a tar archive; returns false
/// (and does nothing) when it is not, so the caller copies it as a plain file.
pub fn try_extract(archive: &Path, root: &Path, dest: &str, opts: &CopyOptions) -> Result<bool> {
    let Some(kind) = sniff(archive)? else {
        return Ok(false);
    };
    let target = crate::rootpath::resolve(root, dest, true)?;
    crate::destination::mkdir_all(root, &target, opts.owner)?;
    extract_as(archive, kind, &target)?;
    if let Some((uid, gid)) = opts.owner {
        chown_extracted(archive, kind, &target, (uid, gid))
            .with_context(|| format!("applying --chown to {}", archive.display()))?;
    }
    Ok(true)
}

/// Extracts `archive` into the directory `dir` when it is a tar archive (plain, gzip, bzip2,
/// xz or zstd), with ADD's rules (nothing lands outside `dir`); false (and nothing done) when
/// it is not one. What a build context given as a tar (on stdin, at a URL) is unpacked with.
pub fn extract_archive(archive: &Path, dir: &Path) -> Result<bool> {
    let Some(kind) = sniff(archive)? else {
        return Ok(false);
    };
    extract_as(archive, kind, dir)?;
    Ok(true)
}

fn extract_as(archive: &Path, kind: Kind, dir: &Path) -> Result<()> {
    let mut reader = open(archive, kind)?;
    skiff_image::layer::extract(&mut reader, dir)
        .with_context(|| format!("extracting {}", archive.display()))?;
    Ok(())
}

/// `ADD --chown` of a local archive: every entry extracted from it gets the owner, as
/// BuildKit gives them (a second read of the archive's headers; a final symlink is not
/// followed, the directories above it are, with the extraction directory `target` as `/`, as
/// the extraction placed them).
fn chown_extracted(
    archive: &Path,
    kind: Kind,
    target: &Path,
    (uid, gid): (u32, u32),
) -> Result<()> {
    let mut tar = tar::Archive::new(open(archive, kind)?);
    for entry in tar.entries()? {
        let entry = entry?;
        let path = entry.path()?;
        let parts: Vec<String> = (path.components())
            .filter_map(|c| match c {
                std::path::Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
        let whiteout = parts.last().is_some_and(|n| n.starts_with(".wh."));
        if parts.is_empty() || whiteout {
            continue;
        }
        let inside = parts.join("/");
        let host = crate::rootpath::resolve(target, &inside, false)?;
        match std::os::unix::fs::lchown(&host, Some(uid), Some(gid)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.with_context(|| format!("changing the owner of {inside}"))?,
        }
    }
    Ok(())
}
