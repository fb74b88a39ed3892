//! Building one stage: its base, then each instruction in order with Docker's semantics.
//!
//! Variables are expanded at dispatch time with the stage's environment (ARG values first,
//! ENV overriding them), exactly when BuildKit does it. Steps that make a layer (RUN, COPY,
//! ADD, WORKDIR) are looked up in the cache by key first ([`step`]); metadata steps only
//! change the config and the key ([`meta`]).

mod builder;
mod env;
mod files;
mod meta;
mod run;
mod step;

use crate::cachekey::step_key;
use crate::config::History;
use crate::copy::CopyRequest;
use crate::error::{at, diag};
use crate::spec::{MetaSpec, StepSpec};
use crate::state::ImageState;
use anyhow::{anyhow, Result};
pub(crate) use builder::{StageBuilder, StageParts};
use env::{ArgValues, StageArgs};
use skiff_frontend::graph::{Base, PlannedStage};
use skiff_frontend::instructions::ExpansionScope;
use skiff_frontend::{Command, TypedInstruction};
use skiff_image::registry::Platform;
use std::time::Instant;

impl<'a> StageBuilder<'a> {
    /// Prepares a stage on top of its base (pulled, another stage's result, or scratch).
    /// `no_cache`: the stage ignores the cache (`--no-cache`, `--no-cache-filter`).
    pub fn new(
        parts: StageParts<'a>,
        stage: &'a PlannedStage,
        no_cache: bool,
    ) -> Result<StageBuilder<'a>> {
        let StageParts {
            inputs,
            workspace,
            steps,
        } = parts;
        // Numbered like BuildKit: FROM an image, then each step that makes a layer.
        let plan = inputs.plan;
        let label = crate::progress::stage_label(
            stage.name.as_deref(),
            stage.index,
            plan.stages.len() + plan.skipped.len(),
        );
        let from_image = matches!(stage.base, Base::Image(_));
        let total = usize::from(from_image)
            + (stage.instructions.iter())
                .filter(|i| makes_step(&i.command))
                .count();
        let state = base_state(parts, stage, label.as_deref(), total)?;
        let args = StageArgs::inherit(&state.args);
        let mut builder = StageBuilder {
            inputs,
            workspace,
            steps,
            stage,
            state,
            args,
            cmd_set: false,
            position: usize::from(from_image),
            total,
            label,
            no_cache,
            span: stage.from_span,
        };
        builder.run_onbuild_triggers()?;
        Ok(builder)
    }

    /// Runs every instruction; returns the stage's final image. The target stage's history
    /// gets its times filled in as BuildKit's exporter does (see
    /// [`crate::state::fill_history_times`]).
    pub fn build(mut self) -> Result<ImageState> {
        for inst in &self.stage.instructions {
            self.span = inst.keyword_span;
            self.dispatch(inst).map_err(|e| at(inst.keyword_span, e))?;
        }
        if self.stage.index == self.inputs.plan.target {
            let now = crate::time::history_time(self.workspace.layer.source_date_epoch);
            crate::state::fill_history_times(&mut self.state.config, &now);
        }
        self.state.args = self.args.scope();
        Ok(self.state)
    }

    fn run_onbuild_triggers(&mut self) -> Result<()> {
        let triggers = self.state.config.config.on_build.take().unwrap_or_default();
        self.span = self.stage.from_span;
        for trigger in triggers {
            let parsed = skiff_frontend::parse(&trigger).map_err(|d| {
                anyhow!(
                    "ONBUILD trigger of the base image {trigger:?}: {}",
                    d.message
                )
            })?;
            for inst in &parsed.instructions {
                let typed = skiff_frontend::instructions::parse_instruction(inst, &parsed.source)
                    .map_err(|d| anyhow!("ONBUILD trigger {trigger:?}: {}", d.message))?;
                // A trigger that makes a layer is a numbered step too.
                self.total += usize::from(makes_step(&typed.command));
                self.dispatch(&typed)
                    .map_err(|e| at(self.stage.from_span, e))?;
            }
        }
        Ok(())
    }

    /// The name of the next numbered step of this stage (`[builder 3/6] RUN go build`).
    fn next_step_name(&mut self, inst: &TypedInstruction) -> String {
        self.position += 1;
        let text = inst
            .original
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let text = if text.len() > 120 {
            format!("{}…", &text[..text.floor_char_boundary(117)])
        } else {
            text
        };
        crate::progress::step_name(self.label.as_deref(), self.position, self.total, &text)
    }

    /// Builds one instruction: each one changes the config and gives its history text in one
    /// place; the layer steps go through the cache.
    fn dispatch(&mut self, inst: &TypedInstruction) -> Result<()> {
        let env = self.args.expansion_env(&self.state.config.config.env);
        let command = match inst.command.expansion() {
            ExpansionScope::Stage => (inst.command)
                .expand(&self.inputs.lexer, &env)
                .map_err(diag)?,
            _ => inst.command.clone(),
        };
        let config = &mut self.state.config;
        let created_by = match &command {
            Command::From(_) => unreachable!("the planner splits stages at FROM"),
            Command::Arg(arg) => {
                let values = ArgValues {
                    lexer: &self.inputs.lexer,
                    build_args: &self.inputs.build_args,
                    global: &self.inputs.plan.global_env,
                };
                self.args.declare(arg, &env, &values)?
            }
            Command::Env(e) => {
                for kv in &e.vars {
                    self.args.env_set(&kv.key.value);
                }
                meta::env(config, e)
            }
            Command::Label(l) => meta::label(config, l),
            Command::Expose(e) => meta::expose(config, e)?,
            Command::User(u) => meta::user(config, u),
            Command::Volume(v) => meta::volume(config, v),
            Command::StopSignal(s) => meta::stop_signal(config, s),
            Command::Shell(s) => meta::shell(config, s),
            Command::Maintainer(m) => meta::maintainer(config, m),
            Command::Cmd(c) => {
                self.cmd_set = true;
                meta::cmd(config, c)
            }
            Command::Entrypoint(e) => meta::entrypoint(config, e, self.cmd_set),
            Command::Healthcheck(h) => meta::healthcheck(config, h),
            Command::Onbuild(o) => {
                // No history entry (as in BuildKit), but the config changed: so does the key.
                let text = meta::onbuild(config, o);
                self.advance_key(command.name(), &text);
                return Ok(());
            }
            Command::Workdir(w) => return self.workdir(inst, &w.path.value),
            Command::Run(r) => return self.run(inst, r),
            Command::Copy(c) => {
                let req = CopyRequest::try_from(c).map_err(diag)?;
                return self.copy(inst, req.clone(), &req.history_text());
            }
            Command::Add(a) => {
                let req = CopyRequest::try_from(a).map_err(diag)?;
                return self.copy(inst, req.clone(), &req.history_text());
            }
        };
        self.meta(command.name(), &created_by);
        Ok(())
    }

    /// A metadata-only step: history entry without a layer, and a new key.
    fn meta(&mut self, instruction: &str, created_by: &str) {
        self.advance_key(instruction, created_by);
        self.push_history(created_by, true);
    }

    /// Folds a metadata change into the cache key, so later steps never reuse a result
    /// built under another config or history.
    fn advance_key(&mut self, instruction: &str, change: &str) {
        let spec = StepSpec::Meta(MetaSpec {
            instruction: instruction.to_string(),
            change: change.to_string(),
        });
        self.state.key = step_key(Some(&self.state.key), &spec, None);
    }

    /// Appends a history entry. A layer step is stamped now (or `SOURCE_DATE_EPOCH`); a
    /// metadata step only with `SOURCE_DATE_EPOCH`: otherwise it gets its time at the end of
    /// the build, as in BuildKit ([`crate::state::fill_history_times`]).
    fn push_history(&mut self, created_by: &str, empty_layer: bool) {
        let epoch = self.workspace.layer.source_date_epoch;
        let created = if empty_layer && epoch.is_none() {
            None
        } else {
            Some(crate::time::history_time(epoch))
        };
        if created.is_some() {
            self.state.config.created = created.clone();
        }
        self.state.config.history.push(History {
            created,
            created_by: Some(created_by.to_string()),
            author: None,
            comment: Some("buildkit.dockerfile.v0".into()),
            empty_layer,
        });
    }
}

