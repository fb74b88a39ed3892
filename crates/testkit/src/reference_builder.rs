//! BuildKit as the reference builder of differential tests, and a local registry holding the
//! busybox fixture, the base both builders start from (`ARG BASE` / `FROM ${BASE}`, given as
//! `--build-arg BASE=127.0.0.1:PORT/…`).
//!
//! Two references, chosen with `SKIFF_REFERENCE`:
//!
//! - `dockerd` (the default, what CI runs): a private dockerd 20.10 ([`Dockerd`]) with its
//!   built-in BuildKit 0.8 (`DOCKER_BUILDKIT=1`), read back with `docker save`;
//! - `buildkit`: the current BuildKit (v0.26) of `../shared/reference-buildkit/buildkit`
//!   (beside the repository; `SKIFF_REFERENCE_BUILDKIT` names another script), which must
//!   already run (`… buildkit start`), built with `buildctl build` and read back from its
//!   `-o type=oci` archive. By hand only: it needs a clone of moby/buildkit to set up.
//!
//! Both take the same `docker build`-style flags ([`ReferenceBuilder::build`]); for `buildctl`
//! they are translated ([`buildctl_args`]).

use crate::busybox::busybox_image;
use crate::dockerd::Dockerd;
use crate::project::BuiltImage;
use crate::registry::Registry;
use crate::tools::require_tool;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The environment variable that picks the reference builder (`dockerd` or `buildkit`).
pub const REFERENCE_ENV: &str = "SKIFF_REFERENCE";

/// The environment variable naming the reference BuildKit's script, when not the default.
pub const BUILDKIT_SCRIPT_ENV: &str = "SKIFF_REFERENCE_BUILDKIT";

/// Which BuildKit the differences are measured against: some behaviours changed since 20.10,
/// so a test tells which differences it expects from which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReferenceKind {
    /// dockerd 20.10's built-in BuildKit 0.8 (CI's reference).
    Dockerd2010,
    /// The current BuildKit (v0.26) of `../shared/reference-buildkit/`.
    CurrentBuildKit,
}

/// The process that builds: a private daemon, or the script driving the shared buildkitd.
enum Backend {
    Dockerd(Dockerd),
    BuildKit(PathBuf),
}

/// A reference builder and the registry its builds pull the busybox base from; both stopped
/// on drop (the shared buildkitd keeps running: it is not ours).
pub struct ReferenceBuilder {
    backend: Backend,
    /// The busybox fixture's reference in the registry (`127.0.0.1:PORT/testkit/busybox:latest`).
    pub base: String,
    _registry: Registry,
}

impl ReferenceBuilder {
    /// Starts the registry and the reference builder `SKIFF_REFERENCE` names (dockerd by
    /// default), or returns `None` (the test is skipped) when runc, the registry or docker.io
    /// is missing; in CI a missing tool panics instead. With `SKIFF_REFERENCE=buildkit` a
    /// missing or stopped reference BuildKit panics: it was asked for by hand.
    pub fn start_or_skip() -> Option<ReferenceBuilder> {
        if !require_tool("runc") {
            return None;
        }
        let backend = match std::env::var(REFERENCE_ENV).as_deref() {
            Ok("buildkit") => Backend::BuildKit(
                buildkit_script().unwrap_or_else(|e| panic!("{REFERENCE_ENV}=buildkit: {e:#}")),
            ),
            Ok("dockerd") | Ok("") | Err(_) => Backend::Dockerd(Dockerd::start_or_skip()?),
            Ok(other) => panic!("{REFERENCE_ENV}={other}: expected dockerd or buildkit"),
        };
        let registry = Registry::start_or_skip()?;
        let base = busybox_image(&registry)
            .expect("pushing the busybox fixture")
            .reference;
        Some(ReferenceBuilder {
            backend,
            base,
            _registry: registry,
        })
    }

    /// Which BuildKit this is.
    pub fn kind(&self) -> ReferenceKind {
        match self.backend {
            Backend::Dockerd(_) => ReferenceKind::Dockerd2010,
            Backend::BuildKit(_) => ReferenceKind::CurrentBuildKit,
        }
    }

