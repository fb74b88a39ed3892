//! Typed step specs: every step the cache knows, as a value that says exactly what decides
//! its result. A step's cache key is the canonical serialization of its spec (see
//! [`crate::cachekey`] and `docs/cache-keys.md`), so these types *are* the key format: a
//! field added, removed, renamed or given another meaning changes keys and must bump
//! [`crate::cachekey::KEY_FORMAT_VERSION`].
//!
//! What never enters a spec: secret values, cache-mount contents, the host paths behind
//! mounts and ssh sockets, proxy build args, and anything formatted with `Debug`.

use serde::Serialize;
use skiff_frontend::instructions::{Network, Security};

/// One step, as the cache keys it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepSpec {
    /// `RUN`.
    Run(RunSpec),
    /// `COPY` (`--link` included: see [`CopySpec::link`]).
    Copy(CopySpec),
    /// `ADD`.
    Add(AddSpec),
    /// `WORKDIR`: it creates the directory, so it is a layer step.
    Workdir(WorkdirSpec),
    /// A metadata instruction (`ENV`, `LABEL`, `CMD`, `ARG`, `ONBUILD`, …): it changes the
    /// config only, but every later step's key must follow it.
    Meta(MetaSpec),
    /// The layer of a `COPY --link`/`ADD --link`, without its parent: it can be stacked on
    /// any parent.
    LinkLayer(LinkLayerSpec),
    /// A stage's final state (the target's history times filled in, or not).
    StageResult(StageResultSpec),
    /// The memo of what a `COPY --from` pattern selects in a layer chain (its checksum).
    SourceChecksum(SourceChecksumSpec),
}

/// `RUN` with everything expanded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RunSpec {
    /// The argv run (the shell and its script for the shell form).
    pub argv: Vec<String>,
    /// The environment the command sees from the image and the ARGs in scope, in order,
    /// without proxy ARGs (they may hold credentials and are not keyed, as in Docker).
    pub env: Vec<EnvVar>,
    /// `USER` as written in the config (resolved inside the rootfs when the step runs).
    pub user: String,
    /// The working directory.
    pub workdir: String,
    /// `--network`.
    pub network: NetworkMode,
    /// `--security`.
    pub security: SecurityMode,
    /// `--mount`s in order, then the heredoc script file when there is one.
    pub mounts: Vec<MountSpec>,
    /// The hostname set with the `BUILDKIT_SANDBOX_HOSTNAME` build arg (`None`: the default
    /// `buildkitsandbox`); left out of the serialization when unset, so keys made before it
    /// existed are unchanged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `--shm-size`, when given (BuildKit keys it with the exec op); left out of the key
    /// otherwise, so that keys of builds without it do not change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `--ulimit`s as `NAME=SOFT:HARD`, when given (keyed like `--shm-size`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ulimits: Vec<String>,
    /// `--add-host` entries as `NAME:IP`, when given (BuildKit keys them with the exec op).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
}

/// One environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvVar {
    /// Its name.
    pub name: String,
    /// Its value.
    pub value: String,
}

/// `RUN --network` (or `skiff build --network` for a RUN without one).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// No flag, or `--network=default`: the step's own network namespace.
    #[default]
    Default,
    /// `--network=none`.
    None,
    /// `--network=host`.
    Host,
}

impl NetworkMode {
    /// From the frontend's `--network` (absent: the default).
    pub fn of(flag: Option<Network>) -> NetworkMode {
        match flag {
            None | Some(Network::Default) => NetworkMode::Default,
            Some(Network::None) => NetworkMode::None,
            Some(Network::Host) => NetworkMode::Host,
        }
    }
}

/// `RUN --security`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    /// No flag, or `--security=sandbox`.
    Sandbox,
    /// `--security=insecure`.
    Insecure,
}

impl SecurityMode {
    /// From the frontend's `--security` (absent: the sandbox).
    pub fn of(flag: Option<Security>) -> SecurityMode {
        match flag {
            None | Some(Security::Sandbox) => SecurityMode::Sandbox,
            Some(Security::Insecure) => SecurityMode::Insecure,
        }
    }
}

