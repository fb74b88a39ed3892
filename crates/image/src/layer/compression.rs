//! Layer compression: detecting gzip / zstd / plain tar by magic bytes, and the
//! compression choices for new layers.

use std::io::{BufRead, BufReader, Read};

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

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
    Ok(if head.starts_with(GZIP_MAGIC) {
        Box::new(flate2::bufread::MultiGzDecoder::new(buf))
    } else if head.starts_with(ZSTD_MAGIC) {
        Box::new(zstd::stream::read::Decoder::with_buffer(buf)?)
    } else {
        Box::new(buf)
    })
}
