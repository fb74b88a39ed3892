//! The values a step is described and answered with: who it runs as, its network, its
//! confinement, its mounts, the whole [`RunSpec`], its [`RunOutcome`], and the [`Runtime`]
//! that runs it. A file of their own, so the modules that use them and the crate root that
//! re-exports them do not import each other.

use std::path::PathBuf;

/// Which user a step runs as, already resolved to numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct User {
    /// The uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// Supplementary groups (from the rootfs's `/etc/group`).
    pub additional_gids: Vec<u32>,
}

/// The network a step sees.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Network {
    /// A network namespace of its own with outbound access through slirp4netns and the host's
    /// loopback out of reach (RUN's default; see the `netns` module).
    #[default]
    Isolated,
    /// Only a loopback interface (`RUN --network=none`).
    None,
    /// The host's network namespace (`RUN --network=host`, which the build must allow).
    Host,
}

/// An `/etc/hosts` entry added to every step (`--add-host NAME:IP`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtraHost {
    /// The host name.
    pub name: String,
    /// Its address.
    pub ip: std::net::IpAddr,
}

/// How confined a step is (`RUN --security`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Security {
    /// Docker's default confinement, as BuildKit's `sandbox` mode: Docker's default
    /// capabilities, its seccomp profile, masked `/proc` paths, a read-only `/sys`.
    #[default]
    Sandbox,
    /// BuildKit's `insecure` mode (`RUN --security=insecure`, which the build must allow): every
    /// capability skiff has, no seccomp filter, nothing masked or read-only, all devices allowed,
    /// a writable `/sys` and the host's fuse, kvm, tun, loop and kmsg devices.
    Insecure,
}

/// Something mounted into the step's rootfs besides the rootfs itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MountKind {
    /// A host directory or file bound in.
    Bind {
        /// The host path.
        source: PathBuf,
        /// Mounted read-only.
        readonly: bool,
    },
    /// A fresh tmpfs.
    Tmpfs {
        /// Size limit in bytes.
        size: Option<u64>,
    },
}

/// A mount at `destination` (an absolute path inside the container).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// Absolute path inside the container.
    pub destination: String,
    /// What is mounted.
    pub kind: MountKind,
}

/// Everything needed to run one process.
#[derive(Clone, Debug, Default)]
pub struct RunSpec {
    /// The root filesystem (typically an overlay mount's merged dir). Written to in place.
    pub rootfs: PathBuf,
    /// argv.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Working directory inside the container (created if missing, owned by `user`).
    pub cwd: String,
    /// Who runs it.
    pub user: User,
    /// Hostname inside the container.
    pub hostname: String,
    /// Its own network, none, or the host's.
    pub network: Network,
    /// Entries added to `/etc/hosts`, in order.
    pub extra_hosts: Vec<ExtraHost>,
    /// Extra mounts, in order.
    pub mounts: Vec<Mount>,
    /// Sandboxed (the default) or insecure.
    pub security: Security,
    /// `/dev/shm`'s size and the rlimits.
    pub limits: crate::limits::RunLimits,
}

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunOutcome {
    /// The exit code (128+signal when killed by a signal).
    pub exit_code: i32,
    /// The last lines of combined stdout/stderr (for error messages).
    pub tail: Vec<String>,
}

/// An OCI runtime binary (runc or crun) that was checked to work here.
#[derive(Clone, Debug)]
pub struct Runtime {
    /// Path to the binary.
    pub path: PathBuf,
}
