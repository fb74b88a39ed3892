//! What a build reads besides the Dockerfile: the build context, named contexts, other
//! stages' results and base images. Every `--from` (of `COPY` and of `RUN --mount`) is
//! resolved here, once, the same way.

use crate::dockerignore::Matcher;
use crate::options::NamedContext;
use crate::progress::Progress;
use crate::schedule::Board;
use crate::sources::SourceTree;
use crate::state::ImageState;
use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_frontend::graph::{Plan, Source};
use skiff_frontend::shell::{Env, Lexer};
use skiff_image::reference::Reference;
use skiff_image::registry::Platform;
use skiff_image::Store;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

/// Where a `--from` reads its files.
pub enum FromSource {
    /// A named local context: a directory.
    Dir(SourceTree),
    /// Another stage's result or an image: its layers.
    Layers {
        /// The stage's or image's state.
        state: Box<ImageState>,
        /// What to call it in messages (`stage builder`, `image alpine`).
        label: String,
    },
}

/// Which instruction a `--from` belongs to: stage indices and messages differ slightly.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum FromUse {
    /// `COPY --from`.
    Copy,
    /// `RUN --mount=from=`.
    Mount,
}

/// The build's inputs, shared by its stages.
pub struct Inputs<'a> {
    /// The checked plan.
    pub plan: &'a Plan,
    /// The shell lexer with the Dockerfile's escape character.
    pub lexer: Lexer,
    /// `--build-arg` values as an expansion environment.
    pub build_args: Env,
    board: &'a Board,
    store: Store,
    platform: Platform,
    context: PathBuf,
    /// The `.dockerignore` text in force, if any.
    ignore_text: Option<String>,
    named: Vec<(String, NamedContext)>,
    insecure_registries: Vec<String>,
    /// `--pull`: images are resolved against their registry even when stored.
    always_pull: bool,
    progress: Progress,
    images: Mutex<HashMap<String, ImageState>>,
}

/// Where [`Inputs`] finds what it resolves.
pub struct InputSources {
    /// The shell lexer with the Dockerfile's escape character.
    pub lexer: Lexer,
    /// `--build-arg` values as an expansion environment.
    pub build_args: Env,
    /// The context directory.
    pub context: PathBuf,
    /// The `.dockerignore` text in force, if any.
    pub ignore_text: Option<String>,
    /// `--build-context` entries.
    pub named: Vec<(String, NamedContext)>,
    /// Registries reached over plain HTTP (for pulls).
    pub insecure_registries: Vec<String>,
    /// The target platform (base images must have it).
    pub platform: Platform,
    /// `--pull`: images are resolved against their registry even when stored.
    pub always_pull: bool,
}