/// The stage's base as a state: scratch, another stage's result, or an image (its own
/// numbered `FROM` step, as in BuildKit).
fn base_state(
    parts: StageParts,
    stage: &PlannedStage,
    label: Option<&str>,
    total: usize,
) -> Result<ImageState> {
    let inputs = parts.inputs;
    let platform = stage_platform(stage, inputs.platform()).map_err(|e| at(stage.from_span, e))?;
    let reference = match &stage.base {
        Base::Scratch => return Ok(ImageState::scratch(&platform)),
        Base::Stage(i) => return inputs.stage_result(*i),
        Base::Image(reference) => reference,
    };
    let base = if inputs.is_named_context(&stage.base_name) {
        format!("{} (build context)", stage.base_name)
    } else {
        skiff_image::reference::Reference::parse(&stage.base_name)
            .map_or_else(|_| stage.base_name.clone(), |r| r.to_string())
    };
    let name = crate::progress::step_name(label, 1, total, &format!("FROM {base}"));
    let step = parts
        .steps
        .start(name)
        .map_err(|e| at(stage.from_span, e))?;
    let started = Instant::now();
    match inputs.image_state_for(reference, &platform) {
        Ok(state) => {
            parts.steps.done(step, started)?;
            Ok(state)
        }
        Err(e) => Err(step::step_failed(
            parts.steps,
            stage.index,
            step,
            stage.from_span,
            e,
        )),
    }
}

/// The platform a stage's base is for: its `FROM --platform` (expanded, so
/// `$BUILDPLATFORM` is the host's), else the build's target platform.
fn stage_platform(stage: &PlannedStage, target: &Platform) -> Result<Platform> {
    match &stage.platform {
        Some(p) => Platform::parse_lenient(p),
        None => Ok(target.clone()),
    }
}

/// Whether the instruction is a numbered step (it may make a layer, so it goes through the
/// cache); metadata instructions only change the config, as in BuildKit's numbering.
fn makes_step(command: &Command) -> bool {
    match command {
        // `WORKDIR /` makes no layer (see `StageBuilder::workdir`).
        Command::Workdir(w) => w.path.value != "/",
        c => matches!(c, Command::Run(_) | Command::Copy(_) | Command::Add(_)),
    }
}
