//! A whole build: parse and plan, run the stages the target needs (independent stages at
//! the same time), and name the result in the store.
//!
//! The stages share three narrow parts ([`StageParts`]): the build's [`Inputs`] (context,
//! named contexts, other stages' results, base images), the [`Workspace`] (the store and the
//! step options) and the [`Steps`] reporter; the scheduler's [`Board`] holds the stages'
//! results and decides failure.

use crate::cachekey::step_key;
use crate::dockerignore::Matcher;
use crate::error::{diag, BuildError};
use crate::inputs::{InputSources, Inputs};
use crate::layer_options::LayerOptions;
use crate::options::{NamedContext, Secret};
use crate::progress::Progress;
use crate::remote_cache::{CacheFrom, CacheSession, CacheTo};
use crate::schedule::{self, Board};
use crate::spec::{StageResultSpec, StepSpec};
use crate::stage::{StageBuilder, StageParts};
use crate::state::ImageState;
use crate::steps::Steps;
use crate::workspace::Workspace;
use anyhow::{anyhow, Result};
use oci_spec::image::Descriptor;
use skiff_frontend::graph::{automatic_args, Plan, PlanOptions, PlannedStage, PlatformParts};
use skiff_frontend::shell::{Env, Lexer};
use skiff_frontend::Dockerfile;
use skiff_image::registry::Platform;
use skiff_image::Store;
use skiff_sandbox::Runtime;
use std::path::{Path, PathBuf};

/// Everything `skiff build` was asked to do.
#[derive(Clone, Debug, Default)]
pub struct BuildOptions {
    /// The context directory.
    pub context: PathBuf,
    /// The Dockerfile's path (for messages and `Dockerfile.dockerignore`).
    pub dockerfile_path: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// `--target`.
    pub target: Option<String>,
    /// `--build-arg` values.
    pub build_args: Vec<(String, String)>,
    /// `--platform` (default: the host's).
    pub platform: Option<Platform>,
    /// `--no-cache`.
    pub no_cache: bool,
    /// `--no-cache-filter` stage names.
    pub no_cache_filter: Vec<String>,
    /// `--label` values added to the final image.
    pub labels: Vec<(String, String)>,
    /// `--secret`s.
    pub secrets: Vec<Secret>,
    /// `--ssh` agents for `RUN --mount=type=ssh`.
    pub ssh: Vec<crate::ssh::SshAgent>,
    /// `--build-context` entries.
    pub named_contexts: Vec<(String, NamedContext)>,
    /// Registries reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// `--runtime`.
    pub runtime: Option<String>,
    /// Layer compression and timestamps.
    pub layer: LayerOptions,
    /// `--allow`: what RUN may have beyond the sandbox.
    pub allow: crate::run::Entitlements,
    /// `--network` and `--add-host`: RUN's network.
    pub network: crate::run::RunNetwork,
    /// `--cache-from`: shared caches imported before the build (lazily: layers on demand).
    pub cache_from: Vec<CacheFrom>,
    /// `--cache-to`: where the build's cache is exported after it.
    pub cache_to: Vec<CacheTo>,
    /// `--verify`: what a problem found in the final image does.
    pub verify: crate::final_image::VerifyMode,
    /// `--shm-size` and `--ulimit`: every RUN's limits.
    pub limits: skiff_sandbox::RunLimits,
    /// `--pull`: base images are resolved against their registry even when stored.
    pub pull: bool,
    /// `--annotation`s of the final image's manifest.
    pub annotations: Vec<(String, String)>,
}

/// What a build produced.
#[derive(Clone, Debug)]
pub struct BuildOutcome {
    /// The final image's manifest in the store.
    pub manifest: Descriptor,
    /// The final image's config and layers.
    pub state: ImageState,
    /// How many steps ran and how many came from the cache.
    pub steps: usize,
    /// The final image's verification and sizes.
    pub report: crate::final_image::FinalReport,
}

