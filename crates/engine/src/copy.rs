//! COPY and ADD: deciding what is copied where (and what goes into the cache key) before
//! anything runs, then copying it into the step's rootfs with Docker's rules.
//!
//! Sources come from the build context (filtered by `.dockerignore`), a named local context,
//! another stage or an image (`--from`), a URL or a git repository (ADD), or a heredoc.
//! Every source is keyed by its content, as in BuildKit: context sources are selected and
//! checksummed up front (through the store's stat cache), remote sources are fetched up front,
//! and what a `--from` selects in a stage or an image is checksummed in its mounted layers
//! (once per layer chain and selection: see [`layer_source`]). So a `COPY --from` of a stage
//! that ran again but produced the same files is a cache hit.
//!
//! `--link` makes the copy a layer of its own, independent of the stage it lands on (see
//! [`link`]).

mod layer_source;
mod link;
mod request;

pub use link::cached_link_layer;
pub use request::CopyRequest;

use crate::destination::{Chmod, CopyOptions, Writer};
use crate::dockerignore::Matcher;
use crate::inputs::{FromSource, FromUse, Inputs};
use crate::layer_options::LayerOptions;
use crate::progress::Progress;
use crate::remote::{self, Fetched};
use crate::rootfs::NewLayer;
use crate::sources::{components, Selected, SourceTree};
use crate::spec::{AddSpec, CopySpec, Origin as SpecOrigin, SourceSpec, StepSpec, Unpack};
use crate::statcache::StatCache;
use anyhow::{anyhow, bail, Context as _, Result};
use layer_source::LayerSource;
use skiff_image::image_path::{absolute, clean_path};
use skiff_image::Store;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Where the path sources of a COPY are read from.
enum Origin {
    /// The build context or a named local context: selected and checksummed already.
    Local(SourceTree),
    /// Another stage or an image: its layers, mounted when something must be read.
    Layers(Box<LayerSource>),
}

/// One source of a COPY/ADD.
enum Part {
    /// A path or pattern; its selection when it was made up front (local origins).
    Path {
        source: String,
        selected: Option<Vec<Selected>>,
    },
    /// A download or a git checkout.
    Remote { fetched: Fetched, unpack: bool },
    /// A heredoc: file name and contents.
    Inline { name: String, data: String },
}

/// A COPY/ADD ready to run: what, where, and its cache-key inputs.
pub struct CopyPlan {
    origin: Origin,
    parts: Vec<Part>,
    dest: String,
    dest_is_dir: bool,
    chown: Option<String>,
    chmod: Option<Chmod>,
    excludes: Option<Matcher>,
    parents: bool,
    unpack_local: bool,
    /// Where a copy that BuildKit would refuse is reported (it still runs).
    progress: Progress,
    /// Whether the copy is a layer of its own (`--link`, as BuildKit applies it: not with
    /// `--chmod`). Its key then leaves out the parent: see [`CopyPlan::link_layer_key`].
    pub link: bool,
    /// The step as the cache keys it (besides the parent key): [`StepSpec::Copy`] or
    /// [`StepSpec::Add`].
    pub spec: StepSpec,
}

