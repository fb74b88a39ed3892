//! The source of a `COPY --from`: another stage's or an image's layers, keyed by the content
//! of what the COPY selects in them, as BuildKit keys it (so a stage that ran again but
//! produced the same files for those paths does not invalidate the COPY).
//!
//! Checksumming reads every selected file, so it is done once per (layer chain, source
//! pattern, `--exclude`s) and the result kept in the store: layers are immutable, so the
//! same chain always selects the same files. The result is a small blob named by a cache
//! index entry, so `skiff prune` keeps it exactly as long as the entry. A fully cached build
//! therefore neither mounts nor reads the source layers.

use crate::cachekey::step_key;
use crate::dockerignore::Matcher;
use crate::sources::SourceTree;
use crate::spec::{SourceChecksumSpec, StepSpec};
use crate::view::View;
use anyhow::{Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_image::Store;
use std::path::{Path, PathBuf};

/// Layers a COPY reads from, mounted (once) only when something must actually be read.
pub struct LayerSource {
    store: Store,
    layers: Vec<Descriptor>,
    /// What to call the source in messages (`stage builder`, `image alpine`).
    pub label: String,
    view: Option<View>,
}

impl LayerSource {
    /// A source over `layers` (lowest first), not mounted yet.
    pub fn new(store: &Store, layers: Vec<Descriptor>, label: String) -> LayerSource {
        LayerSource {
            store: store.clone(),
            layers,
            label,
            view: None,
        }
    }

    /// The content checksum of what `pattern` selects (see [`SourceTree::checksum_with`]),
    /// and whether it selects nothing. Read from the store when this layer chain was
    /// checksummed for the same pattern and excludes before.
    pub fn checksum(
        &mut self,
        pattern: &str,
        excludes: &[String],
        matcher: Option<&Matcher>,
    ) -> Result<(String, bool)> {
        let key = self.sum_key(pattern, excludes);
        if let Some(found) = self.remembered(&key) {
            return Ok(found);
        }
        let root = self.mounted_root()?;
        let tree = self.tree_at(&root);
        let selected = tree.select(pattern)?;
        let sum = tree.checksum_with(&selected, matcher, None)?;
        let empty = selected.is_empty();
        // Only a lost optimisation when it cannot be written: the next build checksums again.
        let _ = self.remember(&key, &sum, empty);
        Ok((sum, empty))
    }

    /// The tree to copy from: the view mounted while checksumming, or a new one (returned,
    /// so that it stays mounted while the caller reads it).
    pub fn tree(&self) -> Result<(Option<View>, SourceTree)> {
        match &self.view {
            Some(view) => Ok((None, self.tree_at(view.root()))),
            None => {
                let view = View::mount(&self.store, &self.layers)?;
                let tree = self.tree_at(view.root());
                Ok((Some(view), tree))
            }
        }
    }

    fn mounted_root(&mut self) -> Result<PathBuf> {
        if let Some(view) = &self.view {
            return Ok(view.root().to_path_buf());
        }
        let view = View::mount(&self.store, &self.layers)?;
        let root = view.root().to_path_buf();
        self.view = Some(view);
        Ok(root)
    }

    fn tree_at(&self, root: &Path) -> SourceTree {
        SourceTree {
            root: root.to_path_buf(),
            ignore: None,
            keep_owner: true,
            label: self.label.clone(),
        }
    }

    fn sum_key(&self, pattern: &str, excludes: &[String]) -> String {
        let spec = StepSpec::SourceChecksum(SourceChecksumSpec {
            layers: self.layers.iter().map(|l| l.digest().to_string()).collect(),
            pattern: pattern.to_string(),
            excludes: excludes.to_vec(),
        });
        step_key(None, &spec, None)
    }

    fn remembered(&self, key: &str) -> Option<(String, bool)> {
        let blob = self.store.cache_get(key).ok()??;
        crate::remote_cache::noted(&self.store, key, &blob);
        let text = String::from_utf8(self.store.read_blob(&blob).ok()?).ok()?;
        let (sum, count) = text.trim_end().split_once('\n')?;
        Some((sum.to_string(), count == "empty"))
    }

    fn remember(&self, key: &str, sum: &str, empty: bool) -> Result<()> {
        // Not JSON, so prune keeps the blob as a leaf of the cache entry.
        let text = format!("{sum}\n{}\n", if empty { "empty" } else { "some" });
        let (digest, _) = self
            .store
            .put_blob(text.as_bytes())
            .context("storing a COPY --from checksum")?;
        self.store.cache_put(key, &digest)?;
        crate::remote_cache::noted(&self.store, key, &digest);
        Ok(())
    }
}
