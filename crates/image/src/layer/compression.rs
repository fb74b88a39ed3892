//! Compression: the workspace's one sniffer of compressed streams by their magic bytes
//! (layers here, `ADD` archives in the engine), and the compression choices for new layers.

use std::io::{BufRead, BufReader, Read};

/// A compression format told by a stream's first bytes ([`sniff`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compressed {
    /// `1f 8b`.
    Gzip,
    /// `BZh`.
    Bzip2,
    /// `fd 37 7a 58 5a 00`.
    Xz,
    /// `28 b5 2f fd`.
    Zstd,
}

/// How many leading bytes [`sniff`] needs to tell every format.
pub const SNIFF_LEN: usize = 6;

/// The compression of a stream that starts with `head` (at least [`SNIFF_LEN`] bytes when
/// the stream is that long), `None` when it is none of the known formats (a plain tar, or
/// not an archive at all).
pub fn sniff(head: &[u8]) -> Option<Compressed> {
    if head.starts_with(&[0x1f, 0x8b]) {
        Some(Compressed::Gzip)
    } else if head.starts_with(b"BZh") {
        Some(Compressed::Bzip2)
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Some(Compressed::Xz)
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Some(Compressed::Zstd)
    } else {
        None
    }
}

/// How a new layer is compressed (`--compression`). Gzip is what every registry
/// and runtime accepts, so it is the default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Compression {
    /// `application/vnd.oci.image.layer.v1.tar+gzip`.
    #[default]
    Gzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`: faster, smaller, newer clients only.
    Zstd,
    /// `application/vnd.oci.image.layer.v1.tar`.
    Uncompressed,
}

/// Wraps a layer blob in the right decompressor, chosen by its magic bytes
/// (media types lie often enough — Docker's "tar.gzip" type on plain tars — that
/// the bytes decide).
pub fn decompressed<'a>(reader: impl Read + 'a) -> std::io::Result<Box<dyn Read + 'a>> {
    let mut buf = BufReader::with_capacity(256 * 1024, reader);
    let head = buf.fill_buf()?;
    Ok(match sniff(head) {
        Some(Compressed::Gzip) => Box::new(flate2::bufread::MultiGzDecoder::new(buf)),
        Some(Compressed::Zstd) => Box::new(zstd::stream::read::Decoder::with_buffer(buf)?),
        // bzip2 and xz are not layer formats: read as they are, the tar reader says so
        Some(Compressed::Bzip2 | Compressed::Xz) | None => Box::new(buf),
    })
}

/// The bytes of the files a layer blob holds, unpacked (what `docker history` shows as a
/// layer's size).
pub fn unpacked_size(blob: impl Read) -> std::io::Result<u64> {
    let mut archive = tar::Archive::new(decompressed(blob)?);
    let mut total = 0;
    for entry in archive.entries()? {
        total += entry?.header().size()?;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    #[test]
    fn sniff_tells_the_formats_apart() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(b"x").unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&b"x"[..], 1).unwrap();
        assert_eq!(sniff(&gz), Some(Compressed::Gzip));
        assert_eq!(sniff(&zst), Some(Compressed::Zstd));
        assert_eq!(sniff(b"BZh91AY&SY"), Some(Compressed::Bzip2));
        assert_eq!(sniff(b"\xfd7zXZ\x00\x00"), Some(Compressed::Xz));
        assert_eq!(sniff(b"\xfd7zXY\x00"), None);
        assert_eq!(sniff(&[0u8; 512]), None);
        assert_eq!(sniff(b""), None);
    }
}
