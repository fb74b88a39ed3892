//! `skiff build`: the `docker build` interface.

mod check;
mod dry_run;

use super::Context;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// Flags of `skiff build`, named and shaped as `docker build`'s.
#[derive(Args, Debug)]
pub struct BuildArgs {
    /// Name and optionally a tag (`name:tag`); may be repeated.
    #[arg(short = 't', long = "tag")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: `CONTEXT/Dockerfile`; `-` reads stdin).
    #[arg(short = 'f', long = "file")]
    pub file: Option<PathBuf>,
    /// Build up to this stage.
    #[arg(long)]
    pub target: Option<String>,
    /// Set a build-time variable (`KEY=VALUE`, or `KEY` to take it from the environment).
    #[arg(long = "build-arg")]
    pub build_args: Vec<String>,
    /// Target platform (`linux/amd64`).
    #[arg(long)]
    pub platform: Option<String>,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not use the cache for these stages.
    #[arg(long = "no-cache-filter")]
    pub no_cache_filter: Vec<String>,
    /// Progress output: auto (tty on a terminal, plain otherwise), tty, plain, json, quiet.
    /// Given twice, the last one wins (as with Docker's flags); `BUILDKIT_PROGRESS` sets the
    /// default, as for `docker build`.
    #[arg(long, default_value = "auto", overrides_with = "progress", env = "BUILDKIT_PROGRESS",
          value_parser = ["auto", "tty", "plain", "json", "rawjson", "quiet"])]
    pub progress: String,
    /// Print nothing but errors, and the image digest on success (`--progress=quiet`).
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Output destination (`type=image|registry|oci|docker|local|tar[,dest=…]`).
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Push the result to its registry (same as `--output type=registry`).
    #[arg(long)]
    pub push: bool,
    /// Set metadata on the image (`KEY=VALUE`).
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// Secret for `RUN --mount=type=secret` (`id=…,src=…` or `id=…,env=…`).
    #[arg(long = "secret")]
    pub secrets: Vec<String>,
    /// SSH agent for `RUN --mount=type=ssh` (`default|ID[=SOCKET|KEY_FILE[,KEY_FILE…]]`;
    /// no value: `$SSH_AUTH_SOCK`).
    #[arg(long = "ssh")]
    pub ssh: Vec<String>,
    /// Additional build context (`NAME=PATH|docker-image://REF|oci-layout://PATH[:TAG]`).
    #[arg(long = "build-context")]
    pub build_contexts: Vec<String>,
    /// Registries reached over plain HTTP.
    #[arg(long = "insecure-registry")]
    pub insecure_registries: Vec<String>,
    /// The OCI runtime for RUN (`runc`, `crun` or a path; default: the first that works).
    #[arg(long)]
    pub runtime: Option<String>,
    /// Layer compression: gzip or zstd.
    #[arg(long, default_value = "gzip", value_parser = ["gzip", "zstd"])]
    pub compression: String,
    /// Parse and plan only: print the stage graph and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Run BuildKit's build checks only (no build, no pull); fails when `error=true` finds something.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// How `--check` prints: text (rustc-style) or json.
    #[arg(long, value_enum, requires = "check")]
    pub format: Option<check::CheckFormat>,
    /// The build context directory.
    #[arg(default_value = ".")]
    pub context: PathBuf,
}

/// Runs `skiff build`.
pub fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitCode> {
    if args.dry_run {
        return dry_run::run(&args);
    }
    if args.check {
        return check::run(&check::request(&args)?);
    }
    super::build_exec::execute(ctx, args)
}