/// Works out a COPY/ADD for a stage whose working directory is `workdir`: what is copied
/// from where (sources selected and checksummed, remote ones fetched) and its spec.
pub fn plan(
    inputs: &Inputs,
    store: &Store,
    progress: &Progress,
    workdir: &str,
    req: CopyRequest,
) -> Result<CopyPlan> {
    let dest = destination(workdir, &req)?;
    check_sources(&req)?;
    let chmod = req.chmod.clone();
    let excludes = if req.excludes.is_empty() {
        None
    } else {
        Some(Matcher::from_patterns(&req.excludes).map_err(|e| anyhow!("invalid --exclude: {e}"))?)
    };
    // BuildKit's frontend makes a --link copy a layer of its own only without --chmod
    // (`cfg.link && cfg.chmod == ""`); with it, the copy is a plain one.
    let link = req.link && req.chmod.is_none();
    let chown = match &req.chown {
        Some(spec) if link => Some(link::numeric_chown(spec)?),
        other => other.clone(),
    };
    let (mut origin, spec_origin) = match &req.from {
        None => (
            Origin::Local(inputs.context_tree(&[])?),
            SpecOrigin::Context,
        ),
        Some(from) => match inputs.resolve_from(from, FromUse::Copy)? {
            FromSource::Dir(tree) => (Origin::Local(tree), SpecOrigin::NamedContext(from.clone())),
            FromSource::Layers { state, label } => (
                Origin::Layers(Box::new(LayerSource::new(store, state.layers, label))),
                SpecOrigin::Layers,
            ),
        },
    };
    let selection = Selection {
        req: &req,
        excludes: excludes.as_ref(),
        progress,
    };
    let mut key_sources = Vec::new();
    let mut parts = selection.sources(store, &mut origin, &mut key_sources)?;
    for (name, data) in &req.contents {
        key_sources.push(SourceSpec::Inline {
            name: name.clone(),
            content: data.clone(),
        });
        parts.push(Part::Inline {
            name: name.clone(),
            data: data.clone(),
        });
    }
    let copy = CopySpec {
        sources: key_sources,
        dest: dest.clone(),
        origin: spec_origin,
        chown: chown.clone(),
        chmod: req.chmod.as_ref().map(|c| c.written().to_string()),
        link,
        excludes: req.excludes.clone(),
        parents: req.parents,
    };
    Ok(CopyPlan {
        spec: step_spec(&req, copy),
        origin,
        parts,
        dest_is_dir: dest.ends_with('/'),
        dest,
        chown,
        chmod,
        excludes,
        parents: req.parents,
        unpack_local: req.is_add && req.unpack != Some(false),
        progress: progress.clone(),
        link,
    })
}

/// The step as the cache keys it: a COPY, or an ADD with its download and archive options.
fn step_spec(req: &CopyRequest, copy: CopySpec) -> StepSpec {
    if req.is_add {
        StepSpec::Add(AddSpec {
            copy,
            unpack: Unpack::from_flag(req.unpack),
            checksum: req.checksum.clone(),
            keep_git_dir: req.keep_git_dir,
        })
    } else {
        StepSpec::Copy(copy)
    }
}

/// The absolute destination, ending in `/` when it names a directory. Several sources need
/// no trailing `/`: each is copied to it in turn as if alone (current BuildKit chains one
/// copy per source; the 20.10 frontend's "must end with a /" rule is gone). The path is
/// cleaned lexically before it is resolved in the image, as BuildKit's `path.Join`: `a/..`
/// drops `a` even when `a` is a symlink.
fn destination(workdir: &str, req: &CopyRequest) -> Result<String> {
    let dest = clean_path(&absolute(workdir, &req.dest));
    Ok(
        if (req.dest.ends_with('/') || req.dest == "." || req.dest.ends_with("/."))
            && !dest.ends_with('/')
        {
            format!("{dest}/")
        } else {
            dest
        },
    )
}

/// Selecting and checksumming the path and remote sources of one COPY/ADD.
struct Selection<'r> {
    req: &'r CopyRequest,
    excludes: Option<&'r Matcher>,
    progress: &'r Progress,
}

impl Selection<'_> {
    /// Each source as a part of the plan, its spec added to `key_sources`.
    fn sources(
        &self,
        store: &Store,
        origin: &mut Origin,
        key_sources: &mut Vec<SourceSpec>,
    ) -> Result<Vec<Part>> {
        let req = self.req;
        let mut stat_cache = match &*origin {
            Origin::Local(tree) => Some(StatCache::open(store, &tree.root)),
            Origin::Layers(_) => None,
        };
        let mut parts = Vec::new();
        for s in &req.sources {
            if req.is_add && remote::is_git(s) {
                let fetched =
                    remote::git_checkout(s, req.keep_git_dir, req.checksum.as_deref(), store)?;
                key_sources.push(fetched.source.clone());
                parts.push(Part::Remote {
                    fetched,
                    unpack: false,
                });
            } else if req.is_add && remote::is_http(s) {
                let fetched = remote::download(s, req.checksum.as_deref(), store)?;
                key_sources.push(fetched.source.clone());
                parts.push(Part::Remote {
                    fetched,
                    unpack: req.unpack == Some(true),
                });
            } else {
                let (sum, selected) = self.path(s, origin, stat_cache.as_mut())?;
                key_sources.push(SourceSpec::Path {
                    pattern: s.clone(),
                    checksum: sum,
                });
                parts.push(Part::Path {
                    source: s.clone(),
                    selected,
                });
            }
        }
        if let Some(cache) = &mut stat_cache {
            // A cache that cannot be written only costs a re-read next time.
            let _ = cache.save();
        }
        Ok(parts)
    }

    /// The checksum of what the path source `s` selects, and the selection when it is made up
    /// front (local origins).
    fn path(
        &self,
        s: &str,
        origin: &mut Origin,
        stat_cache: Option<&mut StatCache>,
    ) -> Result<(String, Option<Vec<Selected>>)> {
        let warn_nothing_matched = |label: &str| {
            self.progress.info(format!(
                "warning: {} {s}: the wildcard matches nothing in the {label}, so \
                 nothing is copied from it (as BuildKit does)",
                self.req.name()
            ))
        };
        match origin {
            Origin::Local(tree) => {
                let sel = tree.select(s)?;
                if sel.is_empty() {
                    warn_nothing_matched(&tree.label);
                }
                let sum = tree.checksum_with(&sel, self.excludes, stat_cache)?;
                Ok((sum, Some(sel)))
            }
            Origin::Layers(source) => {
                let (sum, selects_nothing) =
                    source.checksum(s, &self.req.excludes, self.excludes)?;
                if selects_nothing {
                    warn_nothing_matched(&source.label);
                }
                Ok((sum, None))
            }
        }
    }
}

