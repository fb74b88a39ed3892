//! `--load`: the finished image handed to the local container engine's image store, as
//! buildx's `--load` does: a docker archive piped into `docker load` when a docker client and
//! its daemon answer (`DOCKER_HOST` honoured, since the client reads it), else `podman load`.

use anyhow::{bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_image::export::{write_docker_archive, Destination};
use skiff_image::Store;
use std::process::{Command, Stdio};

/// Loads the image `manifest`, tagged `names`, into docker or podman; returns what the
/// summary says about it (`loaded into docker: Loaded image: app:1`).
pub fn load(store: &Store, manifest: &Descriptor, names: &[String]) -> Result<String> {
    let Some(tool) = ["docker", "podman"].into_iter().find(|t| answers(t)) else {
        bail!(
            "--load: neither a docker daemon (`docker version` failed: is dockerd running, \
             is DOCKER_HOST right?) nor podman answers; export with --output \
             type=docker,dest=FILE instead and load that file later"
        );
    };
    let archive = std::env::temp_dir().join(format!("skiff-load-{}.tar", std::process::id()));
    let written = write_docker_archive(store, manifest, names, &Destination::File(archive.clone()));
    let loaded = written.and_then(|()| {
        Command::new(tool)
            .arg("load")
            .arg("-i")
            .arg(&archive)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {tool} load"))
    });
    std::fs::remove_file(&archive).ok();
    let out = loaded.context("--load")?;
    if !out.status.success() {
        bail!(
            "--load: {tool} load failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let said = String::from_utf8_lossy(&out.stdout);
    Ok(format!(
        "loaded into {tool}: {}",
        said.lines().collect::<Vec<_>>().join("; ")
    ))
}

/// Whether `tool`'s engine answers: docker's daemon (`docker version` fails without it) or
/// podman (daemonless).
fn answers(tool: &str) -> bool {
    let mut cmd = Command::new(tool);
    match tool {
        "docker" => cmd.args(["version", "--format", "{{.Server.Version}}"]),
        _ => cmd.args(["version"]),
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
