//! The builders compared, behind one interface: skiff (the binary under test, a store of its
//! own) and BuildKit (a private dockerd 20.10, `DOCKER_BUILDKIT=1 docker build`).
//!
//! Both pull the same base images from the same local registry. [`Builder::reset`] empties a
//! builder's build cache and cache mounts but leaves the bases pulled and unpacked, so that a
//! cold build measures building, not pulling: each builder builds a one-step priming
//! Dockerfile (`FROM <base>` + `RUN true`) per base after the reset, untimed.

use crate::dockerd::Dockerd;
use crate::project::BuiltImage;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// One builder under measurement.
pub trait Builder {
    /// The short name used in the table and the JSON (`skiff`, `buildkit`).
    fn name(&self) -> &'static str;

    /// Empties the build cache (and cache mounts); the bases stay pulled and unpacked.
    fn reset(&mut self) -> Result<()>;

    /// Builds `dockerfile` (a path relative to `context`) as `tag`, with the workloads'
    /// `REGISTRY` build argument; returns how long the build took. Fails with the build's
    /// log when it fails.
    fn build(&mut self, context: &Path, dockerfile: &str, tag: &str) -> Result<Duration>;

    /// The image the last [`Builder::build`] of `tag` produced, read back with code
    /// independent of skiff ([`BuiltImage`]). Not timed.
    fn image(&mut self, context: &Path, dockerfile: &str, tag: &str) -> Result<BuiltImage>;

    /// Builds `dockerfile` and exports its build cache to the registry reference `cache`, the
    /// way each builder can: skiff with `--cache-to type=registry,mode=max,cache-mounts=true`,
    /// dockerd 20.10's BuildKit with its inline cache (`BUILDKIT_INLINE_CACHE=1`, the image
    /// pushed as `cache`). Not timed.
    fn export_cache(&mut self, context: &Path, dockerfile: &str, cache: &str) -> Result<()>;

    /// [`Builder::build`] with the cache exported to `cache` imported (`--cache-from`); the
    /// next [`Builder::image`] imports it too, until the next [`Builder::reset`].
    fn build_from_cache(
        &mut self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        cache: &str,
    ) -> Result<Duration>;

    /// The builder's version, for the report.
    fn version(&self) -> String;
}

/// What both builders need to know about the bases.
#[derive(Debug, Clone)]
pub struct BaseImages {
    /// `127.0.0.1:PORT`, passed as `--build-arg REGISTRY=…`.
    pub registry: String,
    /// The base images' full references in that registry.
    pub references: Vec<String>,
}

impl BaseImages {
    fn registry_arg(&self) -> String {
        format!("REGISTRY={}", self.registry)
    }

    /// Writes one priming context per base under `dir` (`FROM <base>` + `RUN true`) and
    /// returns their paths.
    fn priming_contexts(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        self.references
            .iter()
            .enumerate()
            .map(|(i, reference)| {
                let context = dir.join(format!("prime-{i}"));
                std::fs::create_dir_all(&context)?;
                std::fs::write(
                    context.join("Dockerfile"),
                    format!("FROM {reference}\nRUN true\n"),
                )?;
                Ok(context)
            })
            .collect()
    }
}

/// skiff, with its store under the benchmark's work directory (a fresh store per reset).
pub struct Skiff {
    bin: PathBuf,
    store: PathBuf,
    work: PathBuf,
    bases: BaseImages,
    /// The `--cache-from` of the last [`Builder::build_from_cache`], for reading its image.
    cache_from: Option<String>,
}

impl Skiff {
    /// skiff at `bin`, keeping its store and scratch files under `work`.
    pub fn new(bin: &Path, work: &Path, bases: BaseImages) -> Result<Skiff> {
        let work = work.join("skiff");
        std::fs::create_dir_all(&work)?;
        Ok(Skiff {
            bin: bin.to_path_buf(),
            store: work.join("store"),
            work,
            bases,
            cache_from: None,
        })
    }

    fn skiff(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--root").arg(&self.store);
        cmd
    }
}

