//! `ADD` of a local archive: a tar (plain, gzip, bzip2, xz or zstd) is extracted into the
//! destination instead of being copied, as Docker does. Extraction goes through the image
//! crate's safe layer applier, so an archive can never write outside the destination.

use crate::sources::CopyOptions;
use anyhow::{Context as _, Result};
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
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

fn sniff(path: &Path) -> Result<Option<Kind>> {
    let mut f = File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        let got = f.read(&mut head[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    let head = &head[..n];
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Some(Kind::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(Kind::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Kind::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Kind::Zstd)
    } else if head.len() >= 262 && &head[257..262] == b"ustar" {
        Some(Kind::Tar)
    } else {
        None
    })
}

/// Extracts `archive` into `dest` (inside `root`) when it is a tar archive; returns false
/// (and does nothing) when it is not, so the caller copies it as a plain file.
pub fn try_extract(archive: &Path, root: &Path, dest: &str, opts: &CopyOptions) -> Result<bool> {
    let Some(kind) = sniff(archive)? else {
        return Ok(false);
    };
    let mut file = File::open(archive)?;
    file.seek(SeekFrom::Start(0))?;
    let file = BufReader::new(file);
    let mut reader: Box<dyn Read> = match kind {
        Kind::Tar => Box::new(file),
        Kind::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Kind::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        Kind::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(file)),
        Kind::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    };
    let target = crate::rootpath::resolve(root, dest, true)?;
    crate::copy::mkdir_all(root, &target, opts.owner)?;
    skiff_image::layer::apply_flat(&mut reader, &target)
        .with_context(|| format!("extracting {}", archive.display()))?;
    Ok(true)
}
