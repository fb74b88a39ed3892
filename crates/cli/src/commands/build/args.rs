//! `skiff build`'s command line as clap reads it, named and shaped as `docker buildx build`'s.
//! Values with a fixed set of spellings are clap `ValueEnum`s and `KEY=VALUE` flags are
//! parsed here into typed pairs, so that everything after this module works on typed values
//! and a malformed value is a usage error naming its flag.

use super::limits::{parse_bytes, parse_ulimit};
use super::pairs::{
    parse_add_host, parse_annotation, parse_build_arg, parse_label, Annotation, BuildArg, Label,
};
use clap::{Args, ValueEnum};
use skiff_engine::{CacheFrom, CacheTo, Mode, Ulimit};
use skiff_image::layer::Compression;
use std::io::IsTerminal;
use std::path::PathBuf;

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
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]", value_parser = parse_build_arg)]
    pub build_args: Vec<BuildArg>,
    /// Target platform (`linux/amd64`), or several separated by commas
    /// (`linux/amd64,linux/arm64`): one image per platform under one image index.
    #[arg(long)]
    pub platform: Option<String>,
    /// Do not use the cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Do not use the cache for these stages.
    #[arg(long = "no-cache-filter")]
    pub no_cache_filter: Vec<String>,
    /// Progress output. Given twice, the last one wins (as with Docker's flags);
    /// `BUILDKIT_PROGRESS` sets the default, as for `docker build`.
    #[arg(long, value_enum, default_value_t = ProgressFlag::Auto, overrides_with = "progress",
          env = "BUILDKIT_PROGRESS")]
    pub progress: ProgressFlag,
    /// Print nothing but errors, and the image ID (`sha256:…` of the config) on success.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Write the image ID (`sha256:…` of the config, as buildx) to this file.
    #[arg(long = "iidfile", value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Write the build's result metadata (JSON with BuildKit's keys: `containerimage.digest`,
    /// `containerimage.config.digest`, `containerimage.descriptor`, `image.name`) to this file.
    #[arg(long = "metadata-file", value_name = "FILE")]
    pub metadata_file: Option<PathBuf>,
    /// Load the image into the local docker daemon (`docker load`), or podman when no docker
    /// daemon answers.
    #[arg(long)]
    pub load: bool,
    /// Resolve every base image against its registry again, even when it is in the store.
    #[arg(long)]
    pub pull: bool,
    /// Add an annotation to the image manifest (`KEY=VALUE` or `manifest:KEY=VALUE`).
    #[arg(long = "annotation", value_name = "[manifest:]KEY=VALUE", value_parser = parse_annotation)]
    pub annotations: Vec<Annotation>,
    /// Size of `/dev/shm` for RUN (bytes, or with a unit: `64m`, `1g`; default 64m).
    #[arg(long = "shm-size", value_name = "BYTES", value_parser = parse_bytes)]
    pub shm_size: Option<u64>,
    /// A resource limit for RUN, as docker's `--ulimit` (`nofile=1024:2048`, `nproc=512`).
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]", value_parser = parse_ulimit)]
    pub ulimits: Vec<Ulimit>,
    /// Output destination (`type=image|registry|oci|docker|local|tar[,dest=…][,name=…]`);
    /// `-t` names are added to the `name=` of image, registry, oci and docker outputs.
    #[arg(short = 'o', long = "output")]
    pub outputs: Vec<String>,
    /// Push the result to its registry (same as `--output type=registry`).
    #[arg(long)]
    pub push: bool,
    /// Set metadata on the image (`KEY=VALUE`).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<Label>,
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
    /// Export the build cache (`type=registry,ref=REG/REPO:TAG[,mode=min|max]
    /// [,compression=gzip|zstd][,ignore-error=true]`, `type=local,dest=DIR` or `type=inline`).
    #[arg(long = "cache-to", value_name = "OPTS", value_parser = parse_cache_to)]
    pub cache_to: Vec<CacheTo>,
    /// Import a build cache (`type=registry,ref=REG/REPO:TAG` or `type=local,src=DIR`);
    /// may be repeated.
    #[arg(long = "cache-from", value_name = "OPTS", value_parser = parse_cache_from)]
    pub cache_from: Vec<CacheFrom>,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionFlag::Gzip)]
    pub compression: CompressionFlag,
    /// Allow RUN an entitlement beyond the sandbox, as buildx's `--allow`: `security.insecure`
    /// for `RUN --security=insecure`, `network.host` for `RUN --network=host` (repeat the flag
    /// or separate with commas).
    #[arg(long = "allow", value_enum, value_delimiter = ',')]
    pub allow: Vec<Entitlement>,
    /// RUN's network where a RUN does not name one: `default` (a network namespace of its
    /// own, outbound access through slirp4netns, the host's loopback out of reach), `none`
    /// (only a loopback) or `host` (the host's; needs `--allow network.host`).
    #[arg(long, value_enum, default_value_t = NetworkFlag::Default)]
    pub network: NetworkFlag,
    /// Add a line to RUN's `/etc/hosts` (`NAME:IP`; may be repeated).
    #[arg(long = "add-host", value_name = "NAME:IP", value_parser = parse_add_host)]
    pub add_hosts: Vec<skiff_engine::ExtraHost>,
    /// Parse and plan only: print the stage graph and exit.
    #[arg(long)]
    pub dry_run: bool,
    /// Run BuildKit's build checks only (no build, no pull); fails when `error=true` finds something.
    #[arg(long, conflicts_with = "dry_run")]
    pub check: bool,
    /// How `--check` prints: text (rustc-style) or json.
    #[arg(long, value_enum, requires = "check")]
    pub format: Option<CheckFormat>,
    /// Verify the final image (its entrypoint, loader and libraries, user, CA certificates)
    /// before it is exported: report problems as warnings, fail the build, or skip it.
    #[arg(long, value_enum, default_value_t = VerifyFlag::Warn)]
    pub verify: VerifyFlag,
    /// The build context: a directory, `-` (a tar archive or a Dockerfile on stdin), a Git
    /// URL (`https://host/repo.git#ref:dir`) or the URL of a tarball.
    #[arg(default_value = ".", value_name = "PATH | URL | -")]
    pub context: PathBuf,
}

