//! COPY and ADD: deciding what is copied where (and what goes into the cache key) before
//! anything runs, then copying it into the step's rootfs with Docker's rules.
//!
//! Sources come from the build context (filtered by `.dockerignore`), from another stage,
//! or from an image. Context sources are selected and checksummed up front, because their
//! content is part of the key; stage and image sources are keyed by the stage's own key and
//! only mounted when the step actually runs.

use crate::build::Shared;
use crate::dockerignore::Matcher;
use crate::sources::{copy_into, Chmod, CopyOptions, Selected, SourceTree};
use crate::state::ImageState;
use crate::view::View;
use anyhow::{anyhow, bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_frontend::graph::Source;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// A COPY/ADD with its words expanded.
#[derive(Clone, Debug, Default)]
pub struct CopyRequest {
    /// Source paths or patterns.
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
    /// `--parents`: keep the sources' directories below the context root.
    pub parents: bool,
    /// ADD rather than COPY.
    pub is_add: bool,
    /// ADD: extract local archives.
    pub unpack: bool,
}

/// Where the files of a COPY come from.
enum Origin {
    /// The build context (or a named local context): selected and checksummed already.
    Local {
        tree: SourceTree,
        selected: Vec<Vec<Selected>>,
    },
    /// Another stage or an image: mounted when the step runs.
    Layers {
        store: skiff_image::Store,
        layers: Vec<Descriptor>,
        label: String,
    },
}

/// A COPY/ADD ready to run: what, where, and its cache-key inputs.
pub struct CopyPlan {
    origin: Origin,
    sources: Vec<String>,
    contents: Vec<(String, String)>,
    dest: String,
    dest_is_dir: bool,
    chown: Option<String>,
    chmod: Option<Chmod>,
    excludes: Vec<String>,
    parents: bool,
    unpack: bool,
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
    let dest = crate::stage::absolute(workdir, &req.dest);
    let dest = if req.dest.ends_with('/') && !dest.ends_with('/') {
        format!("{dest}/")
    } else {
        dest
    };
    let multiple = req.sources.len() + req.contents.len() > 1;
    if multiple && !dest.ends_with('/') {
        bail!(
            "When using {} with more than one source file, the destination must be a directory and end with a /",
            if req.is_add { "ADD" } else { "COPY" }
        );
    }
    let chmod = req.chmod.as_deref().map(Chmod::parse).transpose()?;
    let mut key_parts = vec![
        format!("dest={dest}"),
        format!("chown={}", req.chown.clone().unwrap_or_default()),
        format!("chmod={}", req.chmod.clone().unwrap_or_default()),
        format!(
            "parents={} unpack={} add={}",
            req.parents, req.unpack, req.is_add
        ),
    ];
    key_parts.extend(req.excludes.iter().map(|e| format!("exclude={e}")));
    for (name, data) in &req.contents {
        key_parts.push(format!("content {name} {data}"));
    }
    for s in &req.sources {
        if req.is_add
            && (s.starts_with("http://") || s.starts_with("https://") || s.starts_with("git@"))
        {
            bail!("ADD from a URL or git repository ({s}) is not supported by skiff yet: download it in a RUN step or COPY a local file");
        }
    }
    let origin = match &req.from {
        None => local_origin(
            shared.context_tree(&req.excludes)?,
            &req.sources,
            &mut key_parts,
        )?,
        Some(from) => match shared.named_context_dir(from) {
            Some(dir) => {
                let tree = SourceTree {
                    root: dir,
                    ignore: excludes_matcher(&req.excludes)?,
                    keep_owner: false,
                    label: format!("build context \"{from}\""),
                };
                local_origin(tree, &req.sources, &mut key_parts)?
            }
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
                    Source::BadIndex(n) => bail!("invalid stage index {n} in --from"),
                };
                key_parts.push(format!("from {}", state.key));
                key_parts.extend(req.sources.iter().map(|s| format!("src={s}")));
                Origin::Layers {
                    store: shared.store.clone(),
                    layers: state.layers,
                    label,
                }
            }
        },
    };
    Ok(CopyPlan {
        origin,
        sources: req.sources,
        contents: req.contents,
        dest_is_dir: dest.ends_with('/') || multiple,
        dest,
        chown: req.chown,
        chmod,
        excludes: req.excludes,
        parents: req.parents,
        unpack: req.is_add && req.unpack,
        key_parts,
    })
}

