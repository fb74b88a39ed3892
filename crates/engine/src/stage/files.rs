//! The layer steps that write files without running anything: `WORKDIR` (creates the
//! directory), `COPY` and `ADD` (plain, or `--link` as a layer of its own).

use super::builder::StageBuilder;
use super::step::Made;
use crate::cachekey::step_key;
use crate::copy::{self, CopyPlan, CopyRequest};
use crate::rootfs::with_writable_rootfs;
use crate::spec::{LayerFormat, StepSpec, WorkdirSpec};
use anyhow::Result;
use skiff_frontend::TypedInstruction;
use skiff_image::image_path::{absolute, clean_path};

impl StageBuilder<'_> {
    /// `WORKDIR path`: the config's working directory, and the directory made (owned by the
    /// `USER`) when it is missing.
    pub(super) fn workdir(&mut self, inst: &TypedInstruction, path: &str) -> Result<()> {
        let dir = clean_path(&absolute(&self.state.config.config.working_dir, path));
        self.state.config.config.working_dir = dir.clone();
        // BuildKit records the resolved directory, not the words written.
        let created_by = format!("WORKDIR {dir}");
        if dir == "/" {
            // The root always exists: current BuildKit makes no layer for it.
            self.meta("WORKDIR", &created_by);
            return Ok(());
        }
        let user = self.state.config.config.user.clone();
        let opts = self.workspace.layer.clone();
        let spec = StepSpec::Workdir(WorkdirSpec {
            path: dir.clone(),
            user: user.clone(),
        });
        let key = step_key(Some(&self.state.key), &spec, Some(&LayerFormat::of(&opts)));
        self.cached_step(inst, key, &created_by, |this, _| {
            let store = &this.workspace.store;
            with_writable_rootfs(store, &this.state.layers, &opts, |root| {
                let target = crate::rootpath::resolve(root, &dir, true)?;
                if target.is_dir() {
                    return Ok(());
                }
                let owner = if user.is_empty() {
                    None
                } else {
                    let u = skiff_sandbox::resolve_user(root, &user)?;
                    Some((u.uid, u.gid))
                };
                crate::destination::mkdir_all(root, &target, owner)
            })
        })
    }

    /// `COPY`/`ADD`: planned (sources selected and checksummed) before the cache lookup.
    pub(super) fn copy(
        &mut self,
        inst: &TypedInstruction,
        req: CopyRequest,
        created_by: &str,
    ) -> Result<()> {
        let workspace = self.workspace;
        let workdir = self.state.config.config.working_dir.clone();
        let plan = copy::plan(
            self.inputs,
            &workspace.store,
            self.steps.progress(),
            &workdir,
            req,
        )?;
        if plan.link {
            return self.copy_link(inst, &plan, created_by);
        }
        let opts = workspace.layer.clone();
        let key = step_key(
            Some(&self.state.key),
            &plan.spec,
            Some(&LayerFormat::of(&opts)),
        );
        self.cached_step(inst, key, created_by, |this, _| {
            with_writable_rootfs(&workspace.store, &this.state.layers, &opts, |root| {
                plan.execute(root)
            })
        })
    }

    /// `COPY --link`/`ADD --link` (see `copy/link.rs`): the copy's own layer, found by a key
    /// without the parent's or made in an empty directory, stacked on the parent's layers.
    fn copy_link(
        &mut self,
        inst: &TypedInstruction,
        plan: &CopyPlan,
        created_by: &str,
    ) -> Result<()> {
        let workspace = self.workspace;
        let opts = &workspace.layer;
        let depth = self.state.layers.len();
        let layer_key = plan.link_layer_key(opts, depth);
        // The step's key follows the parent's: the steps after it see a different rootfs.
        let key = step_key(
            Some(&self.state.key),
            &plan.spec,
            Some(&LayerFormat::of(opts)),
        );
        let no_cache = self.no_cache;
        self.layer_step(inst, key, created_by, |_, _| {
            if !no_cache {
                if let Some(layer) = copy::cached_link_layer(&workspace.store, &layer_key)? {
                    return Ok(Made::Reused(layer));
                }
            }
            let layer = plan.make_link_layer(&workspace.store, opts, depth, &layer_key)?;
            Ok(Made::Ran(Some(layer)))
        })
    }
}
