//! Rootless skiff: an ordinary user becomes root in a user namespace of its own, with the
//! user's subordinate ids mapped above, and a mount namespace owned by it.
//!
//! The process moves itself (no re-exec, no second process staying around): a helper `sh`
//! started first, still outside, waits on a pipe; the process then calls
//! `unshare(CLONE_NEWUSER | CLONE_NEWNS)` and the helper runs `newuidmap`/`newgidmap` (the
//! setuid tools of Debian's `uidmap`, which check `/etc/subuid` and `/etc/subgid`) on it. From
//! then on the process is uid 0 with every capability, over what it owns: overlayfs (kernel
//! 5.11 on), bind mounts and the OCI runtime work as for root, and files get the ids the build
//! asks for, which the host sees shifted into the user's range. Exit codes, signals and
//! Ctrl-C are the process's own, as when run as root.
//!
//! The mapping is the one rootless podman and buildah use: 0 → the user, 1..=N → the user's N
//! subordinate ids.

use crate::subids::{largest_range, Owner, SubRange};
use crate::userns::IdKind;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What entering mapped.
#[derive(Debug, Clone)]
pub struct Entered {
    /// The user who ran skiff.
    pub owner: Owner,
    /// The subordinate uids mapped from 1 up.
    pub uids: SubRange,
    /// The subordinate gids mapped from 1 up.
    pub gids: SubRange,
}

/// Why skiff could not become root in a namespace of its own; each says how to fix it.
#[derive(Debug)]
pub enum RootlessError {
    /// The user has no line in `/etc/subuid` or `/etc/subgid`.
    NoSubordinateIds {
        /// Which file.
        kind: IdKind,
        /// Who was looked for.
        owner: Owner,
    },
    /// `newuidmap` or `newgidmap` is not installed.
    NoIdMapTool(&'static str),
    /// The kernel refused the user namespace.
    Unshare(rustix::io::Errno),
    /// `newuidmap`/`newgidmap` refused the mapping; their message.
    Mapping(String),
    /// Something else (the helper could not start, the process has threads already).
    Other(String),
}

impl fmt::Display for RootlessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RootlessError::NoSubordinateIds { kind, owner } => write!(
                f,
                "rootless skiff needs subordinate ids, and {} has no line for {} (uid {}). \
                 As root, add one (`usermod --add-subuids 100000-165535 --add-subgids \
                 100000-165535 {}`, which writes `{}:100000:65536` to /etc/subuid and \
                 /etc/subgid), or build as root",
                kind.subid_file(),
                owner.label(),
                owner.uid,
                owner.label(),
                owner.label(),
            ),
            RootlessError::NoIdMapTool(tool) => write!(
                f,
                "rootless skiff needs {tool} (setuid root) to map the user's subordinate ids: \
                 install Debian's uidmap package (`apt-get install uidmap`), or build as root"
            ),
            RootlessError::Unshare(errno) => write!(
                f,
                "the kernel refused a user namespace ({errno}): check `sysctl \
                 user.max_user_namespaces` (must be above 0) and, on kernels that have it, \
                 `kernel.unprivileged_userns_clone=1` and AppArmor's \
                 `kernel.apparmor_restrict_unprivileged_userns=0`; or build as root"
            ),
            RootlessError::Mapping(message) => write!(
                f,
                "newuidmap/newgidmap refused the mapping: {message}. Check the user's lines in \
                 /etc/subuid and /etc/subgid, and that /usr/bin/newuidmap and newgidmap are \
                 setuid root (`ls -l /usr/bin/newuidmap`)"
            ),
            RootlessError::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RootlessError {}

/// Enters the user and mount namespaces when not root; `None` as root (nothing to do).
/// Must be called while the process has one thread (before any runtime or pool starts).
pub fn enter() -> Result<Option<Entered>, RootlessError> {
    if rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let owner = Owner::current();
    let range = |kind: IdKind| {
        largest_range(Path::new(kind.subid_file()), &owner).ok_or(RootlessError::NoSubordinateIds {
            kind,
            owner: owner.clone(),
        })
    };
    let (uids, gids) = (range(IdKind::User)?, range(IdKind::Group)?);
    let newuidmap = tool("newuidmap")?;
    let newgidmap = tool("newgidmap")?;
    if thread_count() > 1 {
        return Err(RootlessError::Other(
            "internal error: the rootless entry ran after a second thread started".into(),
        ));
    }
    let mut helper = spawn_mapper(&newuidmap, &newgidmap, uids, gids)?;
    // SAFETY: the process has one thread (checked above), as unshare(CLONE_NEWUSER) requires.
    let unshared = unsafe {
        rustix::thread::unshare_unsafe(
            rustix::thread::UnshareFlags::NEWUSER | rustix::thread::UnshareFlags::NEWNS,
        )
    };
    if let Err(errno) = unshared {
        let _ = helper.kill();
        let _ = helper.wait();
        return Err(RootlessError::Unshare(errno));
    }
    let go = helper
        .stdin
        .take()
        .map(|mut stdin| stdin.write_all(b"go\n"));
    let output = helper
        .wait_with_output()
        .map_err(|e| RootlessError::Other(format!("waiting for newuidmap/newgidmap: {e}")))?;
    if !output.status.success() || !matches!(go, Some(Ok(()))) {
        let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
        return Err(RootlessError::Mapping(message));
    }
    private_mounts()?;
    Ok(Some(Entered { owner, uids, gids }))
}

/// The helper that maps ids once told to: it must start before the unshare, outside.
fn spawn_mapper(
    newuidmap: &Path,
    newgidmap: &Path,
    uids: SubRange,
    gids: SubRange,
) -> Result<std::process::Child, RootlessError> {
    const SCRIPT: &str = r#"read -r _ || exit 1
"$1" "$0" 0 "$2" 1 1 "$3" "$4" && "$5" "$0" 0 "$6" 1 1 "$7" "$8""#;
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    Command::new("/bin/sh")
        .args(["-c", SCRIPT])
        .arg(std::process::id().to_string())
        .arg(newuidmap)
        .args([uid, uids.start, uids.count].map(|n| n.to_string()))
        .arg(newgidmap)
        .args([gid, gids.start, gids.count].map(|n| n.to_string()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RootlessError::Other(format!("starting /bin/sh to map ids: {e}")))
}

/// Mounts made from here on stay in this namespace.
fn private_mounts() -> Result<(), RootlessError> {
    use rustix::mount::{mount_change, MountPropagationFlags};
    mount_change(
        "/",
        MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
    )
    .map_err(|e| RootlessError::Other(format!("making / private in the mount namespace: {e}")))
}

fn tool(name: &'static str) -> Result<PathBuf, RootlessError> {
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .ok_or(RootlessError::NoIdMapTool(name))
}

fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |dir| dir.count())
}
