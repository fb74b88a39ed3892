//! A whole build: parse and plan, run the stages the target needs (independent stages at
//! the same time), and name the result in the store.

use crate::cachekey::KeyBuilder;
use crate::dockerignore::Matcher;
use crate::progress::Progress;
use crate::rootfs::LayerOptions;
use crate::schedule::{self, Board};
use crate::sources::SourceTree;
use crate::stage::{DockerfileError, StageBuilder};
use crate::state::ImageState;
use crate::{NamedContext, Platform, Secret};
use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_frontend::graph::{automatic_args, Plan, PlanOptions, PlannedStage};
use skiff_frontend::shell::{Env, Lexer};
use skiff_image::reference::Reference;
use skiff_image::Store;
use skiff_sandbox::Runtime;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

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
}

/// State shared by all stages of one build.
pub struct Shared {
    /// The build's options.
    pub options: BuildOptions,
    /// The store.
    pub store: Store,
    /// The checked plan.
    pub plan: Plan,
    /// The shell lexer with the Dockerfile's escape character.
    pub lexer: Lexer,
    /// Where progress goes.
    pub progress: Progress,
    /// The target platform.
    pub platform: Platform,
    /// `--build-arg` values as an expansion environment.
    pub build_args: Env,
    /// The `.dockerignore` text in force, if any.
    ignore_text: Option<String>,
    board: Board,
    images: Mutex<HashMap<String, ImageState>>,
    runtime: OnceLock<std::result::Result<Runtime, String>>,
    step: AtomicUsize,
}

