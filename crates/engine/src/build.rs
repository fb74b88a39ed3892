//! A whole build: parse and plan, run the stages the target needs (independent stages at
//! the same time), and name the result in the store.

use crate::dockerignore::Matcher;
use crate::progress::Progress;
use crate::rootfs::LayerOptions;
use crate::sources::SourceTree;
use crate::stage::{DockerfileError, StageBuilder};
use crate::state::ImageState;
use crate::{NamedContext, Platform, Secret};
use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_frontend::graph::{automatic_args, Plan, PlanOptions};
use skiff_frontend::shell::{Env, Lexer};
use skiff_image::reference::Reference;
use skiff_image::Store;
use skiff_sandbox::Runtime;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
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
    /// `--build-context` entries.
    pub named_contexts: Vec<(String, NamedContext)>,
    /// Registries reached over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// `--runtime`.
    pub runtime: Option<String>,
    /// Layer compression and timestamps.
    pub layer: LayerOptions,
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
    results: Mutex<HashMap<usize, ImageState>>,
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

    /// The result of an earlier stage.
    pub fn stage_result(&self, index: usize) -> Result<ImageState> {
        self.results
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&index)
            .cloned()
            .ok_or_else(|| anyhow!("stage {index} has not been built (internal scheduling error)"))
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
        ImageState::load(&self.store, manifest.digest())
    }

    fn pull(&self, reference: &str) -> Result<Descriptor> {
        let r = Reference::parse(reference)?;
        if let Some(desc) = self.store.resolve(&r.to_string())? {
            return Ok(desc);
        }
        self.progress.info(format!("pulling {r}"));
        crate::pull::pull(
            &self.store,
            &r,
            &self.platform,
            &self.options.insecure_registries,
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
    let _guard = store.lock_shared()?;
    let shared = Shared {
        lexer: Lexer::new(dockerfile.escape),
        store: store.clone(),
        plan,
        progress,
        platform,
        build_args,
        ignore_text,
        results: Mutex::new(HashMap::new()),
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
    for group in &shared.plan.groups {
        run_group(&shared, group)?;
    }
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

/// Runs the stages of one parallel group, each on its own thread; the first error wins.
fn run_group(shared: &Shared, group: &[usize]) -> Result<()> {
    let results: Vec<(usize, Result<ImageState>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = group
            .iter()
            .map(|&index| {
                scope.spawn(move || {
                    let stage = shared
                        .plan
                        .stage(index)
                        .ok_or_else(|| anyhow!("stage {index} is not planned"))?;
                    StageBuilder::new(shared, stage)?.build()
                })
            })
            .collect();
        group
            .iter()
            .zip(handles)
            .map(|(&i, h)| {
                (
                    i,
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("stage {i} panicked"))),
                )
            })
            .collect()
    });
    let mut map = shared.results.lock().unwrap_or_else(|e| e.into_inner());
    for (i, r) in results {
        map.insert(i, r?);
    }
    Ok(())
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
