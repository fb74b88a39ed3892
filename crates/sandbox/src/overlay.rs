//! The overlayfs mount a build step writes through: the parent's layers below, the step's
//! change captured in the upper dir.

use crate::copy_overlay::{self, CopyMount};
use anyhow::{bail, Context, Result};
use rustix::fs::{Mode, OFlags};
use rustix::mount::{MountFlags, UnmountFlags};
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The largest mount(2) option string the kernel accepts (one page, NUL included).
const MAX_MOUNT_DATA: usize = 4095;

/// The most lower dirs overlayfs stacks (the kernel's `OVL_MAX_STACK`).
pub const MAX_LOWERS: usize = 500;

/// Why a rootfs of more than [`MAX_LOWERS`] layers is copied instead of mounted: callers that
/// know where the layers come from (the Dockerfile's steps) say so.
#[derive(Debug)]
pub struct TooManyLayers {
    /// How many distinct layers the rootfs has.
    pub layers: usize,
}

impl std::fmt::Display for TooManyLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} layers are more than overlayfs stacks ({MAX_LOWERS})",
            self.layers
        )
    }
}

impl std::error::Error for TooManyLayers {}

/// An overlayfs mount: `lowers` (lowest first) under `upper`, merged at `target`.
/// Unmounted on drop (lazily detached if still busy).
///
/// Order convention: the API takes the lower dirs **lowest first** (base layer first, as layers
/// are listed in a manifest); the kernel's `lowerdir=` wants the highest first, so they are
/// reversed when mounting.
///
/// Option length: mount(2) takes at most one page of options. When the absolute paths do not
/// fit (or contain `:` `,` `\` which overlayfs would misparse), every directory is opened and
/// passed by its descriptor number, relative to `/proc/self/fd` (a mount thread with its own
/// working directory), a few bytes each, so overlayfs's own limit of 500 lowers is reached
/// first. Beyond 500 the layers are copied instead (see below), with a message saying why.
///
/// Mounted with `index=off,redirect_dir=off,metacopy=off` so that everything a step changes is
/// a plain copy in the upper dir (no redirect or metacopy xattrs a layer could not express),
/// and `volatile` where the kernel has it (5.10 on): a step's upper dir is scratch until it
/// is written as a layer (a blob that is fsync'd), so nothing needs it on disk earlier. Without
/// `volatile`, unmounting syncs the whole filesystem the upper dir is on (`syncfs`: every
/// dirty page of every process, not only the step's), which costs seconds on a busy disk,
/// and the upper dir's files then reach the disk only to be deleted, which on a filesystem
/// mounted with online `discard` costs about a millisecond a file (5,000 files: 5–20 s).
///
/// Where overlayfs cannot be mounted (no kernel support, not permitted, or the store on
/// overlayfs itself), or with `SKIFF_ROOTFS=copy`, the layers are copied into `target` instead
/// and [`Overlay::unmount`] writes the change into `upper` in overlayfs's own form (see the
/// `copy_overlay` module): slower, same layers.
pub struct Overlay {
    /// The merged directory.
    pub target: PathBuf,
    mounted: bool,
    copy: Option<CopyMount>,
}

impl Overlay {
    /// Mounts. With no lower dirs the upper dir alone is the rootfs (bind-mounted at `target`;
    /// `work` is then unused).
    pub fn mount(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<Overlay> {
        for dir in lowers
            .iter()
            .map(PathBuf::as_path)
            .chain([upper, work, target])
        {
            if !dir.is_dir() {
                bail!(
                    "cannot mount overlay at {}: {} is not a directory",
                    target.display(),
                    dir.display()
                );
            }
        }
        let copied = |lowers: &[PathBuf]| -> Result<Overlay> {
            Ok(Overlay {
                target: target.to_path_buf(),
                mounted: false,
                copy: Some(CopyMount::mount(lowers, upper, target)?),
            })
        };
        if copy_overlay::forced() {
            return copied(lowers);
        }
        if lowers.is_empty() {
            rustix::mount::mount_bind(upper, target).with_context(|| {
                format!("bind-mounting {} at {}", upper.display(), target.display())
            })?;
        } else if let Err(err) = mount_overlay(&distinct_lowers(lowers), upper, work, target) {
            if !overlay_unavailable(&err) {
                return Err(err);
            }
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "skiff: overlayfs cannot be mounted here ({err:#}); copying layers instead \
                     (slower; set {}=copy to choose this up front)",
                    copy_overlay::ROOTFS_MODE_VAR
                )
            });
            return copied(lowers);
        }
        Ok(Overlay {
            target: target.to_path_buf(),
            mounted: true,
            copy: None,
        })
    }

    /// Unmounts now, reporting failure (dropping does the same but can only ignore errors).
    /// For a copied rootfs this is when the change is written to the upper dir; dropping
    /// without it throws the change away.
    pub fn unmount(mut self) -> Result<()> {
        if let Some(copy) = self.copy.take() {
            return copy.write_upper();
        }
        self.mounted = false;
        detach(&self.target)
    }
}

