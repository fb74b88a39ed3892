//! What this process may do on the host, and the one step that changes it.
//!
//! skiff runs as root, or as an ordinary user that it first moves into a user namespace of
//! its own (`rootless`): the user is root there, and the user's subordinate ids
//! (`/etc/subuid`, `/etc/subgid`) are the ids above. The rest of skiff does not care which,
//! except where the kernel does: only the host's root may make device nodes and write
//! `trusted.*` xattrs, so overlayfs's own xattrs move to `user.overlay.*` in a user namespace
//! (`userns`). The image crate (layer extraction), the sandbox (overlay mounts, the OCI
//! runtime) and the CLI (entering) ask here, so that the answer has one owner.

pub mod rootless;
pub mod subids;
pub mod userns;
