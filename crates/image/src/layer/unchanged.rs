//! Telling an overlay upper dir's real changes from what overlayfs only copied up.
//!
//! overlayfs copies a directory up into the upper dir whenever something below it changes, or
//! a mount point is made and removed again inside it; opening a file for writing copies the file
//! up even if nothing is written. Such entries carry the lower entry's metadata unchanged. Like
//! BuildKit's overlay differ (`sameDirent`), a directory counts as unchanged when its type, mode,
//! owner and extended attributes equal the lower one's (its mtime is not compared: adding and
//! removing a stub moves it); a regular file also needs the same size and mtime (and the same
//! content when the mtime has no sub-second part, which a copy could have lost).

use super::xattrs::read_xattrs;
use std::fs::Metadata;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether the upper entry `meta`/`xattrs` (at `upper`) is the unchanged lower entry at `lower`.
pub(super) fn same_as_lower(
    upper: &Path,
    meta: &Metadata,
    xattrs: &[(Vec<u8>, Vec<u8>)],
    lower: &Path,
) -> bool {
    let Ok(lower_meta) = std::fs::symlink_metadata(lower) else {
        return false;
    };
    let (ut, lt) = (meta.file_type(), lower_meta.file_type());
    let same_stat = meta.mode() == lower_meta.mode()
        && meta.uid() == lower_meta.uid()
        && meta.gid() == lower_meta.gid();
    if !same_stat {
        return false;
    }
    if ut.is_dir() && lt.is_dir() {
        return same_xattrs(xattrs, lower);
    }
    if !(ut.is_file() && lt.is_file()) || meta.nlink() > 1 {
        return false;
    }
    if meta.len() != lower_meta.len()
        || meta.mtime() != lower_meta.mtime()
        || meta.mtime_nsec() != lower_meta.mtime_nsec()
        || !same_xattrs(xattrs, lower)
    {
        return false;
    }
    meta.mtime_nsec() != 0 || same_content(upper, lower)
}

fn same_xattrs(upper: &[(Vec<u8>, Vec<u8>)], lower: &Path) -> bool {
    match read_xattrs(lower) {
        Ok(lower) => upper == lower.as_slice(),
        Err(_) => false,
    }
}

fn same_content(a: &Path, b: &Path) -> bool {
    let (Ok(mut fa), Ok(mut fb)) = (std::fs::File::open(a), std::fs::File::open(b)) else {
        return false;
    };
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let Ok(na) = read_full(&mut fa, &mut ba) else {
            return false;
        };
        let Ok(nb) = read_full(&mut fb, &mut bb) else {
            return false;
        };
        if na != nb || ba[..na] != bb[..nb] {
            return false;
        }
        if na == 0 {
            return true;
        }
    }
}

fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}