/// BuildKit's checks of what a source may be for COPY and ADD.
fn check_sources(req: &CopyRequest) -> Result<()> {
    for s in &req.sources {
        if !req.is_add && (s.starts_with("http://") || s.starts_with("https://")) {
            bail!("source can't be a URL for COPY: use ADD {s} to download it");
        }
        if !req.is_add && remote::is_git(s) && !s.starts_with("git@") {
            bail!("source can't be a git ref for COPY: use ADD {s} to check it out");
        }
    }
    if let Some(sum) = &req.checksum {
        if !req.is_add {
            bail!("checksum can't be specified for COPY");
        }
        if req.sources.len() != 1 {
            bail!("checksum can't be specified for multiple sources");
        }
        let s = &req.sources[0];
        if !remote::is_http(s) && !remote::is_git(s) {
            bail!(
                "--checksum={sum} requires an HTTP(S) or git source, but \"{s}\" is a local path"
            );
        }
    }
    Ok(())
}

impl CopyPlan {
    /// Copies into `root` (the step's merged rootfs).
    pub fn execute(&self, root: &Path) -> Result<()> {
        let owner = match &self.chown {
            None => None,
            Some(spec) => Some(resolve_chown(root, spec)?),
        };
        let opts = CopyOptions {
            owner,
            chmod: self.chmod.clone(),
        };
        let mut writer = Writer::new(root, &opts);
        let (_view, tree) = match &self.origin {
            Origin::Local(tree) => (None, tree.clone()),
            Origin::Layers(source) => source.tree()?,
        };
        for part in &self.parts {
            match part {
                Part::Path { source, selected } => {
                    let selected = match selected {
                        Some(s) => s.clone(),
                        None => tree.select(source)?,
                    };
                    for one in &selected {
                        self.copy_path(&tree, source, one, root, &opts, &mut writer)?;
                    }
                }
                Part::Remote { fetched, unpack } => {
                    let local = SourceTree {
                        root: fetched.dir.path().to_path_buf(),
                        ignore: None,
                        keep_owner: false,
                        label: "download".into(),
                    };
                    let abs = local.root.join(&fetched.path);
                    if *unpack && crate::archive::try_extract(&abs, root, &self.dest, &opts)? {
                        continue;
                    }
                    let sel = Selected {
                        rel: fetched.path.clone(),
                        matched: fetched.path.clone(),
                        exclude_base: fetched.path.clone(),
                        is_dir: abs.is_dir(),
                    };
                    writer.copy_source(&local, &sel, None, &self.dest, self.dest_is_dir)?;
                }
                Part::Inline { name, data } => {
                    let dir = tempfile::tempdir()?;
                    let file = dir.path().join(name);
                    std::fs::write(&file, data).with_context(|| format!("writing <<{name}"))?;
                    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644))?;
                    let local = SourceTree {
                        root: dir.path().to_path_buf(),
                        ignore: None,
                        keep_owner: false,
                        label: "heredoc".into(),
                    };
                    let sel = Selected {
                        rel: name.clone(),
                        matched: name.clone(),
                        exclude_base: name.clone(),
                        is_dir: false,
                    };
                    writer.copy_source(&local, &sel, None, &self.dest, self.dest_is_dir)?;
                }
            }
        }
        writer.finish()
    }

    fn copy_path(
        &self,
        tree: &SourceTree,
        source: &str,
        one: &Selected,
        root: &Path,
        opts: &CopyOptions,
        writer: &mut Writer,
    ) -> Result<()> {
        let excludes = self.excludes.as_ref();
        if self.parents {
            let pivot = source
                .split_once("/./")
                .map(|(p, _)| components(p).join("/"))
                .unwrap_or_default();
            let under = if pivot.is_empty() {
                one.matched.clone()
            } else {
                one.matched
                    .strip_prefix(&format!("{pivot}/"))
                    .unwrap_or(&one.matched)
                    .to_string()
            };
            if SourceTree::excludes_source(one, excludes) {
                return Ok(());
            }
            let dirs = if one.is_dir {
                under.clone()
            } else {
                under
                    .rsplit_once('/')
                    .map(|(d, _)| d.to_string())
                    .unwrap_or_default()
            };
            writer.copy_parent_dirs(tree, &pivot, &dirs, &self.dest)?;
            let dest = format!("{}/{dirs}/", self.dest.trim_end_matches('/'));
            return writer.copy_source(tree, one, excludes, &dest, true);
        }
        if self.unpack_local
            && !one.is_dir
            && !SourceTree::excludes_source(one, excludes)
            && crate::archive::try_extract(&tree.root.join(&one.rel), root, &self.dest, opts)?
        {
            return Ok(());
        }
        if one.is_dir {
            self.warn_if_through_symlink(root, source);
        }
        writer.copy_source(tree, one, excludes, &self.dest, self.dest_is_dir)
    }

    /// A directory copied to a destination that is (or passes through) a symlink in the
    /// image: skiff copies through it, clamped to the rootfs; BuildKit fails with "cannot copy
    /// to non-directory", so the build says it will not port.
    fn warn_if_through_symlink(&self, root: &Path, source: &str) {
        let mut at = root.to_path_buf();
        for part in self.dest.split('/').filter(|p| !p.is_empty()) {
            at.push(part);
            let Ok(meta) = std::fs::symlink_metadata(&at) else {
                return;
            };
            if meta.file_type().is_symlink() {
                let link = crate::rootpath::relative(root, &at);
                self.progress.info(format!(
                    "warning: COPY {source} {}: /{link} is a symlink in the image; skiff copies \
                     the directory through it, BuildKit fails (\"cannot copy to non-directory\"): \
                     copy to the link's target instead",
                    self.dest
                ));
                return;
            }
        }
    }
}

