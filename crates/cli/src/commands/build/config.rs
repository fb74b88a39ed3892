//! The one conversion of `skiff build`'s flags into typed values: engine options, outputs and
//! the store. A build and `--dry-run` both start from a [`BuildConfig`], so they read the
//! same Dockerfile with the same build args, platform and checks.

use super::args::BuildArgs;
use super::context_source::{self, ContextSource, Materialized};
use super::results::ResultFiles;
use super::{inputs, outputs};
use anyhow::{bail, Context as _, Result};
use skiff_engine::LayerOptions;
use skiff_engine::{BuildOptions, Platform};
use skiff_image::export::Output;
use std::path::PathBuf;

/// Everything a build was asked for, checked and typed.
#[derive(Debug)]
pub struct BuildConfig {
    /// What the engine builds.
    pub options: BuildOptions,
    /// `--platform`'s platforms: none (the host's), one, or several (an image index).
    pub platforms: Vec<Platform>,
    /// Where the result goes, names applied.
    pub outputs: Vec<Output>,
    /// The store directory.
    pub store_root: PathBuf,
    /// `--iidfile` and `--metadata-file`.
    pub results: ResultFiles,
    /// `--load`: the image goes into docker's (or podman's) image store too.
    pub load: bool,
    /// The temporary directory of a stdin, Git or URL context: held so that it is removed
    /// when the build is over.
    _context_dir: Option<context_source::Kept>,
}

impl BuildConfig {
    /// Converts the flags; the first malformed or unreadable input is the error.
    pub fn from_args(args: BuildArgs, store_root: PathBuf) -> Result<BuildConfig> {
        let source = context_source::materialize(ContextSource::parse(&args.context), &store_root)?;
        let context = inputs::context_dir(&source.dir)?;
        let (dockerfile_path, dockerfile) = dockerfile_of(&source, &args)?;
        let outputs = outputs::plan(&args.outputs, &args.tags, args.push)?;
        let platforms = parse_platforms(args.platform.as_deref())?;
        if platforms.len() > 1 {
            for output in &outputs {
                skiff_image::export::refuse_index(output)?;
            }
            if args.load {
                anyhow::bail!(
                    "--load cannot load several platforms (docker's image store takes one image \
                     per name; buildx refuses it too): push with --push, or write type=oci"
                );
            }
        }
        let allow = args.entitlements();
        let network = args.run_network();
        let load = args.load;
        let results = ResultFiles::of(&args);
        let build_args: Vec<(String, String)> = args
            .build_args
            .into_iter()
            .filter_map(|a| Some((a.name, a.value?)))
            .collect();
        let source_date_epoch = inputs::source_date_epoch(&build_args)?;
        let options = BuildOptions {
            context,
            dockerfile_path,
            dockerfile,
            target: args.target,
            build_args,
            // A list is planned (and checked) for its first platform; `platforms` has them all.
            platform: platforms.first().cloned(),
            no_cache: args.no_cache,
            no_cache_filter: args.no_cache_filter,
            labels: args.labels.into_iter().map(|l| (l.key, l.value)).collect(),
            secrets: args
                .secrets
                .iter()
                .map(|s| inputs::parse_secret(s))
                .collect::<Result<_>>()?,
            ssh: args
                .ssh
                .iter()
                .map(|s| skiff_engine::SshAgent::parse(s))
                .collect::<Result<_>>()?,
            named_contexts: last_of_each_name(
                args.build_contexts
                    .iter()
                    .map(|c| inputs::parse_named_context(c))
                    .collect::<Result<_>>()?,
            ),
            insecure_registries: args.insecure_registries,
            runtime: args.runtime,
            verify: args.verify.into(),
            layer: LayerOptions {
                compression: args.compression.into(),
                source_date_epoch,
            },
            allow,
            network,
            cache_from: args.cache_from,
            cache_to: args.cache_to,
            limits: skiff_engine::RunLimits {
                shm_size: args.shm_size,
                ulimits: args.ulimits,
            },
            pull: args.pull,
            annotations: (args.annotations.into_iter())
                .map(|a| (a.key, a.value))
                .collect(),
        };
        Ok(BuildConfig {
            options,
            platforms,
            outputs,
            store_root,
            results,
            load,
            _context_dir: source.temp,
        })
    }

    /// The names the image is given (`-t` tags normalised, outputs' `name=`), in order and
    /// without duplicates: `--load` tags it so, `--metadata-file` lists them as `image.name`.
    pub fn image_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for output in &self.outputs {
            if let Output::Image { names: n, .. }
            | Output::Docker { names: n, .. }
            | Output::Oci { names: n, .. } = output
            {
                for name in n {
                    if !names.contains(name) {
                        names.push(name.clone());
                    }
                }
            }
        }
        names
    }

    /// Whether an output streams to standard output (then the digest is not printed there).
    pub fn writes_to_stdout(&self) -> bool {
        self.outputs.iter().any(outputs::writes_to_stdout)
    }
}

/// The Dockerfile: the text read in place of a context (`-` or a URL holding one), `-f` inside
/// a remote context, or `-f`/`CONTEXT/Dockerfile` as for a local one.
fn dockerfile_of(source: &Materialized, args: &BuildArgs) -> Result<(PathBuf, String)> {
    let stdin_file = args.file.as_deref().is_some_and(|f| f.as_os_str() == "-");
    match &source.dockerfile {
        Some(_) if stdin_file => bail!(
            "the context and the Dockerfile cannot both come from standard input: give the \
             Dockerfile with -f FILE, or the context as a directory"
        ),
        Some(text) => Ok((PathBuf::from("Dockerfile"), text.clone())),
        None if source.remote && !stdin_file => {
            let file = args.file.as_deref().map(|f| source.dir.join(f));
            inputs::read_dockerfile(file.as_deref(), &source.dir)
        }
        None => inputs::read_dockerfile(args.file.as_deref(), &args.context),
    }
}

/// `--build-context` entries with one per name, the last given winning (buildx keeps them in
/// a map, so a later flag replaces an earlier one).
fn last_of_each_name<T>(entries: Vec<(String, T)>) -> Vec<(String, T)> {
    let mut kept: Vec<(String, T)> = Vec::with_capacity(entries.len());
    for (name, value) in entries {
        kept.retain(|(n, _)| *n != name);
        kept.push((name, value));
    }
    kept
}

/// `--platform` as a comma-separated list (`linux/amd64,linux/arm64`), each checked, the
/// same platform given twice kept once.
fn parse_platforms(value: Option<&str>) -> Result<Vec<Platform>> {
    let mut platforms: Vec<Platform> = Vec::new();
    let Some(value) = value else {
        return Ok(platforms);
    };
    for item in value.split(',') {
        let platform = item
            .trim()
            .parse::<Platform>()
            .with_context(|| format!("--platform {value:?}"))?;
        if !platforms.contains(&platform) {
            platforms.push(platform);
        }
    }
    Ok(platforms)
}
