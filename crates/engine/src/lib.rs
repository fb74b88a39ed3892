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
pub mod dockerignore;
pub mod glob;
pub mod mounts;
pub mod progress;
pub mod pull;
pub mod rootfs;
pub mod rootpath;
pub mod run;
pub mod sources;
pub mod stage;
pub mod state;
pub mod time;
pub mod view;

pub use build::{build, BuildOptions, BuildOutcome};

use std::path::PathBuf;

/// The platform an image is built for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    pub variant: Option<String>,
}

impl Platform {
    /// The machine skiff runs on.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// Parses `os/arch[/variant]` (`linux/amd64`).
    pub fn parse(s: &str) -> anyhow::Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => anyhow::bail!(
                "invalid platform \"{s}\": expected os/arch[/variant], e.g. linux/amd64"
            ),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

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