impl Drop for Overlay {
    fn drop(&mut self) {
        if let Some(copy) = &self.copy {
            copy.clear();
        } else if self.mounted {
            // Nothing to report to from a destructor; `unmount` is the checked way.
            let _ = detach(&self.target);
        }
    }
}

/// Whether a failed overlay mount means overlayfs is not available here (rather than a mistake
/// in what was asked): no such filesystem, not permitted, or refused for the upper dir's
/// filesystem (overlayfs on overlayfs).
fn overlay_unavailable(err: &anyhow::Error) -> bool {
    use rustix::io::Errno;
    err.downcast_ref::<Errno>().is_some_and(|e| {
        matches!(
            *e,
            Errno::NODEV | Errno::PERM | Errno::INVAL | Errno::NOTSUP
        )
    })
}

/// `lowers` with each directory only at its highest position. overlayfs refuses a directory
/// given twice (ELOOP), which happens when an image holds the same layer twice (BuildKit's empty
/// layer after every step that changed nothing); the lower copy changes nothing, since the
/// higher one shows and hides the same paths over everything below it.
fn distinct_lowers(lowers: &[PathBuf]) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = Vec::with_capacity(lowers.len());
    for (i, dir) in lowers.iter().enumerate() {
        if !lowers[i + 1..].contains(dir) {
            kept.push(dir.clone());
        }
    }
    kept
}

fn detach(target: &Path) -> Result<()> {
    match rustix::mount::unmount(target, UnmountFlags::empty()) {
        Err(rustix::io::Errno::BUSY) => rustix::mount::unmount(target, UnmountFlags::DETACH),
        other => other,
    }
    .with_context(|| format!("unmounting {}", target.display()))
}

/// Whether overlayfs took `volatile` (cleared for the process when it refused it once).
static VOLATILE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

fn mount_overlay(lowers: &[PathBuf], upper: &Path, work: &Path, target: &Path) -> Result<()> {
    if lowers.len() > MAX_LOWERS {
        bail!(TooManyLayers {
            layers: lowers.len()
        });
    }
    use std::sync::atomic::Ordering;
    if VOLATILE.load(Ordering::Relaxed) {
        match mount_overlay_with(lowers, upper, work, target, true) {
            // Kernels before 5.10 do not know the option: EINVAL, and then not again.
            Err(e) if e.downcast_ref::<rustix::io::Errno>() == Some(&rustix::io::Errno::INVAL) => {
                VOLATILE.store(false, Ordering::Relaxed);
            }
            other => return other,
        }
    }
    mount_overlay_with(lowers, upper, work, target, false)
}

fn mount_overlay_with(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
    volatile: bool,
) -> Result<()> {
    let by_path = options(lowers, upper, work, volatile, |p| {
        Ok(p.as_os_str().as_bytes().to_vec())
    })?;
    let safe = |o: &[u8]| o.len() <= MAX_MOUNT_DATA;
    let paths_are_plain = lowers
        .iter()
        .map(PathBuf::as_path)
        .chain([upper, work])
        .all(|p| {
            !p.as_os_str()
                .as_bytes()
                .iter()
                .any(|b| matches!(b, b':' | b',' | b'\\' | 0))
        });
    if paths_are_plain && safe(&by_path) {
        return mount_with(target, by_path);
    }
    // The opened fds must stay open until mount(2) has returned.
    let mut fds: Vec<OwnedFd> = Vec::new();
    let by_fd = options(lowers, upper, work, volatile, |p| {
        let fd = rustix::fs::open(
            p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("opening {}", p.display()))?;
        let name = fd.as_raw_fd().to_string().into_bytes();
        fds.push(fd);
        Ok(name)
    })?;
    if !safe(&by_fd) {
        bail!(
            "cannot mount overlay at {}: {} lower dirs make {} bytes of mount options, over the \
             kernel's {MAX_MOUNT_DATA}-byte limit even as file descriptor numbers",
            target.display(),
            lowers.len(),
            by_fd.len()
        );
    }
    // The names are relative to /proc/self/fd: mounted from a thread with a working directory
    // of its own (unshare(CLONE_FS)), so that other threads' paths are not affected.
    let result = std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<()> {
                // SAFETY: CLONE_FS only gives this thread its own cwd, root and umask; the fd
                // table stays shared.
                unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }
                    .context("unshare(CLONE_FS) for the overlay mount")?;
                rustix::process::chdir("/proc/self/fd").context("chdir /proc/self/fd")?;
                mount_with(target, by_fd)
            })
            .join()
            .unwrap_or_else(|_| bail!("the overlay mount thread panicked"))
    });
    drop(fds);
    result
}