/// Runs a build: parses and plans the Dockerfile, builds the stages the target needs and
/// commits the target's image (with the `--label`s) in the store.
pub fn build(
    store: &Store,
    options: BuildOptions,
    progress: Progress,
) -> Result<BuildOutcome, BuildError> {
    run(store, options, progress).map_err(BuildError::classify)
}

/// A build's front half: its Dockerfile parsed and planned for the options' target, build
/// args and platform. One function, so that `skiff build --dry-run` shows the plan the build
/// itself follows.
pub struct Planned {
    /// The parsed Dockerfile.
    pub dockerfile: Dockerfile,
    /// The checked plan (its warnings included).
    pub plan: Plan,
    /// The target platform (`--platform`, else the host's).
    pub platform: Platform,
    /// `--build-arg` values as an expansion environment.
    pub build_args: Env,
}

/// Parses and plans the build `options` describe (Dockerfile errors are
/// [`BuildError::Dockerfile`]).
pub fn plan(options: &BuildOptions) -> Result<Planned, BuildError> {
    planned(options).map_err(BuildError::classify)
}

fn planned(options: &BuildOptions) -> Result<Planned> {
    let dockerfile = skiff_frontend::parse(&options.dockerfile).map_err(diag)?;
    let platform = options.platform.clone().unwrap_or_else(Platform::host);
    let build_args: Env = (options.build_args.iter())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let plan_opts = PlanOptions {
        target: options.target.clone(),
        build_args: build_args.clone(),
        automatic_args: automatic_args(parts(&Platform::host()), parts(&platform)),
        named_contexts: (options.named_contexts.iter())
            .map(|(name, _)| name.clone())
            .collect(),
    };
    let plan = skiff_frontend::plan(&dockerfile, &plan_opts).map_err(diag)?;
    check_no_cache_filter(&options.no_cache_filter, &plan)?;
    Ok(Planned {
        dockerfile,
        plan,
        platform,
        build_args,
    })
}

/// Every `--no-cache-filter` must name a stage of the Dockerfile (built or not): a misspelt
/// name would otherwise leave the stage cached without a word.
fn check_no_cache_filter(filter: &[String], plan: &Plan) -> Result<()> {
    let built = plan.stages.iter().filter_map(|s| s.name.as_deref());
    let skipped = plan.skipped.iter().filter_map(|s| s.name.as_deref());
    let names: Vec<&str> = built.chain(skipped).collect();
    for wanted in filter {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(wanted)) {
            let known = if names.is_empty() {
                "no stage has a name; name one with FROM <image> AS <name>".to_string()
            } else {
                format!("the stages are named: {}", names.join(", "))
            };
            return Err(anyhow!(
                "--no-cache-filter {wanted}: no stage of the Dockerfile is named {wanted:?} ({known})"
            ));
        }
    }
    Ok(())
}

/// A platform as the frontend's automatic args take it.
fn parts(platform: &Platform) -> PlatformParts<'_> {
    PlatformParts {
        os: &platform.os,
        arch: &platform.architecture,
        variant: platform.variant.as_deref(),
    }
}