/// Runs `cmd`, which must succeed; `what` names it in the error, with its output.
fn run_ok(mut cmd: Command, what: &str) -> Result<Output> {
    let output = cmd
        .output()
        .with_context(|| format!("{what}: could not start {cmd:?}"))?;
    if !output.status.success() {
        bail!(
            "{what} failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

impl Builder for Skiff {
    fn name(&self) -> &'static str {
        "skiff"
    }

    fn reset(&mut self) -> Result<()> {
        self.cache_from = None;
        if self.store.exists() {
            std::fs::remove_dir_all(&self.store)
                .with_context(|| format!("removing skiff's store {}", self.store.display()))?;
        }
        for reference in &self.bases.references {
            let mut pull = self.skiff();
            pull.args(["pull", reference]);
            run_ok(pull, &format!("skiff pull {reference}"))?;
        }
        for context in self.bases.priming_contexts(&self.work)? {
            let mut build = self.skiff();
            build.args(["build", "--progress=plain"]).arg(&context);
            run_ok(build, "skiff's priming build")?;
        }
        Ok(())
    }

    fn build(&mut self, context: &Path, dockerfile: &str, tag: &str) -> Result<Duration> {
        let mut cmd = self.skiff();
        cmd.args(["build", "--progress=plain", "-t", tag])
            .args(["--build-arg", &self.bases.registry_arg()])
            .arg("-f")
            .arg(context.join(dockerfile))
            .arg(context);
        let start = Instant::now();
        run_ok(cmd, &format!("skiff build of {tag}"))?;
        Ok(start.elapsed())
    }

    fn image(&mut self, context: &Path, dockerfile: &str, tag: &str) -> Result<BuiltImage> {
        // The same build again, fully cached, exported as an OCI archive to read it back.
        let archive = self.work.join("image.tar");
        let mut cmd = self.skiff();
        cmd.args(["build", "--progress=quiet", "-t", tag])
            .args(["--build-arg", &self.bases.registry_arg()])
            .arg("-f")
            .arg(context.join(dockerfile))
            .arg("-o")
            .arg(format!("type=oci,dest={}", archive.display()))
            .arg(context);
        if let Some(cache) = &self.cache_from {
            cmd.args(["--cache-from", cache]);
        }
        run_ok(cmd, &format!("skiff export of {tag}"))?;
        let image = BuiltImage::open(&archive);
        std::fs::remove_file(&archive).ok();
        image
    }

    fn export_cache(&mut self, context: &Path, dockerfile: &str, cache: &str) -> Result<()> {
        let mut cmd = self.skiff();
        cmd.args(["build", "--progress=plain"])
            .args(["--build-arg", &self.bases.registry_arg()])
            .arg("--cache-to")
            .arg(format!(
                "type=registry,ref={cache},mode=max,cache-mounts=true"
            ))
            .arg("-f")
            .arg(context.join(dockerfile))
            .arg(context);
        run_ok(cmd, &format!("skiff's cache export to {cache}"))?;
        Ok(())
    }

    fn build_from_cache(
        &mut self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        cache: &str,
    ) -> Result<Duration> {
        let from = format!("type=registry,ref={cache}");
        let mut cmd = self.skiff();
        cmd.args(["build", "--progress=plain", "-t", tag])
            .args(["--build-arg", &self.bases.registry_arg()])
            .args(["--cache-from", &from])
            .arg("-f")
            .arg(context.join(dockerfile))
            .arg(context);
        self.cache_from = Some(from);
        let start = Instant::now();
        run_ok(cmd, &format!("skiff build of {tag} from {cache}"))?;
        Ok(start.elapsed())
    }

    fn version(&self) -> String {
        let mut cmd = Command::new(&self.bin);
        cmd.arg("--version");
        run_ok(cmd, "skiff --version")
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"))
    }
}

/// BuildKit in a private dockerd (`DOCKER_BUILDKIT=1 /usr/bin/docker build --network host`).
pub struct Buildkit {
    dockerd: Dockerd,
    work: PathBuf,
    bases: BaseImages,
    /// Tags built since the last reset, removed by the next one.
    tags: Vec<String>,
}

impl Buildkit {
    /// Starts the daemon and pulls the bases into its image store.
    pub fn start(work: &Path, bases: BaseImages) -> Result<Buildkit> {
        let dockerd = Dockerd::start()?;
        for reference in &bases.references {
            dockerd.run(&["pull", "-q", reference])?;
        }
        let work = work.join("buildkit");
        std::fs::create_dir_all(&work)?;
        Ok(Buildkit {
            dockerd,
            work,
            bases,
            tags: Vec::new(),
        })
    }
}

impl Builder for Buildkit {
    fn name(&self) -> &'static str {
        "buildkit"
    }

    fn reset(&mut self) -> Result<()> {
        for tag in std::mem::take(&mut self.tags) {
            self.dockerd.run(&["image", "rm", "-f", &tag])?;
        }
        // Every build cache record and cache mount; the pulled bases stay in the image store.
        self.dockerd.run(&["builder", "prune", "-af"])?;
        for context in self.bases.priming_contexts(&self.work)? {
            self.dockerd.build(&context, &[], "skiff-bench/prime")?;
        }
        Ok(())
    }

    fn build(&mut self, context: &Path, dockerfile: &str, tag: &str) -> Result<Duration> {
        let file = context.join(dockerfile);
        let file = file.to_string_lossy();
        let arg = self.bases.registry_arg();
        let start = Instant::now();
        self.dockerd
            .build(context, &["-f", &file, "--build-arg", &arg], tag)
            .with_context(|| format!("BuildKit build of {tag}"))?;
        let elapsed = start.elapsed();
        if !self.tags.iter().any(|t| t == tag) {
            self.tags.push(tag.to_string());
        }
        Ok(elapsed)
    }

    fn image(&mut self, _context: &Path, _dockerfile: &str, tag: &str) -> Result<BuiltImage> {
        self.dockerd.built_image(tag)
    }

    fn export_cache(&mut self, context: &Path, dockerfile: &str, cache: &str) -> Result<()> {
        let file = context.join(dockerfile);
        let file = file.to_string_lossy();
        let arg = self.bases.registry_arg();
        let inline = ["--build-arg", "BUILDKIT_INLINE_CACHE=1"];
        let mut args = vec!["-f", &file, "--build-arg", &arg];
        args.extend(inline);
        self.dockerd.build(context, &args, cache)?;
        self.tags.push(cache.to_string());
        self.dockerd.run(&["push", cache])?;
        Ok(())
    }

    fn build_from_cache(
        &mut self,
        context: &Path,
        dockerfile: &str,
        tag: &str,
        cache: &str,
    ) -> Result<Duration> {
        let file = context.join(dockerfile);
        let file = file.to_string_lossy();
        let arg = self.bases.registry_arg();
        let start = Instant::now();
        self.dockerd
            .build(
                context,
                &["-f", &file, "--build-arg", &arg, "--cache-from", cache],
                tag,
            )
            .with_context(|| format!("BuildKit build of {tag} from {cache}"))?;
        let elapsed = start.elapsed();
        self.tags.push(tag.to_string());
        Ok(elapsed)
    }

    fn version(&self) -> String {
        self.dockerd
            .run(&["version", "--format", "dockerd {{.Server.Version}}"])
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|e| format!("unknown ({e})"))
    }
}
