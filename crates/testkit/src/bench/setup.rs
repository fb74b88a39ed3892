//! What both builders start from: a local registry holding the seed's base images
//! (`golang:1.19-bookworm`, `debian:bookworm-slim`), made from the cached Debian root
//! filesystems ([`crate::debian`]) and pushed by skiff, as `scripts/demo` does.

use crate::debian::{image_config_for, rootfs_tar, DebianBase};
use crate::registry::Registry;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// The registry and the references of the base images in it; the registry stops on drop.
pub struct Bases {
    /// The registry both builders pull from.
    pub registry: Registry,
    /// `127.0.0.1:PORT/golang:1.19-bookworm` and `127.0.0.1:PORT/debian:bookworm-slim`.
    pub references: Vec<String>,
}

impl Bases {
    /// `127.0.0.1:PORT`: the `REGISTRY` build argument of every workload's Dockerfile.
    pub fn registry_addr(&self) -> &str {
        self.registry.addr()
    }
}

/// Starts a registry and pushes both base images to it, built by `skiff` in a throwaway
/// store under `work`.
pub fn push_bases(skiff: &Path, work: &Path) -> Result<Bases> {
    let registry = Registry::start()?;
    let store = work.join("bases-store");
    let mut references = Vec::new();
    for base in [DebianBase::Golang, DebianBase::BookwormSlim] {
        let tar = rootfs_tar(base)?;
        let context = work.join(format!(
            "base-{}",
            base.reference().replace([':', '/'], "-")
        ));
        std::fs::create_dir_all(&context)?;
        let dest = context.join("rootfs.tar");
        if std::fs::hard_link(&tar, &dest).is_err() {
            std::fs::copy(&tar, &dest)
                .with_context(|| format!("copying {} to {}", tar.display(), dest.display()))?;
        }
        std::fs::write(
            context.join("Dockerfile"),
            image_config_for(base).dockerfile("rootfs.tar"),
        )?;
        let reference = registry.reference(base.reference());
        let output = Command::new(skiff)
            .arg("--root")
            .arg(&store)
            .args(["build", "--progress=plain", "--push", "-t", &reference])
            .arg(&context)
            .output()
            .with_context(|| format!("running {}", skiff.display()))?;
        if !output.status.success() {
            bail!(
                "skiff could not build and push the base image {reference}:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::fs::remove_dir_all(&context)?;
        references.push(reference);
    }
    std::fs::remove_dir_all(&store).ok();
    Ok(Bases {
        registry,
        references,
    })
}