impl Shared {
    /// The next step number (1-based, across stages).
    pub fn next_step(&self) -> usize {
        self.step.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The OCI runtime, found the first time a RUN needs it (a cached build never looks).
    pub fn runtime(&self) -> Result<&Runtime> {
        self.runtime
            .get_or_init(|| {
                Runtime::detect(self.options.runtime.as_deref()).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| anyhow!("{e}"))
    }

    /// The OCI runtime for a RUN on top of `layers`. The first time, the runtime is probed
    /// while those layers are extracted, so the two overlap instead of adding up.
    pub fn runtime_for(&self, layers: &[Descriptor]) -> Result<&Runtime> {
        if self.runtime.get().is_some() {
            return self.runtime();
        }
        std::thread::scope(|scope| {
            let extraction = scope.spawn(|| self.store.snapshots(layers));
            let runtime = self.runtime();
            // An extraction error shows again, with its context, when the step mounts them.
            let _ = extraction.join();
            runtime
        })
    }

    /// Kills the RUN containers of this process (while a failure cancels the build): the
    /// stages running them see the step fail and stop.
    fn stop_running_steps(&self) {
        if let Some(Ok(runtime)) = self.runtime.get() {
            kill_own_containers(&runtime.path);
        }
    }

    /// The result of another stage (waiting for it if it is still being built). Its key is
    /// its content (the manifest digest), so what depends on it is cached by what it holds.
    pub fn stage_result(&self, index: usize) -> Result<ImageState> {
        self.board.result(index)
    }

    /// Fails with [`schedule::Cancelled`] once another stage has failed: checked before
    /// each step, so a failure stops the other stages at their next step.
    pub fn check_cancelled(&self) -> Result<()> {
        self.board.check()
    }

    /// Whether `stage` ignores the cache: `--no-cache`, or `--no-cache-filter` names it.
    pub fn stage_no_cache(&self, stage: &PlannedStage) -> bool {
        self.options.no_cache
            || stage.name.as_ref().is_some_and(|n| {
                self.options
                    .no_cache_filter
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(n))
            })
    }

    /// The build context as a COPY source (with `.dockerignore` and extra `--exclude`s).
    pub fn context_tree(&self, excludes: &[String]) -> Result<SourceTree> {
        let mut text = self.ignore_text.clone().unwrap_or_default();
        for e in excludes {
            text.push('\n');
            text.push_str(e);
        }
        let ignore = if text.trim().is_empty() {
            None
        } else {
            Some(
                Matcher::parse(&text)
                    .map_err(|e| anyhow!("invalid .dockerignore or --exclude pattern: {e}"))?,
            )
        };
        Ok(SourceTree {
            root: self.options.context.clone(),
            ignore,
            keep_owner: false,
            label: "build context".into(),
        })
    }

    /// A `--build-context NAME=DIR` directory, if `name` is one.
    pub fn named_context_dir(&self, name: &str) -> Option<PathBuf> {
        self.options
            .named_contexts
            .iter()
            .find_map(|(n, c)| match c {
                NamedContext::Dir(d) if n == name => Some(d.clone()),
                _ => None,
            })
    }

    /// The image `reference` names (a `--build-context`, the store, or pulled), as a state.
    pub fn image_state(&self, reference: &str) -> Result<ImageState> {
        if let Some(state) = self
            .images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(reference)
        {
            return Ok(state.clone());
        }
        let state = self.resolve_image(reference)?;
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(reference.to_string(), state.clone());
        Ok(state)
    }

    fn resolve_image(&self, reference: &str) -> Result<ImageState> {
        let named = self
            .options
            .named_contexts
            .iter()
            .find(|(n, _)| n == reference)
            .map(|(_, c)| c.clone());
        let manifest = match named {
            Some(NamedContext::OciLayout(dir, tag)) => {
                skiff_image::import::oci_layout(&self.store, &dir, tag.as_deref())
                    .with_context(|| format!("importing the OCI layout {}", dir.display()))?
            }
            Some(NamedContext::Image(r)) => self.pull(&r)?,
            Some(NamedContext::Dir(_)) => {
                bail!("build context \"{reference}\" is a directory, not an image")
            }
            None => self.pull(reference)?,
        };
        let state = ImageState::load(&self.store, manifest.digest())?;
        let c = &state.config;
        if !c.architecture.is_empty()
            && !self
                .platform
                .matches(&c.os, &c.architecture, c.variant.as_deref())
        {
            let base =
                skiff_image::registry::Platform::new(&c.os, &c.architecture, c.variant.as_deref());
            bail!(
                "the base image {reference} is for {base}, not for the target platform {}: skiff runs \
                 build steps natively, so use a base image that has {} or leave out --platform",
                self.platform,
                self.platform
            );
        }
        Ok(state)
    }

    fn pull(&self, reference: &str) -> Result<Descriptor> {
        let r = Reference::parse(reference)?;
        if let Some(desc) = self.store.resolve(&r.to_string())? {
            return Ok(desc);
        }
        crate::pull::pull(
            &self.store,
            &r,
            &self.platform,
            &self.options.insecure_registries,
            &self.progress,
        )
    }
}

/// Runs a build.
pub fn build(store: &Store, options: BuildOptions, progress: Progress) -> Result<BuildOutcome> {
    let dockerfile = skiff_frontend::parse(&options.dockerfile).map_err(DockerfileError)?;
    let platform = options.platform.clone().unwrap_or_else(Platform::host);
    let build_args: Env = options
        .build_args
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let plan_opts = PlanOptions {
        target: options.target.clone(),
        build_args: build_args.clone(),
        automatic_args: automatic_args(&Platform::host().to_string(), &platform.to_string()),
    };
    let plan = skiff_frontend::plan(&dockerfile, &plan_opts).map_err(DockerfileError)?;
    let ignore_text = load_dockerignore(&options.context, &options.dockerfile_path)?;
    // A `--runtime` that is not there fails now, before any step; whether it works is probed
    // when the first RUN needs it.
    if let Some(name) = &options.runtime {
        Runtime::locate(name)?;
    }
    let _guard = store.lock_shared()?;
    private_mount_namespace();
    let board = Board::new(plan.stages.iter().map(|s| s.index));
    let shared = Shared {
        lexer: Lexer::new(dockerfile.escape),
        store: store.clone(),
        plan,
        progress,
        platform,
        build_args,
        ignore_text,
        board,
        images: Mutex::new(HashMap::new()),
        runtime: OnceLock::new(),
        step: AtomicUsize::new(0),
        options,
    };
    for w in &shared.plan.warnings {
        shared.progress.info(skiff_frontend::render(
            w,
            &file_label(&shared.options.dockerfile_path),
            &dockerfile.source,
        ));
    }
    schedule::run(
        &shared.plan.stages,
        &shared.board,
        || shared.stop_running_steps(),
        |stage| build_stage(&shared, stage),
    )?;
    let target = shared.plan.target;
    let mut state = shared.stage_result(target)?;
    for (k, v) in &shared.options.labels {
        state.config.config.labels.insert(k.clone(), v.clone());
    }
    let manifest = state.commit(&shared.store)?;
    Ok(BuildOutcome {
        manifest,
        state,
        steps: shared.step.load(Ordering::SeqCst),
    })
}

/// Builds one stage and records its final state under the stage's key, so that a rebuild
/// with the same inputs gives back the very same image (same config, same timestamps) and so
/// writes nothing. The state handed to other stages is keyed by its manifest digest.
fn build_stage(shared: &Shared, stage: &PlannedStage) -> Result<ImageState> {
    let built = StageBuilder::new(shared, stage)?.build()?;
    let store = &shared.store;
    // The target's history times are filled in (as BuildKit's exporter does), so its final
    // state is not the same as the one an intermediate stage with the same steps ends with.
    let mut key = KeyBuilder::new(&built.key, "stage-result");
    key.part(if stage.index == shared.plan.target {
        "target"
    } else {
        "intermediate"
    });
    let key = key.finish();
    let cached = if shared.stage_no_cache(stage) {
        None
    } else {
        store
            .cache_get(&key)?
            .and_then(|m| ImageState::load(store, &m).ok().map(|s| (m, s)))
    };
    let (manifest, mut state) = match cached {
        Some(hit) => hit,
        None => {
            let manifest = built.commit(store)?.digest().clone();
            store.cache_put(&key, &manifest)?;
            (manifest, built)
        }
    };
    state.key = format!("stage:{manifest}");
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

/// `runc kill -9` for every container this process started (the sandbox names them
/// `skiff-<pid>-…`).
fn kill_own_containers(runtime: &Path) {
    let Ok(out) = Command::new(runtime)
        .args(["list", "-q"])
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    let prefix = format!("skiff-{}-", std::process::id());
    for id in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|id| id.starts_with(&prefix))
    {
        let _ = Command::new(runtime)
            .args(["kill", id, "KILL"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
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
pub fn file_label(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}