fn run(store: &Store, options: BuildOptions, progress: Progress) -> Result<BuildOutcome> {
    let planned = planned(&options)?;
    let ignore_text = load_dockerignore(&options.context, &options.dockerfile_path)?;
    // A `--runtime` that is not there fails now, before any step; whether it works is probed
    // when the first RUN needs it.
    if let Some(name) = &options.runtime {
        Runtime::locate(name)?;
    }
    check_cache_compression(&options)?;
    crate::run::check_build_network(&options.network, options.allow)?;
    let _guard = store.lock_shared()?;
    private_mount_namespace();
    for w in &planned.plan.warnings {
        progress.info(skiff_frontend::render(
            w,
            &file_label(&options.dockerfile_path),
            &planned.dockerfile.source,
        ));
    }
    let cache = CacheSession::start(
        store,
        &options.cache_from,
        &options.cache_to,
        &options.insecure_registries,
        &progress,
    );
    // A cached layer that cannot be fetched (gone, or not matching its digest) drops the
    // records that use it; the build then runs again, and the steps that needed it run.
    let mut attempts = 0;
    // Numbered after the steps this progress already showed: the platforms of a
    // multi-platform build share one sequence, as BuildKit's.
    let mut numbered = progress.step_counts().0;
    let outcome = loop {
        attempts += 1;
        let this = attempt(
            store,
            &options,
            &planned,
            ignore_text.clone(),
            &progress,
            &mut numbered,
        );
        match this {
            Err(_) if attempts < MAX_ATTEMPTS && cache.take_tainted() => {
                progress.info("building again without the discarded cache records");
            }
            result => break result?,
        }
    };
    cache.keep_used(store)?;
    cache.export(store, &outcome.state.layers)?;
    let mut outcome = outcome;
    let config = skiff_image::model::go_json(serde_json::to_vec(&outcome.state.config)?);
    if let Some(inline) = cache.inline(store, &config, &outcome.state.layers)? {
        let layers = outcome.state.layers.clone();
        outcome.manifest = store.write_image_bytes(&inline, &layers)?;
    }
    if !options.annotations.is_empty() {
        outcome.manifest = annotate(store, &outcome.manifest, &options.annotations)?;
    }
    Ok(outcome)
}

/// The manifest `manifest` with `annotations` added (`--annotation`), written to the store.
fn annotate(
    store: &Store,
    manifest: &Descriptor,
    annotations: &[(String, String)],
) -> Result<Descriptor> {
    let mut m = store.read_manifest(manifest)?;
    let map = m.annotations.get_or_insert_with(Default::default);
    for (k, v) in annotations {
        map.insert(k.clone(), v.clone());
    }
    let (digest, size) = store.put_blob(&m.to_bytes()?)?;
    let mut annotated = Descriptor::new(manifest.media_type().clone(), size, digest);
    annotated.set_platform(manifest.platform().clone());
    Ok(annotated)
}

/// How many times a build runs when cached layers turn out unusable.
const MAX_ATTEMPTS: usize = 3;

/// Builds the stages and commits the target's image, with the final image's layers in the
/// store (an imported cache hands them over here).
fn attempt(
    store: &Store,
    options: &BuildOptions,
    planned: &Planned,
    ignore_text: Option<String>,
    progress: &Progress,
    numbered: &mut usize,
) -> Result<BuildOutcome> {
    let plan = &planned.plan;
    let board = Board::new(plan.stages.iter().map(|s| s.index));
    let sources = InputSources {
        lexer: Lexer::new(planned.dockerfile.escape),
        build_args: planned.build_args.clone(),
        context: options.context.clone(),
        ignore_text,
        named: options.named_contexts.clone(),
        insecure_registries: options.insecure_registries.clone(),
        platform: planned.platform.clone(),
        always_pull: options.pull,
    };
    let inputs = Inputs::new(plan, &board, store.clone(), sources, progress.clone());
    let mut workspace = Workspace::new(
        store.clone(),
        options.layer.clone(),
        options.runtime.clone(),
    );
    workspace.secrets = options.secrets.clone();
    workspace.ssh = options.ssh.clone();
    workspace.build_args = options.build_args.clone();
    workspace.allow = options.allow;
    workspace.network = options.network.clone();
    workspace.limits = options.limits.clone();
    let steps = Steps::continuing(progress.clone(), &board, *numbered);
    let parts = StageParts {
        inputs: &inputs,
        workspace: &workspace,
        steps: &steps,
    };
    let no_cache = |stage: &PlannedStage| {
        options.no_cache
            || (stage.name.as_ref()).is_some_and(|n| {
                (options.no_cache_filter.iter()).any(|f| f.eq_ignore_ascii_case(n))
            })
    };
    let scheduled = schedule::run(
        &plan.stages,
        &board,
        || workspace.stop_running_steps(),
        |stage| build_stage(parts, stage, no_cache(stage)),
    );
    *numbered = steps.count();
    scheduled?;
    let mut state = board.result(plan.target)?;
    for (k, v) in &options.labels {
        state.config.config.labels.insert(k.clone(), v.clone());
    }
    // The final image's layers are all in the store from here on (an imported cache hands
    // them over now), for the verification to read and the exporters to write.
    crate::remote_cache::ensure_layers(store, &state.layers)?;
    let report = crate::final_image::inspect(
        store,
        &state,
        (plan, &board),
        &planned.dockerfile,
        &workspace.build_args,
        options.verify,
    )?;
    let manifest = state.commit(store)?;
    Ok(BuildOutcome {
        manifest,
        state,
        steps: steps.count(),
        report,
    })
}