fn excludes_matcher(excludes: &[String]) -> Result<Option<Matcher>> {
    if excludes.is_empty() {
        return Ok(None);
    }
    Ok(Some(
        Matcher::parse(&excludes.join("\n"))
            .map_err(|e| anyhow!("invalid --exclude pattern: {e}"))?,
    ))
}

fn local_origin(
    tree: SourceTree,
    sources: &[String],
    key_parts: &mut Vec<String>,
) -> Result<Origin> {
    let mut selected = Vec::new();
    for s in sources {
        let sel = tree.select(s)?;
        key_parts.push(format!("src={s} sum={}", tree.checksum(&sel)?));
        selected.push(sel);
    }
    Ok(Origin::Local { tree, selected })
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
        match &self.origin {
            Origin::Local { tree, selected } => {
                for sel in selected {
                    self.copy_selected(tree, sel, root, &opts)?;
                }
            }
            Origin::Layers {
                store,
                layers,
                label,
            } => {
                let view = View::mount(store, layers)?;
                let tree = SourceTree {
                    root: view.root().to_path_buf(),
                    ignore: excludes_matcher(&self.excludes)?,
                    keep_owner: true,
                    label: label.clone(),
                };
                for s in &self.sources {
                    let sel = tree.select(s)?;
                    self.copy_selected(&tree, &sel, root, &opts)?;
                }
            }
        }
        for (name, data) in &self.contents {
            let target = if self.dest_is_dir {
                format!("{}{name}", self.dest)
            } else {
                self.dest.clone()
            };
            let path = crate::rootpath::resolve(root, &target, true)?;
            if let Some(parent) = path.parent() {
                mkdir_all(root, parent, owner)?;
            }
            std::fs::write(&path, data).with_context(|| format!("writing {target}"))?;
            let mode = self
                .chmod
                .as_ref()
                .map(|c| c.apply(0o644, false))
                .unwrap_or(0o644);
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::lchown(&path, Some(uid), Some(gid))?;
            }
        }
        Ok(())
    }

    fn copy_selected(
        &self,
        tree: &SourceTree,
        sel: &[Selected],
        root: &Path,
        opts: &CopyOptions,
    ) -> Result<()> {
        for one in sel {
            if self.unpack
                && !one.is_dir
                && crate::archive::try_extract(&tree.root.join(&one.rel), root, &self.dest, opts)?
            {
                continue;
            }
            let dest = if self.parents {
                let parent = Path::new(&one.rel)
                    .parent()
                    .map(|p| p.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{}/{}/", self.dest.trim_end_matches('/'), parent)
            } else {
                self.dest.clone()
            };
            copy_into(
                tree,
                std::slice::from_ref(one),
                root,
                &dest,
                self.dest_is_dir || self.parents,
                opts,
            )?;
        }
        Ok(())
    }
}

/// `--chown` resolved in the destination rootfs. Docker: a user without a group uses the
/// same number for the group (`--chown=10` is `10:10`; `--chown=app` is `uid(app):uid(app)`).
fn resolve_chown(root: &Path, spec: &str) -> Result<(u32, u32)> {
    let user = skiff_sandbox::resolve_user(root, spec)?;
    if spec.contains(':') {
        Ok((user.uid, user.gid))
    } else {
        Ok((user.uid, user.uid))
    }
}

/// Creates `dir` and its missing parents inside `root` (mode 0755, owned by `owner` or root).
pub fn mkdir_all(root: &Path, dir: &Path, owner: Option<(u32, u32)>) -> Result<()> {
    if dir == root || !dir.starts_with(root) || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        mkdir_all(root, parent, owner)?;
    }
    if std::fs::symlink_metadata(dir).is_ok_and(|m| !m.is_dir()) {
        std::fs::remove_file(dir)?;
    }
    std::fs::create_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::lchown(dir, Some(uid), Some(gid))?;
    }
    Ok(())
}