    /// A short name for messages: `dockerd 20.10` or `BuildKit v0.26`.
    pub fn name(&self) -> &'static str {
        match self.kind() {
            ReferenceKind::Dockerd2010 => "dockerd 20.10",
            ReferenceKind::CurrentBuildKit => "BuildKit v0.26",
        }
    }

    /// `--build-arg BASE=<base>`: the first arguments of both builders' builds.
    pub fn base_args(&self) -> Vec<String> {
        vec!["--build-arg".to_string(), format!("BASE={}", self.base)]
    }

    /// Builds `CONTEXT/Dockerfile` with `docker build`-style ARGS and reads the image back:
    /// `docker build -t TAG` then `docker save`, or `buildctl build -o type=oci` (TAG unused).
    pub fn build(&self, context: &Path, args: &[&str], tag: &str) -> Result<BuiltImage> {
        match &self.backend {
            Backend::Dockerd(dockerd) => {
                dockerd.build(context, args, tag)?;
                dockerd.built_image(tag)
            }
            Backend::BuildKit(script) => build_with_buildctl(script, context, args),
        }
    }
}

/// The reference BuildKit's script, checked to be there and to answer.
fn buildkit_script() -> Result<PathBuf> {
    let script = match std::env::var_os(BUILDKIT_SCRIPT_ENV) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/reference-buildkit/buildkit"),
    };
    if !script.is_file() {
        bail!(
            "no reference BuildKit script at {} (set {BUILDKIT_SCRIPT_ENV})",
            script.display()
        );
    }
    let out = Command::new(&script)
        .args(["buildctl", "debug", "workers"])
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "the reference buildkitd does not answer (start it: {} start): {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(script)
}

/// `SCRIPT build -o type=oci,dest=… CONTEXT BUILDCTL-ARGS`, read back as a [`BuiltImage`].
fn build_with_buildctl(script: &Path, context: &Path, args: &[&str]) -> Result<BuiltImage> {
    // Under /tmp: the script binds /tmp and /var/tmp into its chroot at the same paths.
    let out = tempfile::Builder::new()
        .prefix("skiff-reference-buildkit-")
        .tempdir_in("/tmp")?;
    let dest = out.path().join("image.tar");
    let mut cmd = Command::new(script);
    cmd.arg("build")
        .arg("-o")
        .arg(format!("type=oci,dest={}", dest.display()))
        .arg(context)
        .args(buildctl_args(args)?);
    let output = cmd
        .output()
        .with_context(|| format!("running {}", script.display()))?;
    if !output.status.success() {
        bail!(
            "buildctl build failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    BuiltImage::open(&dest)
}

/// `docker build` flags as `buildctl build` flags: `--build-arg K=V` → `--opt build-arg:K=V`,
/// `--target`, `--label`, `--platform` as frontend options, `--build-context NAME=DIR` as a
/// local source named NAME (`--opt context:NAME=local:NAME`), other contexts as they are.
pub fn buildctl_args(args: &[&str]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (*flag, None),
        };
        if flag == "--no-cache" {
            out.push("--no-cache".to_string());
            continue;
        }
        let mut value = || -> Result<String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .map(|v| v.to_string())
                    .with_context(|| format!("{flag} needs a value")),
            }
        };
        let opt = match flag {
            "--build-arg" => format!("build-arg:{}", value()?),
            "--target" => format!("target={}", value()?),
            "--label" => format!("label:{}", value()?),
            "--platform" => format!("platform={}", value()?),
            "--build-context" => {
                let v = value()?;
                let (name, source) = v
                    .split_once('=')
                    .with_context(|| format!("--build-context {v}: expected NAME=VALUE"))?;
                if source.contains("://") {
                    format!("context:{name}={source}")
                } else {
                    out.extend(["--local".to_string(), format!("{name}={source}")]);
                    format!("context:{name}=local:{name}")
                }
            }
            "--secret" => {
                out.extend(["--secret".to_string(), value()?]);
                continue;
            }
            other => bail!("the buildctl reference does not know the flag {other}"),
        };
        out.extend(["--opt".to_string(), opt]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::buildctl_args;

    #[test]
    fn docker_flags_become_buildctl_options() {
        let args = buildctl_args(&[
            "--build-arg",
            "A=1",
            "--target=t",
            "--label",
            "k=v",
            "--build-context",
            "ctx=/tmp/d",
            "--build-context",
            "img=docker-image://scratch",
            "--no-cache",
        ])
        .unwrap();
        assert_eq!(
            args,
            [
                "--opt",
                "build-arg:A=1",
                "--opt",
                "target=t",
                "--opt",
                "label:k=v",
                "--local",
                "ctx=/tmp/d",
                "--opt",
                "context:ctx=local:ctx",
                "--opt",
                "context:img=docker-image://scratch",
                "--no-cache"
            ]
        );
        assert!(buildctl_args(&["--pull"]).is_err());
    }
}
