//! Test fixtures shared by every integration test: a local registry, base images, the skiff binary.
//!
//! - [`Registry`]: Debian's `docker-registry` on `127.0.0.1:<free port>` with temporary storage,
//!   stopped on drop ([`Registry::start_or_skip`] skips locally, panics in CI, when it is missing).
//! - [`busybox_image`]: the busybox base image (built from `busybox-static`, cached on disk),
//!   pushed to a registry; [`push_image`] / [`push_layout`] push any image written with
//!   [`layout`] (an OCI layout writer independent of skiff); [`busybox_multi_image`] the
//!   same as a two-platform index (host + arm64, from Debian's `busybox-static:arm64`).
//! - [`dockerd::Dockerd`]: a private Docker daemon (BuildKit), the reference builder of
//!   differential tests, stopped by pid on drop.
//! - [`container`]: runs a built image with runc (rootfs from `-o type=local`, process from
//!   the image config, `USER` resolved in the image), to call what it serves on 127.0.0.1.
//! - [`FaultProxy`]: a proxy in front of a registry that fails, refuses or throttles connections,
//!   or (HTTP mode) answers single requests with errors, resets, truncated, stalled or corrupt
//!   bodies, redirects and a bearer-token realm that works or fails.
//! - [`project::Project`]: a build context and private store; runs `skiff build` and reads the
//!   exported image back ([`project::BuiltImage`]) with code independent of skiff.
//! - [`reference_builder::ReferenceBuilder`]: BuildKit (dockerd 20.10, or the current one of
//!   `../shared/reference-buildkit/` with `SKIFF_REFERENCE=buildkit`) plus a registry with the
//!   busybox base, for tests that build the same Dockerfile with BuildKit and skiff.
//! - [`bench`](mod@bench): the skiff-vs-BuildKit benchmark behind `scripts/bench` (`skiff-bench`).
//! - [`crash_campaign`]: a build SIGKILLed at random moments, then checked
//!   (`scripts/crash-campaign`).
//! - [`store_check`], [`leftovers`]: a store still consistent, and nothing (containers,
//!   mounts, helper processes) left on the host by a build that failed or was killed.
//! - [`outside::OutsideServer`]: an HTTP server in a network namespace of the test's own, on
//!   a veth pair: the outside world RUN's default network must reach.
//! - [`skiff_bin`], [`require_tool`], [`command::run_ok`]: the binary under test, tools tests
//!   need, and running one that must succeed.
//!
//! Typical use:
//! ```no_run
//! let Some(registry) = skiff_testkit::Registry::start_or_skip() else { return };
//! let busybox = skiff_testkit::busybox_image(&registry).unwrap();
//! // busybox.reference == "127.0.0.1:PORT/testkit/busybox:latest", busybox.digest == "sha256:…"
//! ```
pub mod bench;
pub mod busybox;
pub mod busybox_multi;
pub mod cache;
pub mod command;
pub mod container;
pub mod crash_campaign;
pub mod debian;
pub mod dockerd;
pub mod go_example;
pub mod layout;
pub mod leftovers;
pub mod outside;
pub mod payload;
pub mod project;
pub mod proxy;
pub mod push;
pub mod reference_builder;
pub mod registry;
pub mod rootless;
pub mod store_check;
pub mod terminal;
pub mod tools;

pub use busybox::busybox_image;
pub use busybox_multi::{busybox_multi_image, MultiImage};
pub use proxy::FaultProxy;
pub use push::{push_image, push_layout, push_layout_as, ImageRef, PushFormat};
pub use registry::Registry;
/// Re-exported so that tests can write image configs (`skiff_testkit::serde_json::json!`)
/// without depending on serde_json themselves.
pub use serde_json;
/// Re-exported so that tests can make scratch stores and contexts without their own dependency.
pub use tempfile;
pub use tools::{require_tool, skiff_bin, skiff_bin_at};