/// One `RUN --mount`, typed; only what decides the step's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MountSpec {
    /// `type=bind`.
    Bind {
        /// Absolute path in the container.
        target: String,
        /// The path inside the origin (`/` by default).
        source: String,
        /// Where the files come from.
        origin: Origin,
        /// The content of what is mounted: the checksum of the selection in the context (or
        /// named context), or the key of the stage or image it is taken from.
        content: String,
        /// `rw`: the step may write (to a throwaway copy).
        rw: bool,
    },
    /// `type=cache`; its contents are never keyed.
    Cache {
        /// Absolute path in the container.
        target: String,
        /// The cache id (the target when not given).
        id: String,
        /// `sharing`.
        sharing: CacheSharing,
        /// `ro`.
        readonly: bool,
        /// `uid` of a new cache directory.
        uid: Option<u32>,
        /// `gid` of a new cache directory.
        gid: Option<u32>,
        /// `mode` of a new cache directory.
        mode: Option<u32>,
        /// The seed of a new cache (`from` and `source`), as a bind mount's origin and content.
        seed: Option<CacheSeed>,
    },
    /// `type=tmpfs`.
    Tmpfs {
        /// Absolute path in the container.
        target: String,
        /// `size` in bytes.
        size: Option<u64>,
    },
    /// `type=secret`: its value is never keyed, nor whether it was given.
    Secret {
        /// The secret's id.
        id: String,
        /// Where the file appears (none with `env` alone).
        target: Option<String>,
        /// The environment variable it is exposed as.
        env: Option<String>,
        /// `required`.
        required: bool,
        /// `uid` of the file.
        uid: Option<u32>,
        /// `gid` of the file.
        gid: Option<u32>,
        /// `mode` of the file.
        mode: Option<u32>,
    },
    /// `type=ssh`: the agent and its host socket are never keyed.
    Ssh {
        /// The `--ssh` id.
        id: String,
        /// Where the socket appears.
        target: String,
        /// `required`.
        required: bool,
        /// `uid` of the socket.
        uid: u32,
        /// `gid` of the socket.
        gid: u32,
        /// `mode` of the socket.
        mode: u32,
    },
    /// A heredoc script with its own interpreter (`RUN <<EOF` starting with `#!`), mounted
    /// as an executable file.
    Heredoc {
        /// The directory it is mounted in.
        target: String,
        /// The file name (the heredoc's name).
        name: String,
        /// The script.
        content: String,
    },
}

/// `sharing` of a cache mount.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CacheSharing {
    /// Used by every step at once.
    Shared,
    /// A busy cache gives the step a private copy.
    Private,
    /// A busy cache makes the step wait.
    Locked,
}

/// Where the seed of a new cache mount comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CacheSeed {
    /// The path inside the origin.
    pub source: String,
    /// The origin.
    pub origin: Origin,
    /// Its content, as for a bind mount.
    pub content: String,
}

/// Where the files of a bind mount, a cache seed or a COPY come from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "name", rename_all = "snake_case")]
pub enum Origin {
    /// The build context.
    Context,
    /// A `--build-context NAME=DIR` directory.
    NamedContext(String),
    /// Another stage or an image: keyed by content only (the name used to refer to it does
    /// not matter, as in BuildKit).
    Layers,
}

/// `COPY`, expanded, with its sources' content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopySpec {
    /// The sources in order.
    pub sources: Vec<SourceSpec>,
    /// The absolute destination (a trailing `/` kept: it makes it a directory).
    pub dest: String,
    /// Where path sources come from.
    pub origin: Origin,
    /// `--chown` as written (`--link`: as numeric `uid:gid`).
    pub chown: Option<String>,
    /// `--chmod` as written.
    pub chmod: Option<String>,
    /// `--link` in effect (not with `--chmod`, as BuildKit).
    pub link: bool,
    /// `--exclude` patterns in order.
    pub excludes: Vec<String>,
    /// `--parents`.
    pub parents: bool,
}

