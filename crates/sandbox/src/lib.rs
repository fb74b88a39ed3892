//! Running one build step in Linux namespaces through an OCI runtime (runc or crun).
//!
//! CONTRACT (lead): the engine programs against these types; keep the signatures (adding
//! fields/functions is fine).
//!
//! - [`Overlay`]: the step's rootfs (parent layers below, the change captured in the upper dir).
//! - [`Runtime`]: finds a runc/crun that works here and runs a [`RunSpec`] in an OCI bundle.
//! - [`resolve_user`]: `USER` text to numbers, from the rootfs's own passwd/group files.
//! - [`resolve_in_rootfs`]: container paths to host paths, symlinks clamped to the rootfs;
//!   [`rootfs_path`] is the workspace's one path-in-root resolver and `mkdir_all`.

mod bundle;
mod copy_overlay;
mod limits;
mod netns;
mod overlay;
pub mod rootfs_path;
mod runtime;
mod runtime_select;
mod seccomp;
mod security;
mod spec;
mod stubs;
mod tail;
mod user;

pub use copy_overlay::ROOTFS_MODE_VAR;
pub use limits::{Resource, RunLimits, Ulimit};
pub use netns::{
    isolated_nameservers, missing_helper, NetworkHelper, HELPER, HELPER_DNS, HELPER_PACKAGE,
    OWNER_VAR,
};
pub use overlay::{Overlay, RootfsMode, TooManyLayers, MAX_LOWERS};
pub use rootfs_path::{create_dir_all_in_rootfs, resolve_in_rootfs};
pub use runtime::kill_running_steps;
pub use runtime_select::find_binary;
pub use spec::{
    ExtraHost, Mount, MountKind, Network, RunOutcome, RunSpec, Runtime, Security, User,
};
pub use user::resolve_user;
