//! Streaming blob writes: bytes go to a locked temp file in the store and are
//! hashed on the way; only a verified, fsync'd blob is renamed into `blobs/`.

use super::fsutil::{create_locked_temp, fsync_dir};
use anyhow::{bail, Context, Result};
use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256};
use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::str::FromStr;

/// A blob being written: bytes are streamed to a temp file inside the store and
/// hashed as they go; [`BlobWriter::commit`] verifies, fsyncs and renames into place.
/// Dropping it without committing deletes the temp file.
pub struct BlobWriter {
    file: Option<BufWriter<File>>,
    temp: PathBuf,
    blobs_dir: PathBuf,
    hasher: Sha256,
    size: u64,
}

impl std::io::Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let file = self.file.as_mut().ok_or_else(|| {
            std::io::Error::other("blob writer already finished: cannot write more bytes")
        })?;
        let n = file.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self.file.as_mut() {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

/// `sha256:<hex>` for a finished hasher.
pub(crate) fn sha256_digest(hasher: Sha256) -> Digest {
    let hex = hex::encode(hasher.finalize());
    Digest::from_str(&format!("sha256:{hex}")).expect("a sha256 hex string is a valid digest")
}

impl BlobWriter {
    pub(crate) fn new(tmp_dir: &std::path::Path, blobs_dir: PathBuf) -> Result<BlobWriter> {
        let (file, temp) = create_locked_temp(tmp_dir, "blob")?;
        Ok(BlobWriter {
            file: Some(BufWriter::with_capacity(256 * 1024, file)),
            temp,
            blobs_dir,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finishes the blob. With `expected`, a digest (or size) mismatch is an error
    /// and nothing is stored. Returns the digest and size.
    pub fn commit(mut self, expected: Option<(&Digest, Option<u64>)>) -> Result<(Digest, u64)> {
        let file = self
            .file
            .take()
            .context("blob writer already finished")?
            .into_inner()
            .map_err(|e| e.into_error())
            .context("cannot flush blob to the store's temp file")?;
        let digest = sha256_digest(std::mem::take(&mut self.hasher));
        if let Some((want, want_size)) = expected {
            if *want.algorithm() != DigestAlgorithm::Sha256 {
                bail!(
                    "blob digest {want} uses an unsupported algorithm: only sha256 blobs can be stored"
                );
            }
            if want.digest() != digest.digest() {
                bail!(
                    "blob digest mismatch: expected {want}, got {digest} ({} bytes); nothing was stored (the source is corrupt or was tampered with)",
                    self.size
                );
            }
            if let Some(want_size) = want_size {
                if want_size != self.size {
                    bail!(
                        "blob size mismatch for {want}: expected {want_size} bytes, got {}; nothing was stored",
                        self.size
                    );
                }
            }
        }
        file.sync_all()
            .context("cannot fsync blob in the store's temp dir")?;
        let dest = self.blobs_dir.join(digest.digest());
        std::fs::rename(&self.temp, &dest)
            .with_context(|| format!("cannot move blob into place at {}", dest.display()))?;
        fsync_dir(&self.blobs_dir)?;
        drop(file);
        self.temp = PathBuf::new();
        Ok((digest, self.size))
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