impl CopyPlan {
    /// The key the `--link` layer is cached under: the copy's own inputs and how layers are
    /// written (compression, the time clamp of a layer `depth` layers up), not the parent.
    pub fn link_layer_key(&self, opts: &LayerOptions, depth: usize) -> String {
        link::layer_key(&self.spec, opts, depth)
    }

    /// Copies into an empty directory, writes it as a layer meant to sit `depth` layers up
    /// (the empty layer when nothing was copied), and records it under `key`.
    pub fn make_link_layer(
        &self,
        store: &Store,
        opts: &LayerOptions,
        depth: usize,
        key: &str,
    ) -> Result<NewLayer> {
        link::make_layer(store, opts, depth, key, |root| self.execute(root))
    }
}

/// `--chown` resolved in the destination rootfs, as BuildKit does: a numeric user is used
/// as is for both owner and group (`--chown=10` is `10:10`); a user name is looked up in
/// `/etc/passwd` and brings its primary group; a group (name or number) replaces that.
fn resolve_chown(root: &Path, spec: &str) -> Result<(u32, u32)> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, mut gid) = match user.parse::<u32>() {
        Ok(n) => (n, n),
        Err(_) if user.is_empty() => (0, 0),
        Err(_) => {
            let u = skiff_sandbox::resolve_user(root, user)
                .with_context(|| format!("--chown={spec}: user \"{user}\" is not in the destination's /etc/passwd; use a numeric id or create the user first"))?;
            (u.uid, u.gid)
        }
    };
    if let Some(group) = group.filter(|g| !g.is_empty()) {
        gid = match group.parse::<u32>() {
            Ok(n) => n,
            Err(_) => skiff_sandbox::resolve_user(root, &format!("0:{group}"))
                .with_context(|| format!("--chown={spec}: group \"{group}\" is not in the destination's /etc/group; use a numeric id or create the group first"))?
                .gid,
        };
    }
    Ok((uid, gid))
}
