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

pub use link::cached_link_layer;

use crate::build::Shared;
use crate::destination::{Chmod, CopyOptions, Writer};
use crate::dockerignore::Matcher;
use crate::remote::{self, Fetched};
use crate::sources::{components, Selected, SourceTree};
use crate::statcache::StatCache;
use crate::state::ImageState;
use anyhow::{anyhow, bail, Context as _, Result};
use layer_source::LayerSource;
use skiff_frontend::graph::Source;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub use crate::destination::mkdir_all;

/// A COPY/ADD with its words expanded.
#[derive(Clone, Debug, Default)]
pub struct CopyRequest {
    /// Source paths or patterns (for ADD also URLs and git repositories).
    pub sources: Vec<String>,
    /// Heredoc sources: (file name, contents).
    pub contents: Vec<(String, String)>,
    /// Destination (relative to WORKDIR unless absolute).
    pub dest: String,
    /// `--from`.
    pub from: Option<String>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`.
    pub chmod: Option<String>,
    /// `--exclude` patterns.
    pub excludes: Vec<String>,
    /// `--parents`: keep the sources' directories (below a `/./` pivot when there is one).
    pub parents: bool,
    /// ADD rather than COPY.
    pub is_add: bool,
    /// ADD `--unpack`: `None` extracts local archives only, `Some(true)` remote ones too,
    /// `Some(false)` none.
    pub unpack: Option<bool>,
    /// ADD `--checksum` of a remote source.
    pub checksum: Option<String>,
    /// ADD `--keep-git-dir`.
    pub keep_git_dir: bool,
    /// `--link`.
    pub link: bool,
}

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
    /// Whether the copy is a layer of its own (`--link`, as BuildKit applies it: not with
    /// `--chmod`). Its key then leaves out the parent: see [`CopyPlan::link_layer_key`].
    pub link: bool,
    /// What the cache key is made of (besides the parent key).
    pub key_parts: Vec<String>,
}

/// Works out a COPY/ADD against the stage's current state.
pub fn plan(
    shared: &Shared,
    _state: &ImageState,
    workdir: &str,
    req: CopyRequest,
) -> Result<CopyPlan> {
    let name = if req.is_add { "ADD" } else { "COPY" };
    let dest = crate::stage::absolute(workdir, &req.dest);
    let dest = if (req.dest.ends_with('/') || req.dest == "." || req.dest.ends_with("/."))
        && !dest.ends_with('/')
    {
        format!("{dest}/")
    } else {
        dest
    };
    let multiple = req.sources.len() + req.contents.len() > 1;
    if multiple && !dest.ends_with('/') {
        bail!(
            "When using {name} with more than one source file, the destination must be a \
             directory and end with a /: write \"{}/\" to copy {} sources into that directory",
            req.dest,
            req.sources.len() + req.contents.len()
        );
    }
    check_sources(&req)?;
    let chmod = req.chmod.as_deref().map(Chmod::parse).transpose()?;
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
    let mut key_parts = vec![
        format!("dest={dest}"),
        format!("chown={}", chown.clone().unwrap_or_default()),
        format!("chmod={}", req.chmod.clone().unwrap_or_default()),
        format!(
            "parents={} unpack={:?} add={}",
            req.parents, req.unpack, req.is_add
        ),
    ];
    key_parts.extend(req.excludes.iter().map(|e| format!("exclude={e}")));

    let mut origin = match &req.from {
        None => Origin::Local(shared.context_tree(&[])?),
        Some(from) => match shared.named_context_dir(from) {
            Some(dir) => Origin::Local(SourceTree {
                root: dir,
                ignore: None,
                keep_owner: false,
                label: format!("build context \"{from}\""),
            }),
            None => {
                let (state, label) = match shared.plan.source(from, false) {
                    Source::Stage(i) => {
                        let state = shared.stage_result(i)?;
                        let label = format!(
                            "stage {}",
                            shared.plan.stage(i).map(|s| s.label()).unwrap_or_default()
                        );
                        (state, label)
                    }
                    Source::Image(reference) => (
                        shared.image_state(&reference)?,
                        format!("image {reference}"),
                    ),
                    Source::BadIndex(n) => {
                        bail!("invalid stage index {n} in --from: it must name an earlier stage")
                    }
                };
                Origin::Layers(Box::new(LayerSource::new(
                    &shared.store,
                    state.layers,
                    label,
                )))
            }
        },
    };

    let tmp = &shared.store;
    let mut stat_cache = match &origin {
        Origin::Local(tree) => Some(StatCache::open(&shared.store, &tree.root)),
        Origin::Layers(_) => None,
    };
    let mut parts = Vec::new();
    for s in &req.sources {
        if req.is_add && remote::is_git(s) {
            let fetched = remote::git_checkout(s, req.keep_git_dir, req.checksum.as_deref(), tmp)?;
            key_parts.push(fetched.key.clone());
            parts.push(Part::Remote {
                fetched,
                unpack: false,
            });
        } else if req.is_add && remote::is_http(s) {
            let fetched = remote::download(s, req.checksum.as_deref(), tmp)?;
            key_parts.push(fetched.key.clone());
            parts.push(Part::Remote {
                fetched,
                unpack: req.unpack == Some(true),
            });
        } else {
            let warn_nothing_matched = |label: &str| {
                shared.progress.info(format!(
                    "warning: {name} {s}: the wildcard matches nothing in the {label}, so \
                     nothing is copied from it (as BuildKit does)"
                ))
            };
            let selected = match &mut origin {
                Origin::Local(tree) => {
                    let sel = tree.select(s)?;
                    if sel.is_empty() {
                        warn_nothing_matched(&tree.label);
                    }
                    let sum = tree.checksum_with(&sel, excludes.as_ref(), stat_cache.as_mut())?;
                    key_parts.push(format!("src={s} sum={sum}"));
                    Some(sel)
                }
                Origin::Layers(source) => {
                    let (sum, selects_nothing) =
                        source.checksum(s, &req.excludes, excludes.as_ref())?;
                    if selects_nothing {
                        warn_nothing_matched(&source.label);
                    }
                    key_parts.push(format!("src={s} sum={sum}"));
                    None
                }
            };
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
    for (name, data) in &req.contents {
        key_parts.push(format!("content {name} {data}"));
        parts.push(Part::Inline {
            name: name.clone(),
            data: data.clone(),
        });
    }
    Ok(CopyPlan {
        origin,
        parts,
        dest_is_dir: dest.ends_with('/'),
        dest,
        chown,
        chmod,
        excludes,
        parents: req.parents,
        unpack_local: req.is_add && req.unpack != Some(false),
        link,
        key_parts,
    })
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
        writer.copy_source(tree, one, excludes, &self.dest, self.dest_is_dir)
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
