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
    /// `USER`, with file-operation semantics: [`file_op_owner`]) when it is missing.
    pub(super) fn workdir(&mut self, inst: &TypedInstruction, path: &str) -> Result<()> {
        // As BuildKit's NormalizeWorkdir: an absolute path as written (a trailing `/` kept),
        // a relative one joined to the current directory and cleaned.
        let written = if path.starts_with('/') {
            path.to_string()
        } else {
            clean_path(&absolute(&self.state.config.config.working_dir, path))
        };
        let dir = clean_path(&written);
        self.state.config.config.working_dir = written.clone();
        // BuildKit records the directory as it sets it.
        let created_by = format!("WORKDIR {written}");
        if dir == "/" {
            // The root always exists: current BuildKit makes no layer for it.
            self.meta("WORKDIR", &created_by);
            return Ok(());
        }
        let user = self.state.config.config.user.clone();
        let opts = self.workspace.layer.clone();
        let spec = StepSpec::Workdir(WorkdirSpec {
            path: written.clone(),
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
                let owner = (!user.is_empty()).then(|| file_op_owner(root, &user));
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

/// The owner BuildKit's file operations (WORKDIR's mkdir) give for `USER user[:group]`:
/// a name is looked up in the image's `/etc/passwd` (`/etc/group` for a group), and one that
/// cannot be found (or a missing file) is 0, not an error; a numeric user without a group
/// gets gid = uid; a named one its passwd group.
fn file_op_owner(root: &std::path::Path, spec: &str) -> (u32, u32) {
    let (user, group) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let (uid, user_gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => lookup(root, "/etc/passwd", user)
            .map(|f| (field(&f, 2), field(&f, 3)))
            .unwrap_or((0, 0)),
    };
    let gid = match group {
        None => user_gid,
        Some(g) => g
            .parse::<u32>()
            .unwrap_or_else(|_| lookup(root, "/etc/group", g).map_or(0, |f| field(&f, 2))),
    };
    (uid, gid)
}

/// The fields of the line of `database` (`/etc/passwd`, `/etc/group` inside `root`) whose
/// first field is `name`.
fn lookup(root: &std::path::Path, database: &str, name: &str) -> Option<Vec<String>> {
    let path = crate::rootpath::resolve(root, database, true).ok()?;
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(|line| line.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|fields| fields.first().is_some_and(|f| f == name))
}

/// A numeric field of a passwd or group line (0 when missing or not a number).
fn field(fields: &[String], index: usize) -> u32 {
    fields.get(index).and_then(|f| f.parse().ok()).unwrap_or(0)
}
