//! BuildKit as the reference builder of differential tests: a private dockerd ([`Dockerd`])
//! and a local registry holding the busybox fixture, the base both builders start from
//! (`ARG BASE` / `FROM ${BASE}`, given as `--build-arg BASE=127.0.0.1:PORT/…`).

use crate::busybox::busybox_image;
use crate::dockerd::Dockerd;
use crate::project::BuiltImage;
use crate::registry::Registry;
use crate::tools::require_tool;
use anyhow::Result;
use std::path::Path;

/// A running dockerd and the registry its builds pull the busybox base from; both stopped
/// on drop.
pub struct ReferenceBuilder {
    /// The daemon that builds with BuildKit.
    pub dockerd: Dockerd,
    /// The busybox fixture's reference in `registry` (`127.0.0.1:PORT/testkit/busybox:latest`).
    pub base: String,
    _registry: Registry,
}

impl ReferenceBuilder {
    /// Starts the registry and the daemon, or returns `None` (the test is skipped) when runc,
    /// the registry or docker.io is missing; in CI a missing tool panics instead.
    pub fn start_or_skip() -> Option<ReferenceBuilder> {
        if !require_tool("runc") {
            return None;
        }
        let registry = Registry::start_or_skip()?;
        let dockerd = Dockerd::start_or_skip()?;
        let base = busybox_image(&registry)
            .expect("pushing the busybox fixture")
            .reference;
        Some(ReferenceBuilder {
            dockerd,
            base,
            _registry: registry,
        })
    }

    /// `--build-arg BASE=<base>`: the first arguments of both builders' builds.
    pub fn base_args(&self) -> Vec<String> {
        vec!["--build-arg".to_string(), format!("BASE={}", self.base)]
    }

    /// `docker build -t TAG ARGS CONTEXT` with BuildKit, read back with `docker save`.
    pub fn build(&self, context: &Path, args: &[&str], tag: &str) -> Result<BuiltImage> {
        self.dockerd.build(context, args, tag)?;
        self.dockerd.built_image(tag)
    }
}
