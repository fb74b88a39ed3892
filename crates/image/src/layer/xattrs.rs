//! Extended attributes of the files a layer is made from.

use anyhow::{Context, Result};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Every extended attribute of `path` (not following symlinks), sorted by name; empty where
/// the filesystem has none.
pub(super) fn read_xattrs(path: &Path) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
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

/// Whether an xattr is overlayfs's own bookkeeping (opaque, impure, origin…), which a layer
/// expresses differently or not at all.
pub(super) fn is_overlay_xattr(name: &[u8]) -> bool {
    name.starts_with(b"trusted.overlay.") || name.starts_with(b"user.overlay.")
}

/// Whether an xattr is recorded in a layer: only `security.capability`, as containerd's tar
/// writer (which BuildKit's layers come from) records; `user.*`, ACLs and the rest are dropped.
pub(super) fn is_layer_xattr(name: &[u8]) -> bool {
    name == b"security.capability"
}
