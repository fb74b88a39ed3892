//! The layer-step protocol: a numbered step is looked up in the cache by its key; on a miss
//! its work runs and its result (a layer, or the empty layer) is committed under the key.
//! How the step ends is reported through [`crate::steps::Steps`], which asks the scheduler's
//! board whether the build is failing.

use super::builder::StageBuilder;
use crate::error::BuildError;
use crate::rootfs::NewLayer;
use crate::state::ImageState;
use crate::steps::Steps;
use anyhow::Result;
use skiff_frontend::ast::Span;
use skiff_frontend::TypedInstruction;
use std::time::Instant;

/// What the work of a layer step produced.
pub(super) enum Made {
    /// It ran: its layer, `None` when it changed nothing.
    Ran(Option<NewLayer>),
    /// It found its layer in the cache (a `COPY --link` layer stacked on a new parent).
    Reused(NewLayer),
}

impl StageBuilder<'_> {
    /// Looks the key up; on a miss runs `make` and commits the result under the key.
    pub(super) fn cached_step(
        &mut self,
        inst: &TypedInstruction,
        key: String,
        created_by: &str,
        make: impl FnOnce(&Self, usize) -> Result<Option<NewLayer>>,
    ) -> Result<()> {
        self.layer_step(inst, key, created_by, |this, step| {
            make(this, step).map(Made::Ran)
        })
    }

    /// [`Self::cached_step`] whose `make` may hand back a layer it found in the cache (a
    /// `COPY --link` layer stacked on a new parent): the step is then reported cached.
    pub(super) fn layer_step(
        &mut self,
        inst: &TypedInstruction,
        key: String,
        created_by: &str,
        make: impl FnOnce(&Self, usize) -> Result<Made>,
    ) -> Result<()> {
        let steps = self.steps;
        let step = steps.start(self.next_step_name(inst))?;
        let store = &self.workspace.store;
        if !self.no_cache {
            if let Some(manifest) = crate::remote_cache::cache_get(store, &key)? {
                if let Ok(mut cached) = ImageState::load(store, &manifest) {
                    crate::remote_cache::noted(store, &key, &manifest);
                    cached.key = key;
                    self.state = cached;
                    steps.cached(step);
                    return Ok(());
                }
            }
        }
        let started = Instant::now();
        let (layer, reused) = match make(self, step) {
            Ok(Made::Ran(layer)) => (layer, false),
            Ok(Made::Reused(layer)) => (Some(layer), true),
            Err(err) => return Err(self.step_failed(step, err)),
        };
        // BuildKit writes a layer for every RUN/COPY/ADD/WORKDIR: the empty tar when the step
        // changed nothing.
        let layer = match layer {
            Some(layer) => layer,
            None => crate::state::empty_layer(store, &self.workspace.layer)?,
        };
        self.state.layers.push(layer.descriptor);
        self.state
            .config
            .rootfs
            .diff_ids
            .push(layer.diff_id.to_string());
        self.push_history(created_by, false);
        self.state.key = key.clone();
        let manifest = self.state.commit(store)?;
        store.cache_put(&key, manifest.digest())?;
        crate::remote_cache::noted(store, &key, manifest.digest());
        if reused {
            steps.cached(step);
            Ok(())
        } else {
            steps.done(step, started)
        }
    }

    /// Reports that `step` failed: see [`step_failed`].
    pub(super) fn step_failed(&self, step: usize, err: anyhow::Error) -> anyhow::Error {
        step_failed(self.steps, self.stage.index, step, self.span, err)
    }
}

/// Reports that `step` of stage `stage` failed and returns what the stage fails with: the
/// step's error at `span` in the Dockerfile, or `Cancelled` when the build had failed already.
pub(super) fn step_failed(
    steps: &Steps,
    stage: usize,
    step: usize,
    span: Span,
    err: anyhow::Error,
) -> anyhow::Error {
    let err = steps.failed(step, stage, err);
    if err.is::<BuildError>() || crate::error::is_cancelled(&err) {
        return err;
    }
    BuildError::Step {
        step: Some(step),
        span,
        source: err,
    }
    .into()
}
