//! Putting fixture images into a test registry with skopeo — a tool independent of skiff,
//! so a fixture in the registry is exactly what the layout on disk says.

use crate::layout::{write_layout, Layer, WrittenImage};
use crate::registry::Registry;
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// An image in a test registry, as tests refer to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `127.0.0.1:PORT/repo:tag`: what `skiff pull` / `FROM` take.
    pub reference: String,
    /// The manifest digest (`sha256:…`) the registry serves for it.
    pub digest: String,
}

impl ImageRef {
    /// `127.0.0.1:PORT/repo:tag@sha256:…`: the reference pinned to its digest.
    pub fn pinned(&self) -> String {
        format!("{}@{}", self.reference, self.digest)
    }

    /// `127.0.0.1:PORT/repo@sha256:…`: the repository by digest, without the tag.
    pub fn by_digest(&self) -> String {
        let repo = match self.reference.rfind(':') {
            Some(i) if !self.reference[i..].contains('/') => &self.reference[..i],
            _ => &self.reference,
        };
        format!("{repo}@{}", self.digest)
    }
}

/// The manifest format a fixture is pushed in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushFormat {
    /// As written: OCI manifests, and indexes copied with all their images.
    Oci,
    /// Converted by skopeo to Docker schema 2 (`--format v2s2`), which changes the digest.
    DockerSchema2,
}

/// Copies the image (or index) tagged `layout_tag` in the OCI layout `layout_dir` to
/// `registry/repository_and_tag` with `skopeo copy --preserve-digests --all`, and returns it.
pub fn push_layout(
    registry: &Registry,
    layout_dir: &Path,
    layout_tag: &str,
    repository_and_tag: &str,
) -> Result<ImageRef> {
    push_layout_as(
        registry,
        layout_dir,
        layout_tag,
        repository_and_tag,
        PushFormat::Oci,
    )
}

/// [`push_layout`] in a chosen manifest format.
pub fn push_layout_as(
    registry: &Registry,
    layout_dir: &Path,
    layout_tag: &str,
    repository_and_tag: &str,
    format: PushFormat,
) -> Result<ImageRef> {
    let reference = registry.reference(repository_and_tag);
    let scratch = tempfile::tempdir()?;
    let digest_file = scratch.path().join("digest");
    let mut cmd = Command::new("skopeo");
    cmd.args([
        "--insecure-policy",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
    ])
    .arg("--digestfile")
    .arg(&digest_file);
    if let Some(credentials) = registry.credentials() {
        cmd.arg("--dest-creds").arg(credentials);
    }
    match format {
        PushFormat::Oci => cmd.args(["--all", "--preserve-digests"]),
        PushFormat::DockerSchema2 => cmd.args(["--format", "v2s2"]),
    };
    let output = cmd
        .arg(format!("oci:{}:{layout_tag}", layout_dir.display()))
        .arg(format!("docker://{reference}"))
        .output()
        .context("running skopeo (install it: apt-get install skopeo)")?;
    if !output.status.success() {
        bail!(
            "skopeo copy of {} to {reference} failed: {}",
            layout_dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let digest = std::fs::read_to_string(&digest_file)
        .context("reading the digest skopeo wrote")?
        .trim()
        .to_string();
    Ok(ImageRef { reference, digest })
}

/// Writes a one-off image (see [`crate::layout::write_layout`]) to a temporary OCI layout and
/// pushes it as `registry/repository_and_tag`: the quick way for a test to serve a custom image.
pub fn push_image(
    registry: &Registry,
    layers: &[Layer],
    container_config: serde_json::Value,
    repository_and_tag: &str,
) -> Result<(ImageRef, WrittenImage)> {
    let dir = tempfile::Builder::new()
        .prefix("skiff-testkit-layout-")
        .tempdir()?;
    let written = write_layout(dir.path(), "fixture", layers, container_config)?;
    let pushed = push_layout(registry, dir.path(), "fixture", repository_and_tag)?;
    Ok((pushed, written))
}
