//! Files a COPY/ADD reads: a tree (the build context, another stage's rootfs, an image's
//! rootfs, a download), the sources a path or pattern selects in it, their content checksum
//! for the cache key, and which of their entries `--exclude` leaves out.
//!
//! Every path is resolved with [`crate::rootpath::resolve`], so symlinks in a context or a
//! stage can never make a COPY read outside that tree. As in BuildKit, a source named in the
//! Dockerfile (or matched by a wildcard) is followed when it is a symlink; symlinks *inside*
//! a copied directory are copied as symlinks.

use crate::dockerignore::Matcher;
use crate::glob;
use crate::rootpath;
use crate::statcache::StatCache;
use anyhow::{bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// How deep a copied directory tree may nest: the walk recurses, and Linux paths end at
/// 4096 bytes (about 2,000 levels of one-letter names) anyway.
const MAX_DEPTH: usize = 512;

/// A directory tree COPY/ADD can read from.
#[derive(Clone)]
pub struct SourceTree {
    /// The tree's root.
    pub root: PathBuf,
    /// `.dockerignore` rules (only for the build context).
    pub ignore: Option<Matcher>,
    /// Whether owners are kept when copying (true for stages and images, false for the
    /// context: Docker makes context files root-owned unless `--chown`).
    pub keep_owner: bool,
    /// What to call the tree in messages (`build context`, `stage builder`).
    pub label: String,
}

/// One source a path or pattern selected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// Path relative to the tree root, after following symlinks (clamped to the tree).
    pub rel: String,
    /// The path as written or matched, before symlinks were followed (cleaned, relative).
    pub matched: String,
    /// Where `--exclude` patterns start for this source: the directory the wildcard was
    /// expanded in, or for a plain path, the path itself (so it is never excluded).
    pub exclude_base: String,
    /// Whether it is a directory (its contents are copied, not itself).
    pub is_dir: bool,
}

impl Selected {
    /// The name the source gets in a destination directory: its own name as written or
    /// matched (a symlink's name, not its target's).
    pub fn name(&self) -> &str {
        self.matched.rsplit('/').next().unwrap_or_default()
    }
}

/// One entry under a selected source.
pub struct Walked {
    /// Path relative to the source (`""` for the source itself).
    pub rel: String,
    /// The entry on disk.
    pub abs: PathBuf,
    /// Its metadata (symlinks not followed).
    pub meta: fs::Metadata,
}

impl SourceTree {
    fn ignored(&self, rel: &str, is_dir: bool) -> bool {
        match &self.ignore {
            Some(m) => !rel.is_empty() && m.is_excluded(rel, is_dir),
            None => false,
        }
    }

    /// The sources `pattern` names (a path or a wildcard pattern, relative to the tree root).
    ///
    /// As in BuildKit, a wildcard that matches nothing selects nothing (no error), but the
    /// directory it is expanded in must exist; a plain path must exist.
    pub fn select(&self, pattern: &str) -> Result<Vec<Selected>> {
        let parts = components(pattern);
        let split = parts
            .iter()
            .position(|c| glob::has_wildcard(c))
            .unwrap_or(parts.len());
        let fixed = parts[..split].join("/");
        if split == parts.len() {
            let abs = rootpath::resolve(&self.root, &fixed, true)?;
            let rel = rootpath::relative(&self.root, &abs);
            return match fs::symlink_metadata(&abs) {
                // Both the path as written and what it resolves to must be in the context.
                Ok(m) if !self.ignored(&rel, m.is_dir()) && !self.ignored(&fixed, m.is_dir()) => {
                    Ok(vec![Selected {
                        rel,
                        exclude_base: fixed.clone(),
                        matched: fixed,
                        is_dir: m.is_dir(),
                    }])
                }
                Ok(_) => bail!(self.ignored_message(pattern)),
                Err(_) => bail!(self.not_found(pattern, &fixed)),
            };
        }
        let base = rootpath::resolve(&self.root, &fixed, true)?;
        if !base.is_dir() {
            bail!(self.not_found(pattern, &fixed));
        }
        let base_rel = rootpath::relative(&self.root, &base);
        if self.ignored(&base_rel, true)
            && !self
                .ignore
                .as_ref()
                .is_some_and(|m| m.may_include_under(&base_rel))
        {
            bail!(self.ignored_message(&fixed));
        }
        let mut found = Vec::new();
        self.expand(&mut found, &fixed, fixed.clone(), &parts[split..])?;
        found.sort_by(|a: &Selected, b| a.matched.cmp(&b.matched));
        Ok(found)
    }

    fn not_found(&self, pattern: &str, fixed: &str) -> String {
        let what = if fixed.is_empty() || fixed == pattern.trim_matches('/') {
            format!("\"{pattern}\"")
        } else {
            format!("\"{fixed}\" (from \"{pattern}\")")
        };
        format!(
            "{what} not found in the {} ({}): check the path, which is relative to the {}",
            self.label,
            self.root.display(),
            self.label
        )
    }