/// mount(2) of overlayfs at `target` with the option string `data`.
fn mount_with(target: &Path, data: Vec<u8>) -> Result<()> {
    let data = CString::new(data).expect("paths with NUL bytes were sent through /proc/self/fd");
    let result = rustix::mount::mount(
        "overlay",
        target,
        "overlay",
        MountFlags::empty(),
        data.as_c_str(),
    );
    result.with_context(|| {
        format!(
            "mounting overlayfs at {}: upper and work must be empty-able directories on the same \
             filesystem, not on overlayfs itself, and the kernel needs overlay support \
             (`modprobe overlay`)",
            target.display(),
        )
    })
}

fn options(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    volatile: bool,
    mut name: impl FnMut(&Path) -> Result<Vec<u8>>,
) -> Result<Vec<u8>> {
    let mut data = b"lowerdir=".to_vec();
    for (i, lower) in lowers.iter().rev().enumerate() {
        if i > 0 {
            data.push(b':');
        }
        data.extend(name(lower)?);
    }
    data.extend(b",upperdir=");
    data.extend(name(upper)?);
    data.extend(b",workdir=");
    data.extend(name(work)?);
    if skiff_host::userns::is_initial() {
        data.extend(b",index=off,redirect_dir=off,metacopy=off");
    } else {
        // In a user namespace (rootless) overlayfs may not use `trusted.*` xattrs: its opaque
        // markers are `user.overlay.*`, as layer extraction writes them there. With
        // `userxattr` the kernel takes `redirect_dir=nofollow` (it reads `off` as `follow`).
        data.extend(b",index=off,redirect_dir=nofollow,metacopy=off,userxattr");
    }
    if volatile {
        data.extend(b",volatile");
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::distinct_lowers;
    use std::path::PathBuf;

    #[test]
    fn a_repeated_lower_dir_keeps_only_its_highest_place() {
        let p = |s: &str| PathBuf::from(s);
        let lowers = [p("/a"), p("/empty"), p("/b"), p("/empty"), p("/c")];
        assert_eq!(
            distinct_lowers(&lowers),
            vec![p("/a"), p("/b"), p("/empty"), p("/c")]
        );
    }
}

/// How a step's root filesystem is made on this machine (`skiff info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootfsMode {
    /// overlayfs.
    Overlay,
    /// Layers copied into a directory, because of `reason`.
    Copy {
        /// Why not overlayfs.
        reason: String,
    },
}

impl Overlay {
    /// What [`Overlay::mount`] does here: mounts and unmounts a one-layer overlay in a
    /// temporary directory under `scratch` (which should be on the store's filesystem: overlayfs
    /// refuses an upper dir on overlayfs).
    pub fn probe(scratch: &Path) -> RootfsMode {
        if copy_overlay::forced() {
            return RootfsMode::Copy {
                reason: format!("{}=copy is set", copy_overlay::ROOTFS_MODE_VAR),
            };
        }
        let attempt = || -> Result<()> {
            let dir = tempfile::Builder::new()
                .prefix("skiff-probe-")
                .tempdir_in(scratch)?;
            let [lower, upper, work, target] =
                ["lower", "upper", "work", "merged"].map(|d| dir.path().join(d));
            for d in [&lower, &upper, &work, &target] {
                std::fs::create_dir(d)?;
            }
            mount_overlay(&[lower], &upper, &work, &target)?;
            detach(&target)
        };
        match attempt() {
            Ok(()) => RootfsMode::Overlay,
            Err(err) => RootfsMode::Copy {
                reason: format!("overlayfs cannot be mounted here: {err:#}"),
            },
        }
    }
}
