//! `skiff build`: the `docker build` interface.

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
    /// Allow RUN an entitlement beyond the sandbox, as buildx's `--allow`: `security.insecure`
    /// for `RUN --security=insecure`, `network.host` for `RUN --network=host` (repeat the flag
    /// or separate with commas).
    #[arg(long = "allow", value_enum, value_delimiter = ',')]
    pub allow: Vec<Entitlement>,
    /// Parse and plan only: print the stage graph and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// The build context directory.
    #[arg(default_value = ".")]
    pub context: PathBuf,
}

/// An entitlement `--allow` grants (buildx's names; its `device` is not offered, since skiff
/// does not support `RUN --device`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entitlement {
    /// `RUN --network=host`.
    #[value(name = "network.host")]
    NetworkHost,
    /// `RUN --security=insecure`.
    #[value(name = "security.insecure")]
    SecurityInsecure,
}

impl BuildArgs {
    /// The engine's view of `--allow`.
    pub fn entitlements(&self) -> skiff_engine::Entitlements {
        skiff_engine::Entitlements {
            network_host: self.allow.contains(&Entitlement::NetworkHost),
            security_insecure: self.allow.contains(&Entitlement::SecurityInsecure),
        }
    }
}

/// Runs `skiff build`.
pub fn run(ctx: &Context, args: BuildArgs) -> anyhow::Result<ExitCode> {
    if args.dry_run {
        return dry_run::run(&args);
    }
    super::build_exec::execute(ctx, args)
}