    fn ignored_message(&self, pattern: &str) -> String {
        format!(
            "\"{pattern}\" is in the {} but excluded by .dockerignore: remove the pattern that \
             matches it, or add \"!{}\" after it",
            self.label,
            pattern.trim_start_matches("./").trim_matches('/')
        )
    }

    fn expand(
        &self,
        out: &mut Vec<Selected>,
        exclude_base: &str,
        base: String,
        rest: &[String],
    ) -> Result<()> {
        let Some((first, rest)) = rest.split_first() else {
            let abs = rootpath::resolve(&self.root, &base, true)?;
            if let Ok(m) = fs::metadata(&abs) {
                let rel = rootpath::relative(&self.root, &abs);
                if !self.ignored(&rel, m.is_dir()) {
                    out.push(Selected {
                        rel,
                        matched: base,
                        exclude_base: exclude_base.to_string(),
                        is_dir: m.is_dir(),
                    });
                }
            }
            return Ok(());
        };
        let join = |name: &str| {
            if base.is_empty() {
                name.to_string()
            } else {
                format!("{base}/{name}")
            }
        };
        if !glob::has_wildcard(first) {
            return self.expand(out, exclude_base, join(first), rest);
        }
        let dir = rootpath::resolve(&self.root, &base, true)?;
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(());
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            if glob::matches(first, &name) {
                self.expand(out, exclude_base, join(&name), rest)?;
            }
        }
        Ok(())
    }

    /// Every entry under a selected source, sorted, the source itself first (`""`).
    /// Entries `.dockerignore` or `excludes` leave out are not listed.
    pub fn walk(&self, sel: &Selected, excludes: Option<&Matcher>) -> Result<Vec<Walked>> {
        let abs = self.root.join(&sel.rel);
        let meta = fs::metadata(&abs).with_context(|| format!("reading {}", sel.matched))?;
        let mut out = vec![Walked {
            rel: String::new(),
            abs: abs.clone(),
            meta,
        }];
        if sel.is_dir {
            self.walk_dir(&abs, &sel.rel, "", excludes, &mut out)?;
        }
        Ok(out)
    }

    /// Whether `--exclude` leaves out the selected source itself (a wildcard match).
    pub fn excludes_source(sel: &Selected, excludes: Option<&Matcher>) -> bool {
        let Some(m) = excludes else { return false };
        let rel = sel
            .matched
            .strip_prefix(&sel.exclude_base)
            .unwrap_or(&sel.matched)
            .trim_start_matches('/');
        !rel.is_empty() && m.is_excluded(rel, sel.is_dir)
    }

    fn walk_dir(
        &self,
        dir: &Path,
        tree_rel: &str,
        src_rel: &str,
        excludes: Option<&Matcher>,
        out: &mut Vec<Walked>,
    ) -> Result<()> {
        if src_rel.split('/').count() >= MAX_DEPTH {
            bail!(
                "{} in the {} is nested more than {MAX_DEPTH} directories deep: skiff does not \
                 copy deeper trees (leave it out with .dockerignore)",
                dir.display(),
                self.label
            );
        }
        let mut names: Vec<_> = fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .filter_map(|e| e.ok())
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for os_name in names {
            let abs = dir.join(&os_name);
            let meta =
                fs::symlink_metadata(&abs).with_context(|| format!("reading {}", abs.display()))?;
            let Some(name) = os_name.to_str().map(str::to_string) else {
                self.refuse_non_utf8(&abs, tree_rel, src_rel, meta.is_dir(), excludes)?;
                continue;
            };
            let t_rel = join_rel(tree_rel, &name);
            let s_rel = join_rel(src_rel, &name);
            let is_dir = meta.is_dir();
            let ignored = self.ignored(&t_rel, is_dir);
            let excluded = excludes.is_some_and(|m| m.is_excluded(&s_rel, is_dir));
            if ignored || excluded {
                let search_ignored = !ignored
                    || self
                        .ignore
                        .as_ref()
                        .is_some_and(|m| m.may_include_under(&t_rel));
                let search_excluded =
                    !excluded || excludes.is_some_and(|m| m.may_include_under(&s_rel));
                if is_dir && search_ignored && search_excluded {
                    // The directory is sent (as its own entry) only when something below it
                    // is, as the context transfer does for the parents of an exception.
                    let at = out.len();
                    self.walk_dir(&abs, &t_rel, &s_rel, excludes, out)?;
                    if out.len() > at {
                        out.insert(
                            at,
                            Walked {
                                rel: s_rel,
                                abs,
                                meta,
                            },
                        );
                    }
                }
                continue;
            }
            out.push(Walked {
                rel: s_rel.clone(),
                abs: abs.clone(),
                meta,
            });
            if is_dir {
                self.walk_dir(&abs, &t_rel, &s_rel, excludes, out)?;
            }
        }
        Ok(())
    }

    /// An entry whose name is not UTF-8 is an error unless `.dockerignore` or `--exclude`
    /// leaves it out: skiff's paths are text (BuildKit, in Go, copies the bytes as they are).
    fn refuse_non_utf8(
        &self,
        abs: &Path,
        tree_rel: &str,
        src_rel: &str,
        is_dir: bool,
        excludes: Option<&Matcher>,
    ) -> Result<()> {
        let lossy = abs.file_name().unwrap_or_default().to_string_lossy();
        let ignored = self.ignored(&join_rel(tree_rel, &lossy), is_dir);
        let excluded = excludes.is_some_and(|m| m.is_excluded(&join_rel(src_rel, &lossy), is_dir));
        if ignored || excluded {
            return Ok(());
        }
        bail!(
            "{} in the {} has a name that is not valid UTF-8: skiff cannot copy it; rename it, \
             or leave it out with .dockerignore",
            abs.display(),
            self.label
        )
    }

    /// The content checksum of the selected sources: path, type, mode, owner (when kept),
    /// symlink target, file contents and which files are hard links of an earlier one (the
    /// copy keeps them linked) — never timestamps, so a `touch` does not change it. This is
    /// the cache key of a COPY from the context and of a `COPY --from` (what it selects in
    /// the stage or image), so only a change of what is copied invalidates it.
    pub fn checksum(&self, selected: &[Selected]) -> Result<String> {
        self.checksum_with(selected, None, None)
    }

    /// [`SourceTree::checksum`] with `--exclude` patterns, reading file contents through a
    /// stat cache when one is given (unchanged files are not read again).
    pub fn checksum_with(
        &self,
        selected: &[Selected],
        excludes: Option<&Matcher>,
        cache: Option<&mut StatCache>,
    ) -> Result<String> {
        // The walks first, then every file's digest at once (read on every core), then the
        // checksum over them in walk order.
        let mut walks = Vec::new();
        for sel in selected {
            if !Self::excludes_source(sel, excludes) {
                walks.push((sel, self.walk(sel, excludes)?));
            }
        }
        let mut linked: HashMap<(u64, u64), String> = HashMap::new();
        let mut first_links = Vec::new();
        let mut to_read: Vec<(&Path, &fs::Metadata)> = Vec::new();
        for (sel, walked) in &walks {
            for w in walked {
                let hard_linked = w.meta.is_file() && w.meta.nlink() > 1;
                let first = if hard_linked {
                    linked.get(&(w.meta.dev(), w.meta.ino())).cloned()
                } else {
                    None
                };
                if first.is_none() && w.meta.is_file() {
                    if hard_linked {
                        let name = format!("{} {}", sel.matched, w.rel);
                        linked.insert((w.meta.dev(), w.meta.ino()), name);
                    }
                    to_read.push((&w.abs, &w.meta));
                }
                first_links.push(first);
            }
        }
        let digests = match cache {
            Some(c) => c.digests(&to_read)?,
            None => {
                let paths: Vec<&Path> = to_read.iter().map(|(p, _)| *p).collect();
                crate::statcache::file_digests(&paths)?
            }
        };
        let mut digests = digests.into_iter();
        let mut first_links = first_links.into_iter();
        let mut h = Sha256::new();
        for (sel, walked) in &walks {
            h.update(format!("source {} {} {}\n", sel.matched, sel.rel, sel.is_dir).as_bytes());
            for w in walked {
                let kind = file_kind(&w.meta);
                let owner = if self.keep_owner {
                    format!("{}:{}", w.meta.uid(), w.meta.gid())
                } else {
                    String::new()
                };
                h.update(
                    format!("{}\0{kind}\0{:o}\0{owner}\0", w.rel, w.meta.mode() & 0o7777)
                        .as_bytes(),
                );
                let first_link = first_links.next().flatten();
                if w.meta.file_type().is_symlink() {
                    h.update(fs::read_link(&w.abs)?.to_string_lossy().as_bytes());
                } else if let Some(first) = first_link {
                    h.update(format!("hardlink {first}").as_bytes());
                } else if w.meta.is_file() {
                    let digest = digests.next().expect("a digest for every file read");
                    h.update(digest.as_bytes());
                }
                h.update(b"\n");
            }
        }
        Ok(format!("sha256:{}", hex::encode(h.finalize())))
    }
}

fn join_rel(base: &str, name: &str) -> String {
    if base.is_empty() {
        name.to_string()
    } else {
        format!("{base}/{name}")
    }
}

fn file_kind(meta: &fs::Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_symlink() {
        "link"
    } else if t.is_dir() {
        "dir"
    } else if t.is_file() {
        "file"
    } else {
        "special"
    }
}

/// The cleaned components of a source path: no empty parts, no `.`; `..` at the top is
/// dropped, as Go's `filepath.Join("/", p)` does (a source never climbs out of its tree).
pub fn components(path: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}
