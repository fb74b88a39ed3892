//! The one conversion of `skiff build`'s flags into typed values: engine options, outputs and
//! the store. A build and `--dry-run` both start from a [`BuildConfig`], so they read the
//! same Dockerfile with the same build args, platform and checks.

use super::args::BuildArgs;
use super::results::ResultFiles;
use super::{inputs, outputs};
use anyhow::{Context as _, Result};
use skiff_engine::LayerOptions;
use skiff_engine::{BuildOptions, Platform};
use skiff_image::export::Output;
use std::path::PathBuf;

/// Everything a build was asked for, checked and typed.
#[derive(Debug)]
pub struct BuildConfig {
    /// What the engine builds.
    pub options: BuildOptions,
    /// Where the result goes, names applied.
    pub outputs: Vec<Output>,
    /// The store directory.
    pub store_root: PathBuf,
    /// `--iidfile` and `--metadata-file`.
    pub results: ResultFiles,
    /// `--load`: the image goes into docker's (or podman's) image store too.
    pub load: bool,
}

impl BuildConfig {
    /// Converts the flags; the first malformed or unreadable input is the error.
    pub fn from_args(args: BuildArgs, store_root: PathBuf) -> Result<BuildConfig> {
        let context = inputs::context_dir(&args.context)?;
        let (dockerfile_path, dockerfile) =
            inputs::read_dockerfile(args.file.as_deref(), &args.context)?;
        let outputs = outputs::plan(&args.outputs, &args.tags, args.push)?;
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
            platform: args
                .platform
                .as_deref()
                .map(|p| p.parse::<Platform>().context("--platform"))
                .transpose()?,
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
            named_contexts: args
                .build_contexts
                .iter()
                .map(|c| inputs::parse_named_context(c))
                .collect::<Result<_>>()?,
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
            outputs,
            store_root,
            results,
            load,
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
