//! The two-platform busybox base image: an OCI index over the host's busybox image (the one
//! [`crate::busybox`] makes) and an arm64 one made the same way from Debian's
//! `busybox-static:arm64` package, for multi-platform builds and emulated `RUN` steps.
//!
//! The arm64 binary comes from the package file alone (`apt-get download`, `dpkg-deb -x`):
//! nothing of another architecture is installed. `scripts/install-deps` adds the arm64
//! architecture to apt (`dpkg --add-architecture arm64`) so that the download finds it. The
//! binary and the layout are cached under the testkit cache like the busybox fixture.

use crate::busybox::{container_config, rootfs_tar, BUSYBOX_BIN};
use crate::cache::cache_dir;
use crate::layout::{self, host_architecture, Layer, PlatformImage};
use crate::push::{push_layout, ImageRef};
use crate::registry::Registry;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository and tag the index is pushed under in a test registry.
pub const MULTI_REPOSITORY_TAG: &str = "testkit/busybox-multi:latest";

/// The platform the fixture adds to the host's.
pub const FOREIGN_PLATFORM: &str = "linux/arm64";

/// Bumped whenever the recipe changes so that old cached layouts are not reused.
const RECIPE_VERSION: u32 = 1;

/// The tag inside the cached OCI layout.
const LAYOUT_TAG: &str = "latest";

/// The pushed index and its images.
#[derive(Clone, Debug)]
pub struct MultiImage {
    /// The index as pushed (`reference`, index `digest`).
    pub index: ImageRef,
    /// `(platform, manifest digest)` of each image, host's first.
    pub manifests: Vec<(String, String)>,
}

/// Builds (or reuses) the two-platform busybox index and pushes it to `registry` as
/// `ADDR/testkit/busybox-multi:latest` (digests kept).
pub fn busybox_multi_image(registry: &Registry) -> Result<MultiImage> {
    let (dir, manifests) = busybox_multi_layout()?;
    let index = push_layout(registry, &dir, LAYOUT_TAG, MULTI_REPOSITORY_TAG)?;
    Ok(MultiImage { index, manifests })
}

/// The cached OCI layout of the index (built on first use) and its images' digests.
pub fn busybox_multi_layout() -> Result<(PathBuf, Vec<(String, String)>)> {
    if host_architecture() != "amd64" {
        bail!("the two-platform busybox fixture pairs amd64 with arm64: run the tests on amd64");
    }
    let host = std::fs::read(BUSYBOX_BIN).with_context(|| {
        format!("reading {BUSYBOX_BIN} (install it: apt-get install busybox-static)")
    })?;
    let foreign = arm64_busybox()?;
    let key = &layout::sha256_digest(&[host.as_slice(), foreign.as_slice()].concat())
        ["sha256:".len()..][..16];
    let cache = cache_dir();
    let dir = cache.join(format!("busybox-multi-v{RECIPE_VERSION}-{key}"));
    let manifests_file = dir.join("skiff-testkit-manifests.json");
    if let Ok(text) = std::fs::read_to_string(&manifests_file) {
        return Ok((dir, serde_json::from_str(&text)?));
    }
    std::fs::create_dir_all(&cache)?;
    let scratch = tempfile::Builder::new()
        .prefix(".busybox-multi-build-")
        .tempdir_in(&cache)?;
    let platforms = [
        format!("linux/{}", host_architecture()),
        FOREIGN_PLATFORM.to_string(),
    ];
    let images = [&host, &foreign]
        .iter()
        .zip(&platforms)
        .map(|(binary, platform)| {
            Ok(PlatformImage {
                platform: platform.clone(),
                layers: vec![Layer {
                    tar: rootfs_tar(binary)?,
                    gzip: true,
                }],
                container_config: container_config(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let written = layout::write_index_layout(scratch.path(), LAYOUT_TAG, &images)?;
    let manifests: Vec<(String, String)> = platforms
        .iter()
        .cloned()
        .zip(written.images.iter().map(|i| i.manifest_digest.clone()))
        .collect();
    std::fs::write(
        scratch.path().join("skiff-testkit-manifests.json"),
        serde_json::to_vec(&manifests)?,
    )?;
    let built = scratch.keep();
    if std::fs::rename(&built, &dir).is_err() {
        let _ = std::fs::remove_dir_all(&built);
    }
    Ok((dir, manifests))
}

/// The arm64 `busybox` binary of Debian's `busybox-static:arm64`, downloaded once and kept
/// in the testkit cache.
pub fn arm64_busybox() -> Result<Vec<u8>> {
    let cache = cache_dir();
    let path = cache.join("busybox-static-arm64").join("busybox");
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok(bytes);
    }
    std::fs::create_dir_all(&cache)?;
    let work = tempfile::Builder::new()
        .prefix(".busybox-arm64-")
        .tempdir_in(&cache)?;
    let output = Command::new("apt-get")
        .args(["download", "busybox-static:arm64"])
        .current_dir(work.path())
        .output()
        .context("running apt-get download")?;
    if !output.status.success() {
        bail!(
            "apt-get download busybox-static:arm64 failed (scripts/install-deps adds the arm64 \
             architecture: dpkg --add-architecture arm64 && apt-get update): {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let deb = deb_in(work.path())?;
    let tree = work.path().join("tree");
    let output = Command::new("dpkg-deb")
        .arg("-x")
        .arg(&deb)
        .arg(&tree)
        .output()
        .context("running dpkg-deb")?;
    if !output.status.success() {
        bail!(
            "dpkg-deb -x {} failed: {}",
            deb.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let bytes = std::fs::read(tree.join("bin/busybox"))
        .context("the busybox-static:arm64 package has no bin/busybox")?;
    // e_machine 183 = EM_AARCH64: the download really is the arm64 build.
    if bytes.get(18..20) != Some(&[183, 0][..]) {
        bail!("{} holds no AArch64 busybox", deb.display());
    }
    let dir = path.parent().expect("a file in a directory");
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".busybox-{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(bytes)
}

fn deb_in(dir: &Path) -> Result<PathBuf> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "deb") {
            return Ok(path);
        }
    }
    bail!("apt-get download left no .deb in {}", dir.display())
}
