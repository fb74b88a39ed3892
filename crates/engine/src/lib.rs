//! The build engine: plan → schedule → execute steps with a content-based cache.
//!
//! [`build`] takes a Dockerfile and a context, asks the frontend for the stage graph,
//! runs the stages the target needs (independent ones at the same time), executes each
//! instruction with Docker's semantics, and leaves the result in the store. Every step that
//! makes a layer is looked up in the cache first: a hit reuses the stored result, so a fully
//! cached build does no layer work at all.
//!
//! The modules are private: what callers use is re-exported here. A build fails with a
//! [`BuildError`] (a Dockerfile error, a failed step with its place and typed cause such as
//! [`RunFailed`], or a cancellation); its events go to a [`Progress`]. The one public module,
//! [`spec`], is the cache key format ([`step_key`]), documented in `docs/cache-keys.md`.

mod archive;
mod build;
mod cachekey;
mod config;
mod copy;
mod destination;
mod dockerignore;
mod emulation;
mod error;
mod final_image;
mod glob;
mod inputs;
mod interrupt;
mod layer_options;
mod mounts;
mod multi;
mod options;
mod progress;
mod pull;
mod remote;
mod remote_cache;
mod rootfs;
mod rootpath;
mod run;
mod schedule;
mod scratch;
mod sources;
pub mod spec;
mod ssh;
mod stage;
mod statcache;
mod state;
mod steps;
mod time;
mod view;
mod workspace;

pub use archive::extract_archive;
pub use build::{build, plan, BuildOptions, BuildOutcome, Planned};
/// The cache key format (see `docs/cache-keys.md`): what a key is computed from, shared
/// with whatever ships keys between machines.
pub use cachekey::{key_document, step_key, KEY_FORMAT_VERSION};
pub use config::ImageConfig;
pub use dockerignore::Matcher;
/// Which foreign platforms RUN steps can run on here (QEMU emulators registered with binfmt_misc).
pub use emulation::emulated_platforms;
pub use error::BuildError;
pub use final_image::{FinalReport, VerifyMode};
pub use interrupt::{interrupt_flag, interrupted, Interrupted};
pub use layer_options::LayerOptions;
pub use multi::{build_index, IndexOutcome};
pub use options::{NamedContext, Secret};
pub use progress::{Event, Mode, Progress, SizeReport, Summary, Warning};
pub use remote::fetch_context;
/// `--cache-from` / `--cache-to`: the build cache shared through a registry or a directory.
pub use remote_cache::{CacheFrom, CacheLocation, CacheMode, CacheTo};
pub use run::RunFailed;
pub use run::{Entitlements, RunNetwork};
pub use ssh::{SshAgent, SshSource};
pub use state::ImageState;

/// The platform an image is built for: the image crate's type (the one registry pulls and
/// image indexes use), so that `--platform` means the same thing everywhere.
pub use skiff_image::registry::Platform;
pub use skiff_sandbox::{ExtraHost, RunLimits, Ulimit};
