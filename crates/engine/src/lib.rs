//! The build engine: plan → schedule → execute steps with a content-based cache.
//!
//! [`build`] takes a Dockerfile and a context, asks the frontend for the stage graph,
//! runs the stages the target needs (independent ones at the same time), executes each
//! instruction with Docker's semantics, and leaves the result in the store. Every step that
//! makes a layer is looked up in the cache first: a hit reuses the stored result, so a fully
//! cached build does no layer work at all.

pub mod archive;
pub mod build;
pub mod cachekey;
pub mod config;
pub mod copy;
pub mod destination;
pub mod dockerignore;
pub mod glob;
pub mod mounts;
pub mod progress;
pub mod pull;
pub mod remote;
pub mod rootfs;
pub mod rootpath;
pub mod run;
pub mod schedule;
pub mod sources;
pub mod ssh;
pub mod stage;
pub mod statcache;
pub mod state;
pub mod time;
pub mod view;

pub use build::{build, BuildOptions, BuildOutcome};
pub use run::Entitlements;
pub use ssh::{SshAgent, SshSource};

use std::path::PathBuf;

/// The platform an image is built for: the image crate's type (the one registry pulls and
/// image indexes use), so that `--platform` means the same thing everywhere.
pub use skiff_image::registry::Platform;

/// A `--secret` given to the build.
#[derive(Clone, Debug)]
pub struct Secret {
    /// The id `RUN --mount=type=secret,id=…` names.
    pub id: String,
    /// The secret's bytes.
    pub value: Vec<u8>,
}

/// Where a build's input files come from besides the main context.
#[derive(Clone, Debug)]
pub enum NamedContext {
    /// A local directory.
    Dir(PathBuf),
    /// An image reference (`docker-image://REF`).
    Image(String),
    /// An OCI layout directory (`oci-layout:///path[:tag]`).
    OciLayout(PathBuf, Option<String>),
}
