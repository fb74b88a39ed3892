//! Resolving a path inside a root directory the way a container sees it: symlinks are
//! followed, but every absolute or `..`-climbing target is clamped to the root, so nothing
//! a build reads or writes can end up outside its context or rootfs. The resolver is the
//! sandbox's ([`skiff_sandbox::rootfs_path`], the one the whole workspace uses).

pub use skiff_sandbox::rootfs_path::{relative, resolve};