/// A `--cache-to` for another compression than the build's would export layers no build
/// with its flags could use (compression is part of every layer step's key).
fn check_cache_compression(options: &BuildOptions) -> Result<()> {
    let build = options.layer.compression;
    for to in &options.cache_to {
        if to.compression.is_some_and(|c| c != build) {
            return Err(anyhow!(
                "--cache-to compression={:?} differs from the build's --compression {build:?}: \
                 layers are keyed by their compression, so give the same one to both",
                to.compression.unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// Builds one stage and records its final state under the stage's key, so that a rebuild
/// with the same inputs gives back the very same image (same config, same timestamps) and so
/// writes nothing. The state handed to other stages is keyed by its manifest digest.
fn build_stage(parts: StageParts, stage: &PlannedStage, no_cache: bool) -> Result<ImageState> {
    let built = StageBuilder::new(parts, stage, no_cache)?.build()?;
    let store = &parts.workspace.store;
    // The target's history times are filled in (as BuildKit's exporter does), so its final
    // state is not the same as the one an intermediate stage with the same steps ends with.
    let spec = StepSpec::StageResult(StageResultSpec {
        target: stage.index == parts.inputs.plan.target,
    });
    let key = step_key(Some(&built.key), &spec, None);
    let cached = if no_cache {
        None
    } else {
        crate::remote_cache::cache_get(store, &key)?
            .and_then(|m| ImageState::load(store, &m).ok().map(|s| (m, s)))
    };
    let args = built.args.clone();
    let (manifest, mut state) = match cached {
        Some((m, s)) => {
            crate::remote_cache::noted(store, &key, &m);
            (m, s)
        }
        None => {
            let manifest = built.commit(store)?.digest().clone();
            store.cache_put(&key, &manifest)?;
            crate::remote_cache::noted(store, &key, &manifest);
            (manifest, built)
        }
    };
    state.key = format!("stage:{manifest}");
    state.args = args;
    Ok(state)
}

/// Moves this thread (and the stage threads it starts, and their runc children) into a mount
/// namespace of its own whose mounts do not propagate back to the host: the overlay mounts of
/// the steps then vanish with the process, even when it is killed with SIGKILL, instead of
/// being left behind in the store. Best effort: without the privilege to do it (a build that
/// needs no mount, as non-root), mounts are still undone by their guards.
fn private_mount_namespace() {
    use rustix::mount::{mount_change, MountPropagationFlags};
    use rustix::thread::{unshare_unsafe, UnshareFlags};
    // SAFETY: only the mount namespace (and, implied by it, the fs attributes) is unshared;
    // no file descriptor table is, so no thread can observe a descriptor it does not own.
    if unsafe { unshare_unsafe(UnshareFlags::NEWNS) }.is_ok() {
        let _ = mount_change(
            "/",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        );
    }
}

/// `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`.
fn load_dockerignore(context: &Path, dockerfile: &Path) -> Result<Option<String>> {
    let specific = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
    let candidates = [specific, context.join(".dockerignore")];
    for path in candidates {
        if let Ok(text) = std::fs::read_to_string(&path) {
            Matcher::parse(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// How a Dockerfile is named in messages: its file name as given.
fn file_label(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