impl<'a> Inputs<'a> {
    /// The inputs of a build of `plan`, whose stages' results are on `board`.
    pub fn new(
        plan: &'a Plan,
        board: &'a Board,
        store: Store,
        sources: InputSources,
        progress: Progress,
    ) -> Inputs<'a> {
        Inputs {
            plan,
            lexer: sources.lexer,
            build_args: sources.build_args,
            board,
            store,
            platform: sources.platform,
            context: sources.context,
            ignore_text: sources.ignore_text,
            named: sources.named,
            insecure_registries: sources.insecure_registries,
            always_pull: sources.always_pull,
            progress,
            images: Mutex::new(HashMap::new()),
        }
    }

    /// The target platform.
    pub fn platform(&self) -> &Platform {
        &self.platform
    }

    /// The result of another stage (waiting for it if it is still being built). Its key is
    /// its content (the manifest digest), so what depends on it is cached by what it holds.
    pub fn stage_result(&self, index: usize) -> Result<ImageState> {
        self.board.result(index)
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
            root: self.context.clone(),
            ignore,
            keep_owner: false,
            label: "build context".into(),
        })
    }

    /// What `from` names for `used_by`: a named local context, another stage (waiting for
    /// it) or an image (pulled when needed).
    pub fn resolve_from(&self, from: &str, used_by: FromUse) -> Result<FromSource> {
        if let Some(dir) = self.named_context_dir(from) {
            let label = match used_by {
                FromUse::Copy => format!("build context \"{from}\""),
                FromUse::Mount => from.to_string(),
            };
            return Ok(FromSource::Dir(SourceTree {
                root: dir,
                ignore: None,
                keep_owner: false,
                label,
            }));
        }
        let (state, label) = match self.plan.source(from, used_by == FromUse::Mount) {
            Source::Stage(i) => {
                let label = self.plan.stage(i).map(|s| s.label()).unwrap_or_default();
                (self.stage_result(i)?, format!("stage {label}"))
            }
            Source::Image(reference) => {
                (self.image_state(&reference)?, format!("image {reference}"))
            }
            Source::BadIndex(n) => match used_by {
                FromUse::Copy => {
                    bail!("invalid stage index {n} in --from: it must name an earlier stage")
                }
                FromUse::Mount => bail!("invalid stage index {n} in --mount from"),
            },
        };
        Ok(FromSource::Layers {
            state: Box::new(state),
            label,
        })
    }

    /// Whether `name` is a `--build-context` (which then stands for the image or stage).
    pub fn is_named_context(&self, name: &str) -> bool {
        self.named.iter().any(|(n, _)| n == name)
    }

    /// A `--build-context NAME=DIR` directory, if `name` is one.
    fn named_context_dir(&self, name: &str) -> Option<PathBuf> {
        self.named.iter().find_map(|(n, c)| match c {
            NamedContext::Dir(d) if n == name => Some(d.clone()),
            _ => None,
        })
    }

    /// The image `reference` names (a `--build-context`, the store, or pulled), as a state,
    /// for the target platform.
    pub fn image_state(&self, reference: &str) -> Result<ImageState> {
        self.image_state_for(reference, &self.platform)
    }

    /// The image `reference` names for `platform` (a stage's `FROM --platform`): the
    /// manifest of that platform when the image is an index.
    pub fn image_state_for(&self, reference: &str, platform: &Platform) -> Result<ImageState> {
        let key = format!("{platform} {reference}");
        let images = || self.images.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(state) = images().get(&key) {
            return Ok(state.clone());
        }
        let state = self.resolve_image(reference, platform)?;
        images().insert(key, state.clone());
        Ok(state)
    }

    /// A `--build-context NAME=DIR` used as an image (a `FROM` base, or in place of a stage
    /// of that name): the empty image with the directory's files as one layer, keyed by it.
    fn directory_state(&self, dir: &std::path::Path, platform: &Platform) -> Result<ImageState> {
        let mut state = ImageState::scratch(platform);
        let options = skiff_image::layer::CreateOptions::default();
        let layer = skiff_image::layer::create(&self.store, dir, &options)
            .with_context(|| format!("reading the build context {}", dir.display()))?;
        if let Some(layer) = layer {
            state.key = format!("directory {}", layer.diff_id);
            state.config.rootfs.diff_ids.push(layer.diff_id.to_string());
            state.layers.push(layer.descriptor);
        }
        Ok(state)
    }

    fn resolve_image(&self, reference: &str, platform: &Platform) -> Result<ImageState> {
        let named = self
            .named
            .iter()
            .find(|(n, _)| n == reference)
            .map(|(_, c)| c.clone());
        let manifest = match named {
            // `docker-image://scratch` is the empty image, as in BuildKit: nothing to fetch.
            Some(NamedContext::Image(r)) if is_scratch(&r) => {
                return Ok(ImageState::scratch(platform));
            }
            Some(NamedContext::OciLayout(dir, tag)) => {
                skiff_image::import::oci_layout(&self.store, &dir, tag.as_deref())
                    .with_context(|| format!("importing the OCI layout {}", dir.display()))?
            }
            Some(NamedContext::Image(r)) => self.pull(&r, platform)?,
            // A directory in place of a stage or as a base, as BuildKit's local source: its
            // files as one layer.
            Some(NamedContext::Dir(dir)) => return self.directory_state(&dir, platform),
            None => self.pull(reference, platform)?,
        };
        let state = ImageState::load(&self.store, manifest.digest())?;
        if !config_is_for(&state, platform) {
            let c = &state.config;
            let base = Platform::new(&c.os, &c.architecture, c.variant.as_deref());
            bail!(
                "the base image {reference} is for {base}, not for the target platform {platform}: \
                 use a base image that has {platform} (a multi-platform index does) or build for {base}"
            );
        }
        Ok(state)
    }

    /// The manifest of the image `reference` for `platform`: the store's copy (the one its
    /// name points at, else the one an earlier build pulled for that platform), else the
    /// lazily imported cache's, else pulled. With `--pull`, always pulled, so that a tag moved
    /// in the registry is followed (and an unreachable registry is an error, as with buildx).
    fn pull(&self, reference: &str, platform: &Platform) -> Result<Descriptor> {
        let r = Reference::parse(reference)?;
        let by_platform = format!("base-for-platform {platform} {r}");
        if !self.always_pull {
            if let Some(desc) = self.store.resolve(&r.to_string())? {
                if stored_is_for(&self.store, &desc, platform) {
                    return Ok(desc);
                }
            }
            if let Some(digest) = self.store.cache_get(&by_platform)? {
                if let Ok(bytes) = self.store.read_blob(&digest) {
                    let media_type = oci_spec::image::MediaType::ImageManifest;
                    return Ok(Descriptor::new(media_type, bytes.len() as u64, digest));
                }
            }
            let lazy = crate::remote_cache::lazy_base(
                &self.store,
                &r,
                platform,
                &self.insecure_registries,
            );
            if let Some(desc) = lazy {
                return Ok(desc);
            }
        }
        let pulled = crate::pull::pull(
            &self.store,
            &r,
            platform,
            &self.insecure_registries,
            &self.progress,
        );
        if let Ok(desc) = &pulled {
            // The name follows the last pull (as `docker pull --platform` does); the cache
            // remembers each platform's manifest, so building for several does not pull again.
            self.store.cache_put(&by_platform, desc.digest())?;
        }
        if self.always_pull {
            return pulled.with_context(|| {
                format!("--pull: resolving {r} against its registry (build without --pull to use the stored copy)")
            });
        }
        pulled
    }
}

/// Whether an image's config is for `platform` (a config without an architecture is for any).
fn config_is_for(state: &ImageState, platform: &Platform) -> bool {
    let c = &state.config;
    c.architecture.is_empty() || platform.matches(&c.os, &c.architecture, c.variant.as_deref())
}

/// Whether the stored image `desc` is for `platform`, by its config.
fn stored_is_for(store: &Store, desc: &Descriptor, platform: &Platform) -> bool {
    ImageState::load(store, desc.digest()).is_ok_and(|state| config_is_for(&state, platform))
}

/// Whether a `docker-image://` reference is `scratch` (also spelled in full).
fn is_scratch(reference: &str) -> bool {
    matches!(
        reference,
        "scratch" | "docker.io/library/scratch" | "docker.io/library/scratch:latest"
    )
}
