//! `COPY --link` and `ADD --link` as BuildKit's `docker/dockerfile:1` runs them: the copy is
//! made into an empty directory (where only the destination's missing parents are created, as
//! plain 0755 directories owned by `--chown` or root), that directory becomes a layer of its
//! own, and the step's result is the parent's layers with that layer on top. Nothing of the
//! parent is read: a symlink on the destination path in the parent is not followed (the
//! layer's directories replace it, as BuildKit documents), and `--chown` takes numeric ids
//! only (BuildKit fails on a name: there is no `/etc/passwd` to look it up in).
//!
//! The layer is cached under a key without the parent's: the expanded instruction, the
//! sources' content and what the copy depends on (absolute destination, ids, options). When an
//! earlier step or the base image changes, the same layer blob is stacked onto the new parent
//! and the step is reported cached; the step's own key still follows the parent's, since the
//! steps after it see a different rootfs.
//!
//! One difference from BuildKit: skiff clamps layer times to a logical clock that counts the
//! layers below (see [`crate::time::layer_mtime_clamp`]), so that clock value is part of the
//! layer's key: a parent with as many layers (a changed `RUN`, a rebuilt base image of the
//! same shape) reuses the layer; one with more or fewer layers makes it again.

use crate::cachekey::step_key;
use crate::config::ImageConfig;
use crate::layer_options::LayerOptions;
use crate::rootfs::{self, NewLayer};
use crate::scratch::WorkDir;
use crate::spec::{LayerFormat, LinkLayerSpec, StepSpec};
use crate::state::ImageState;
use anyhow::{anyhow, Context as _, Result};
use skiff_image::Store;
use std::path::Path;

/// `--chown` of a `--link` copy as `uid:gid`: numbers (or `root`, which BuildKit's
/// `llb.WithUser` takes as 0) only; a user given alone is also the group, as in a plain COPY.
pub(super) fn numeric_chown(spec: &str) -> Result<String> {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let id = |name: &str, what: &str, file: &str| -> Result<u32> {
        match name {
            "" | "root" => Ok(0),
            _ => name.parse::<u32>().map_err(|_| {
                anyhow!(
                    "--chown={spec} cannot be used with --link: the {what} \"{name}\" would have \
                     to be looked up in the stage's {file}, which a --link copy does not read \
                     (BuildKit fails too); use numeric ids (--chown=1000:1000) or drop --link"
                )
            }),
        }
    };
    let uid = id(user, "user", "/etc/passwd")?;
    let gid = match group.filter(|g| !g.is_empty()) {
        Some(g) => id(g, "group", "/etc/group")?,
        None => uid,
    };
    Ok(format!("{uid}:{gid}"))
}

/// The key a `--link` layer is cached under: the copy's own spec and how layers are written
/// (compression, the time clamp of a layer `depth` layers up), not the parent.
pub(super) fn layer_key(spec: &StepSpec, opts: &LayerOptions, depth: usize) -> String {
    let spec = StepSpec::LinkLayer(LinkLayerSpec {
        copy: Box::new(spec.clone()),
        mtime_clamp: crate::time::layer_mtime_clamp(opts.source_date_epoch, depth),
    });
    step_key(None, &spec, Some(&LayerFormat::of(opts)))
}

/// Runs `copy` into an empty directory, writes it as a layer meant to sit `depth` layers up
/// (the empty layer when nothing was copied), and records it under `key`.
pub(super) fn make_layer(
    store: &Store,
    opts: &LayerOptions,
    depth: usize,
    key: &str,
    copy: impl FnOnce(&Path) -> Result<()>,
) -> Result<NewLayer> {
    let work = WorkDir::new(store, "link-")?;
    let root = work.path().join("rootfs");
    std::fs::create_dir(&root).context("creating the --link copy's directory")?;
    copy(&root)?;
    let layer = match rootfs::make_layer(store, &root, opts, depth)? {
        Some(layer) => layer,
        None => crate::state::empty_layer(store, opts)?,
    };
    record(store, key, &layer)?;
    Ok(layer)
}

/// The `--link` layer recorded under `key`, if any.
pub fn cached_link_layer(store: &Store, key: &str) -> Result<Option<NewLayer>> {
    let Some(manifest) = store.cache_get(key)? else {
        return Ok(None);
    };
    let Ok(state) = ImageState::load(store, &manifest) else {
        return Ok(None);
    };
    Ok(
        match (&state.layers[..], &state.config.rootfs.diff_ids[..]) {
            ([layer], [diff_id]) if store.has_blob(layer.digest()) => {
                // A diff_id that does not parse is a miss, like a config that does not load.
                diff_id.parse().ok().map(|diff_id| {
                    crate::remote_cache::noted(store, key, &manifest);
                    NewLayer {
                        descriptor: layer.clone(),
                        diff_id,
                    }
                })
            }
            _ => None,
        },
    )
}

/// Records a `--link` layer as a one-layer image under `key`, so the cache index (and
/// `skiff prune`, which keeps what it points at) holds the layer without any parent.
fn record(store: &Store, key: &str, layer: &NewLayer) -> Result<()> {
    let mut config = ImageConfig::default();
    config.rootfs.diff_ids.push(layer.diff_id.to_string());
    let state = ImageState {
        config,
        layers: vec![layer.descriptor.clone()],
        key: key.to_string(),
        args: crate::state::ArgScope::default(),
    };
    let manifest = state.commit(store)?;
    store.cache_put(key, manifest.digest())?;
    crate::remote_cache::noted(store, key, manifest.digest());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::numeric_chown;

    #[test]
    fn numeric_ids_and_root_are_taken_names_are_refused() {
        assert_eq!(numeric_chown("10").unwrap(), "10:10");
        assert_eq!(numeric_chown("10:20").unwrap(), "10:20");
        assert_eq!(numeric_chown("root:root").unwrap(), "0:0");
        assert_eq!(numeric_chown("1000:").unwrap(), "1000:1000");
        let err = numeric_chown("nobody").unwrap_err().to_string();
        assert!(
            err.contains("\"nobody\"") && err.contains("/etc/passwd"),
            "{err}"
        );
        let err = numeric_chown("10:staff").unwrap_err().to_string();
        assert!(
            err.contains("\"staff\"") && err.contains("/etc/group"),
            "{err}"
        );
    }
}