/// `ADD`: a COPY with its download and archive options.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddSpec {
    /// What it shares with COPY.
    #[serde(flatten)]
    pub copy: CopySpec,
    /// `--unpack`.
    pub unpack: Unpack,
    /// `--checksum` as written.
    pub checksum: Option<String>,
    /// `--keep-git-dir`.
    pub keep_git_dir: bool,
}

/// `ADD --unpack`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unpack {
    /// No flag: local archives are extracted, downloads are not.
    Auto,
    /// `--unpack=true`: downloads too.
    Always,
    /// `--unpack=false`: nothing.
    Never,
}

impl Unpack {
    /// From the frontend's `Option<bool>`.
    pub fn from_flag(flag: Option<bool>) -> Unpack {
        match flag {
            None => Unpack::Auto,
            Some(true) => Unpack::Always,
            Some(false) => Unpack::Never,
        }
    }
}

/// One source of a COPY/ADD, by content.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceSpec {
    /// A path or pattern in the origin, with the checksum of what it selects.
    Path {
        /// As written.
        pattern: String,
        /// `sha256:…` of the selection's paths, types, modes, owners (kept ones), link
        /// targets and contents (never times).
        checksum: String,
    },
    /// An HTTP(S) download.
    Url {
        /// The URL.
        url: String,
        /// The file name it is saved as.
        name: String,
        /// `sha256:…` of the bytes.
        digest: String,
        /// `Last-Modified` as Unix seconds (it becomes the file's time), 0 when absent.
        last_modified: i64,
    },
    /// A git checkout.
    Git {
        /// The remote fetched.
        remote: String,
        /// The commit checked out.
        commit: String,
        /// The subdirectory copied, if any.
        subdir: Option<String>,
        /// `--keep-git-dir`.
        keep_git_dir: bool,
    },
    /// A heredoc.
    Inline {
        /// File name.
        name: String,
        /// Contents.
        content: String,
    },
}

/// `WORKDIR`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WorkdirSpec {
    /// The resolved absolute directory.
    pub path: String,
    /// The `USER` that owns it when it is created.
    pub user: String,
}

/// A metadata instruction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetaSpec {
    /// The instruction (`ENV`, `LABEL`, …).
    pub instruction: String,
    /// BuildKit's history text of it (Go-formatted, canonical: it holds the whole change,
    /// e.g. `ENV A=1 B=2`, `CMD ["a" "b"]`).
    pub change: String,
}

/// A `--link` layer: the copy's own spec and the time its files are clamped to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LinkLayerSpec {
    /// The `COPY`/`ADD` spec (with `link: true`).
    pub copy: Box<StepSpec>,
    /// The layer's mtime clamp (`SOURCE_DATE_EPOCH`, or the logical clock of its depth).
    pub mtime_clamp: i64,
}

/// A stage's final state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StageResultSpec {
    /// The build's target (its history times are filled in) or an intermediate stage.
    pub target: bool,
}

/// What a `COPY --from` pattern selects in a chain of layers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceChecksumSpec {
    /// The layer chain's digests, bottom first.
    pub layers: Vec<String>,
    /// The pattern.
    pub pattern: String,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
}

/// How a layer step's layers are written: part of its key, so a result is only reused for a
/// build that writes layers the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct LayerFormat {
    /// The layers' compression.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: file times in layers (and history times) are clamped to it.
    pub source_date_epoch: Option<i64>,
}

/// A layer compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// `application/vnd.oci.image.layer.v1.tar+gzip`.
    Gzip,
    /// `application/vnd.oci.image.layer.v1.tar+zstd`.
    Zstd,
    /// `application/vnd.oci.image.layer.v1.tar`.
    Uncompressed,
}

impl LayerFormat {
    /// The format [`crate::layer_options::LayerOptions`] writes.
    pub fn of(opts: &crate::layer_options::LayerOptions) -> LayerFormat {
        LayerFormat {
            compression: match opts.compression {
                skiff_image::layer::Compression::Gzip => Compression::Gzip,
                skiff_image::layer::Compression::Zstd => Compression::Zstd,
                skiff_image::layer::Compression::Uncompressed => Compression::Uncompressed,
            },
            source_date_epoch: opts.source_date_epoch,
        }
    }
}
