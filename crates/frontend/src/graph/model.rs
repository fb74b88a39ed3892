//! The values a plan is made of: the planner's options, stages, their bases and dependencies,
//! skipped stages and global ARGs.

use crate::ast::Span;
use crate::instructions::{FromCommand, TypedInstruction};
use crate::shell::Env;

/// What the planner needs besides the Dockerfile (the `docker build` flags that shape the graph).
#[derive(Clone, Debug, Default)]
pub struct PlanOptions {
    /// `--target`: the stage to build (default: the last one). Matched case-insensitively.
    pub target: Option<String>,
    /// `--build-arg` values. They override ARG defaults everywhere and the automatic args.
    pub build_args: Env,
    /// The automatic global args (`BUILDPLATFORM`, `TARGETARCH`, …), see [`super::automatic_args`].
    pub automatic_args: Env,
    /// The names of the `--build-context`s: a stage of the same name is replaced by that
    /// context (its instructions are not built), as in BuildKit.
    pub named_contexts: Vec<String>,
}

/// The base a stage starts from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`: an empty filesystem.
    Scratch,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image reference to pull (expanded, as written: not normalized).
    Image(String),
}

/// How one stage needs another.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DependencyKind {
    /// `FROM <stage>`.
    Base,
    /// `COPY --from=<stage>`.
    CopyFrom,
    /// `RUN --mount=…,from=<stage>`.
    MountFrom,
}

/// One edge of the stage graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dependency {
    /// The stage needed, by index.
    pub stage: usize,
    /// Through which instruction.
    pub kind: DependencyKind,
    /// Where the reference is written.
    pub span: Span,
}

/// One stage of the Dockerfile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedStage {
    /// 0-based position among the Dockerfile's stages (what `COPY --from=1` means).
    pub index: usize,
    /// The `AS` name, lowercased.
    pub name: Option<String>,
    /// The FROM instruction, raw.
    pub from: FromCommand,
    /// The whole FROM instruction.
    pub from_span: Span,
    /// The base after expansion with the global ARGs.
    pub base_name: String,
    /// `--platform` after expansion with the global ARGs.
    pub platform: Option<String>,
    /// What `base_name` resolved to.
    pub base: Base,
    /// The instructions after FROM, typed and unexpanded, in order.
    pub instructions: Vec<TypedInstruction>,
    /// The ONBUILD triggers of the parent stage when the base is a stage (its ONBUILD
    /// instructions' triggers). They run first in this stage, so their `--from` references are
    /// dependencies of this stage. The engine runs them from the base config's `OnBuild`,
    /// which holds the same triggers; this list is for planning and display.
    pub triggers: Vec<TypedInstruction>,
    /// The stages this one needs (base, `--from`, mounts), in the order they are referenced.
    pub deps: Vec<Dependency>,
    /// Images referenced by `COPY --from` or `RUN --mount=from=` (not the base), in order.
    pub images: Vec<String>,
}

impl PlannedStage {
    /// The name, or `#<index>` for an unnamed stage: how messages and `--dry-run` refer to it.
    pub fn label(&self) -> String {
        self.name
            .clone()
            .unwrap_or_else(|| format!("#{}", self.index))
    }
}

/// A stage the target does not need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedStage {
    /// Its index.
    pub index: usize,
    /// Its name, if any.
    pub name: Option<String>,
    /// Why it is not built, for people.
    pub reason: String,
}

/// A global ARG (declared before the first FROM) and the value it resolved to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalArg {
    /// The name.
    pub name: String,
    /// The `--build-arg` value, else the expanded default, else `None`.
    pub value: Option<String>,
}
