//! The state of one stage while its instructions run, and the parts every stage is built
//! with: the value the instruction modules (`meta`, `env`, `run`, `files`, `step`) work on.

use super::env::StageArgs;
use crate::inputs::Inputs;
use crate::state::ImageState;
use crate::steps::Steps;
use crate::workspace::Workspace;
use skiff_frontend::ast::Span;
use skiff_frontend::graph::PlannedStage;

/// What every stage of a build is built with.
#[derive(Clone, Copy)]
pub(crate) struct StageParts<'a> {
    /// The context, named contexts, other stages, base images, build args.
    pub inputs: &'a Inputs<'a>,
    /// The store and the step options.
    pub workspace: &'a Workspace,
    /// The step counter and reporter.
    pub steps: &'a Steps<'a>,
}

/// Everything a stage tracks while its instructions run.
pub(crate) struct StageBuilder<'a> {
    pub(super) inputs: &'a Inputs<'a>,
    pub(super) workspace: &'a Workspace,
    pub(super) steps: &'a Steps<'a>,
    pub(super) stage: &'a PlannedStage,
    pub(super) state: ImageState,
    /// The ARGs declared so far and how they override the image's `Env`.
    pub(super) args: StageArgs,
    /// Whether this stage ran `CMD` (an `ENTRYPOINT` then keeps it; else it clears the CMD).
    pub(super) cmd_set: bool,
    /// Step counter inside the stage, for `[stage i/n]`.
    pub(super) position: usize,
    pub(super) total: usize,
    /// The stage part of step names (`builder`, `stage-1`; none in a one-stage Dockerfile).
    pub(super) label: Option<String>,
    pub(super) no_cache: bool,
    /// Where the instruction being built is written (for a trigger of the base image's
    /// `ONBUILD`, the stage's `FROM`).
    pub(super) span: Span,
}
