//! A step's upper dir kept as its layer's snapshot, instead of deleting it and extracting the
//! layer blob into a new directory the first time a later step stacks on it.
//!
//! The snapshot must be exactly what extracting the blob would give ([`super::apply`] in
//! overlay mode), or a later step would see a different rootfs depending on whether the layer
//! was made here or pulled. The upper dir differs from that in three ways, all undone here:
//! entries the layer leaves out (what overlayfs only copied up, whiteouts that hide nothing,
//! sockets) are removed; overlayfs's own xattrs (origin, impure…) are removed, an opaque
//! directory keeps `trusted.overlay.opaque`; and every entry's times become the layer's:
//! the mtime clamped as the tar has it, in whole seconds, and the atime equal to it.
//!
//! Besides the extraction's work (a second copy of every file) this saves deleting the upper
//! dir, which on a filesystem mounted with online `discard` costs about a millisecond a file
//! once the files have reached the disk.

use super::create::{walk, write_layer, CreateOptions, Kind, NewLayer, Walked};
use super::whiteout::overlay_opaque_xattr;
use crate::store::Store;
use anyhow::{Context, Result};
use rustix::fs::{
    lremovexattr, lsetxattr, utimensat, AtFlags, Timespec, Timestamps, XattrFlags, CWD,
};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// [`super::create_from_upper`], and then `upper` becomes the new layer's snapshot in the
/// store (moved there: the caller finds it gone) when the layer has none yet. Where that
/// fails the layer is still returned, and `upper` is left for the caller to remove.
pub fn create_from_upper_as_snapshot(
    store: &Store,
    upper: &Path,
    lower: &Path,
    opts: &CreateOptions,
) -> Result<Option<NewLayer>> {
    layer_and_snapshot(store, upper, Some(lower), opts)
}

/// [`super::create`] of a whole directory (a `COPY --link` layer), which then becomes the
/// layer's snapshot as [`create_from_upper_as_snapshot`] does.
pub fn create_as_snapshot(
    store: &Store,
    dir: &Path,
    opts: &CreateOptions,
) -> Result<Option<NewLayer>> {
    layer_and_snapshot(store, dir, None, opts)
}

fn layer_and_snapshot(
    store: &Store,
    upper: &Path,
    lower: Option<&Path>,
    opts: &CreateOptions,
) -> Result<Option<NewLayer>> {
    let walk = walk(upper, lower)?;
    let layer = write_layer(store, &walk.entries, opts)?;
    if let Some(layer) = &layer {
        // An optimisation: a failure only means the blob is extracted when it is needed.
        let _ = snapshot_form(upper, &walk.entries, &walk.left_out, opts.source_date_epoch)
            .and_then(|()| store.adopt_snapshot(&layer.descriptor, upper));
    }
    Ok(layer)
}

/// Turns the upper dir whose layer was written from `entries` into what extracting that
/// layer gives.
fn snapshot_form(
    upper: &Path,
    entries: &[Walked],
    left_out: &[std::path::PathBuf],
    source_date_epoch: Option<i64>,
) -> Result<()> {
    for path in left_out {
        let meta = std::fs::symlink_metadata(path)?;
        if meta.is_dir() {
            std::fs::remove_dir_all(path)
        } else {
            std::fs::remove_file(path)
        }
        .with_context(|| format!("cannot remove {}", path.display()))?;
    }
    strip_overlay_xattrs(upper)?;
    for w in entries {
        for name in &w.overlay_xattrs {
            lremovexattr(&w.abs, OsStr::from_bytes(name))
                .with_context(|| format!("cannot remove an xattr of {}", w.abs.display()))?;
        }
        match w.kind {
            // Extraction makes whiteouts anew and leaves their times.
            Kind::Whiteout => continue,
            Kind::Dir { opaque: true } => {
                lsetxattr(&w.abs, overlay_opaque_xattr(), b"y", XattrFlags::empty())
                    .with_context(|| format!("cannot mark {} opaque", w.abs.display()))?;
            }
            _ => {}
        }
        let ts = Timespec {
            tv_sec: clamped(w.meta.mtime(), source_date_epoch),
            tv_nsec: 0,
        };
        let times = Timestamps {
            last_access: ts,
            last_modification: ts,
        };
        utimensat(CWD, &w.abs, &times, AtFlags::SYMLINK_NOFOLLOW)
            .with_context(|| format!("cannot set the times of {}", w.abs.display()))?;
    }
    Ok(())
}

/// The mtime the layer's tar records: clamped to `SOURCE_DATE_EPOCH` (when given), not
/// before 1970.
fn clamped(mtime: i64, source_date_epoch: Option<i64>) -> i64 {
    source_date_epoch.map_or(mtime, |e| mtime.min(e)).max(0)
}

/// Removes overlayfs's xattrs from the upper dir itself (it is not an entry of the layer).
fn strip_overlay_xattrs(dir: &Path) -> Result<()> {
    let names = super::xattrs::read_xattrs(dir)?;
    for (name, _) in names {
        if super::xattrs::is_overlay_xattr(&name) {
            lremovexattr(dir, OsStr::from_bytes(&name))
                .with_context(|| format!("cannot remove an xattr of {}", dir.display()))?;
        }
    }
    Ok(())
}

impl Store {
    /// Makes `dir` (on the store's filesystem, holding exactly what extracting `layer`
    /// overlay-ready gives) the snapshot of `layer`. False, with `dir` left in place, when
    /// the layer has a snapshot already.
    pub fn adopt_snapshot(&self, layer: &oci_spec::image::Descriptor, dir: &Path) -> Result<bool> {
        crate::store::snapshot::adopt(self, layer, dir)
    }
}