impl BuildArgs {
    /// How progress is shown: `-q` wins over `--progress`; `auto` is decided here, by whether
    /// standard error is a terminal.
    pub fn progress_mode(&self) -> Mode {
        if self.quiet {
            return Mode::Quiet;
        }
        match self.progress {
            ProgressFlag::Auto if std::io::stderr().is_terminal() => Mode::Tty,
            ProgressFlag::Auto | ProgressFlag::Plain => Mode::Plain,
            ProgressFlag::Tty => Mode::Tty,
            ProgressFlag::Json | ProgressFlag::Rawjson => Mode::Json,
            ProgressFlag::Quiet => Mode::Quiet,
        }
    }
}

/// `--cache-to` as the engine types it (a malformed value is a usage error).
fn parse_cache_to(text: &str) -> Result<CacheTo, String> {
    text.parse().map_err(|e| format!("{e:#}"))
}

/// `--cache-from` as the engine types it (a malformed value is a usage error).
fn parse_cache_from(text: &str) -> Result<CacheFrom, String> {
    text.parse().map_err(|e| format!("{e:#}"))
}

/// `--progress` values, as buildx spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressFlag {
    /// tty on a terminal, plain otherwise
    Auto,
    /// a live view for terminals
    Tty,
    /// one line per event
    Plain,
    /// one JSON object per line
    Json,
    /// buildx's name for the JSON stream
    Rawjson,
    /// nothing but errors
    Quiet,
}

/// `--compression` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompressionFlag {
    /// what every registry and runtime reads
    Gzip,
    /// faster and smaller; newer clients only
    Zstd,
}

impl From<CompressionFlag> for Compression {
    fn from(flag: CompressionFlag) -> Compression {
        match flag {
            CompressionFlag::Gzip => Compression::Gzip,
            CompressionFlag::Zstd => Compression::Zstd,
        }
    }
}

/// How `--check` prints its results.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFormat {
    /// rustc-style text.
    Text,
    /// One JSON document shaped as BuildKit's lint result.
    Json,
}

/// `--network` values, as buildx spells them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NetworkFlag {
    /// a network namespace of its own, outbound through slirp4netns
    Default,
    /// only a loopback interface
    None,
    /// the host's network (needs --allow network.host)
    Host,
}

impl BuildArgs {
    /// The engine's view of `--network` and `--add-host`.
    pub fn run_network(&self) -> skiff_engine::RunNetwork {
        use skiff_engine::spec::NetworkMode;
        skiff_engine::RunNetwork {
            default: match self.network {
                NetworkFlag::Default => NetworkMode::Default,
                NetworkFlag::None => NetworkMode::None,
                NetworkFlag::Host => NetworkMode::Host,
            },
            extra_hosts: self.add_hosts.clone(),
        }
    }
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

/// `--verify` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum VerifyFlag {
    /// report problems as warnings after the build
    Warn,
    /// fail the build when the final image has a problem
    Error,
    /// do not verify
    Off,
}

impl From<VerifyFlag> for skiff_engine::VerifyMode {
    fn from(flag: VerifyFlag) -> skiff_engine::VerifyMode {
        match flag {
            VerifyFlag::Warn => skiff_engine::VerifyMode::Warn,
            VerifyFlag::Error => skiff_engine::VerifyMode::Error,
            VerifyFlag::Off => skiff_engine::VerifyMode::Off,
        }
    }
}
