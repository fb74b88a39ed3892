//! The stage graph: stages by name and index, `--from` references, the target and what it needs.
//!
//! [`plan`] follows BuildKit's `dockerfile2llb` up to the point where it would start building:
//! global ARGs (before the first FROM) are resolved with the `--build-arg` values, each FROM is
//! expanded with them, stage names are matched case-insensitively, `FROM <stage>`,
//! `COPY --from=<stage|index|image>` and `RUN --mount=from=<stage|image>` become dependencies,
//! and only the stages the target needs are kept.
//!
//! Where BuildKit would quietly pull an image or fail later, skiff stops with a pointed error:
//! a reference to a stage defined later (or to the stage itself), and a `--from` that names no
//! stage but is a near-miss of one (`bulid` for `builder`), which BuildKit would try to pull.
//! Since every stage reference must point backwards, the graph has no cycles by construction.
//!
//! # How the engine walks a plan
//!
//! ```text
//! let dockerfile = skiff_frontend::parse(&text)?;
//! let plan = graph::plan(&dockerfile, &PlanOptions { target, build_args, automatic_args })?;
//! let lexer = Lexer::new(dockerfile.escape);
//! for group in &plan.groups {                 // stages of one group may run in parallel
//!     for &index in group {
//!         let stage = plan.stage(index).unwrap();
//!         // stage.base: Scratch | Stage(j) (j's result) | Image(r) (pull r for stage.platform)
//!         let mut env = /* the base's Env, PATH defaulted */;
//!         // first the base's ONBUILD triggers (its config's `OnBuild`), then:
//!         for t in &stage.instructions {
//!             match &t.command {
//!                 Command::Arg(arg) => {
//!                     for (k, v) in arg.resolve(&lexer, &env, &build_args, &plan.global_env)? {
//!                         if let Some(v) = v { env.set(k, v) }
//!                     }
//!                 }
//!                 other => {
//!                     let cmd = other.expand(&lexer, &env)?;   // see Command::expansion()
//!                     // COPY --from / RUN --mount from=: plan.source(value, is_mount)
//!                     // ENV: env.set(key, value) for each pair after expansion
//!                 }
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! Not handled here: named build contexts (`--build-context name=…`, which BuildKit lets
//! replace a stage or image of that name) and ONBUILD triggers of base images.

mod args;
mod model;
mod refs;
mod stages;
mod syntax;

pub use model::{
    Base, Dependency, DependencyKind, GlobalArg, PlanOptions, PlannedStage, SkippedStage,
};
pub use refs::Source;

use crate::ast::Dockerfile;
use crate::diagnostics::{suggest, Diagnostic};
use crate::instructions::{self, Checks, Command};
use crate::shell::{Env, Lexer};

/// The checked build plan: what to build, in which order, and what can run in parallel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// The global ARGs in order, resolved.
    pub global_args: Vec<GlobalArg>,
    /// What a stage's `ARG NAME` without a default sees when no `--build-arg` is given:
    /// the automatic args and the global ARGs that have a value. Pass it as `globals` to
    /// [`crate::instructions::ArgCommand::resolve`].
    pub global_env: Env,
    /// The stages to build, in Dockerfile order (every dependency comes before its user).
    pub stages: Vec<PlannedStage>,
    /// Parallel groups: stage indices whose dependencies are all in earlier groups.
    /// Stages of one group do not depend on each other.
    pub groups: Vec<Vec<usize>>,
    /// The stages not built, with the reason.
    pub skipped: Vec<SkippedStage>,
    /// The index of the target stage (the last one built).
    pub target: usize,
    /// Non-fatal findings: parser warnings, duplicate stage names, FROM naming a later stage.
    pub warnings: Vec<Diagnostic>,
    /// Every stage's name and index, for [`Plan::source`].
    names: Vec<(String, usize)>,
    /// How many stages the Dockerfile has, for [`Plan::source`].
    stage_count: usize,
}

impl Plan {
    /// The planned stage with Dockerfile index `index`, if it is built.
    pub fn stage(&self, index: usize) -> Option<&PlannedStage> {
        self.stages.iter().find(|s| s.index == index)
    }

    /// What a `COPY --from` value (`mount_from` false) or a `RUN --mount` `from=` value
    /// (`mount_from` true) refers to, resolved the way the planner resolved it.
    pub fn source(&self, reference: &str, mount_from: bool) -> Source {
        refs::lookup(&self.names, self.stage_count, reference, mount_from)
    }
}

/// A platform's parts, as the automatic platform args spell them. The frontend takes them
/// apart from any platform type, so the builder hands its typed platform over as it is
/// instead of formatting it into a string that would be split again here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlatformParts<'a> {
    /// `linux`, …
    pub os: &'a str,
    /// `amd64`, `arm64`, `arm`, …
    pub arch: &'a str,
    /// `v7` for `arm`, …
    pub variant: Option<&'a str>,
}

/// BuildKit's automatic platform args for a build on `build` producing `target`:
/// `BUILDPLATFORM` (`os/arch[/variant]`), `BUILDOS`, `BUILDARCH`, `BUILDVARIANT`,
/// `TARGETPLATFORM`, `TARGETOS`, `TARGETARCH`, `TARGETVARIANT`.
pub fn automatic_args(build: PlatformParts, target: PlatformParts) -> Env {
    let mut env = Env::new();
    for (prefix, p) in [("BUILD", build), ("TARGET", target)] {
        let platform = match p.variant {
            Some(variant) => format!("{}/{}/{variant}", p.os, p.arch),
            None => format!("{}/{}", p.os, p.arch),
        };
        env.set(format!("{prefix}PLATFORM"), platform);
        env.set(format!("{prefix}OS"), p.os);
        env.set(format!("{prefix}ARCH"), p.arch);
        env.set(format!("{prefix}VARIANT"), p.variant.unwrap_or_default());
    }
    env
}

/// Checks a parsed Dockerfile and plans the build of `options.target`.
pub fn plan(dockerfile: &Dockerfile, options: &PlanOptions) -> Result<Plan, Diagnostic> {
    syntax::check(dockerfile)?;
    // BuildKit checks every stage's instructions as it parses them, but their values only when
    // it builds them: unneeded stages get the parse-time checks, needed ones all checks below.
    let typed = dockerfile
        .instructions
        .iter()
        .map(|i| instructions::parse_instruction_with(i, &dockerfile.source, Checks::ParseTime))
        .collect::<Result<Vec<_>, _>>()?;
    let lexer = Lexer::new(dockerfile.escape);
    let mut warnings: Vec<Diagnostic> = dockerfile
        .warnings
        .iter()
        .map(|w| Diagnostic::warning(w.message.clone(), Some(w.span)))
        .collect();
    if typed.is_empty() {
        return Err(Diagnostic::error("the Dockerfile cannot be empty", None)
            .with_hint("start with FROM <image>"));
    }

    let first_from = typed
        .iter()
        .position(|t| matches!(t.command, Command::From(_)));
    let globals_end = first_from.unwrap_or(typed.len());
    for t in &typed[..globals_end] {
        if !matches!(t.command, Command::Arg(_)) {
            return Err(Diagnostic::error(
                "no build stage in current context",
                Some(t.keyword_span),
            )
            .with_label(format!("{} before the first FROM", t.command.name()))
            .with_hint("only ARG may come before the first FROM; add FROM <image> above"));
        }
    }
    let Some(first_from) = first_from else {
        return Err(
            Diagnostic::error("dockerfile contains no stages to build", None)
                .with_hint("add FROM <image>"),
        );
    };
    let (global_args, global_env) = args::resolve_globals(&typed[..first_from], &lexer, options)?;

    let mut stages = stages::split(&typed[first_from..], &lexer, &global_env, &mut warnings)?;
    stages::replace_named(&mut stages, &options.named_contexts);
    stages::fill_triggers(&mut stages);
    refs::link(&mut stages)?;
    let target = find_target(&stages, options.target.as_deref())?;

    let mut needed = vec![false; stages.len()];
    mark_needed(&stages, target, &mut needed);
    stages::check_values(dockerfile, first_from, &mut stages, &needed, &mut warnings)?;
    stages::fill_triggers(&mut stages);
    let target_label = stages[target].label();
    let mut skipped = Vec::new();
    let names = stages
        .iter()
        .filter_map(|s| s.name.clone().map(|n| (n, s.index)))
        .collect();
    let stage_count = stages.len();
    let mut kept = Vec::new();
    for stage in stages {
        if needed[stage.index] {
            kept.push(stage);
        } else {
            let reason = if stage.index > target {
                format!("defined after the target stage \"{target_label}\", which does not use it")
            } else {
                format!("the target stage \"{target_label}\" does not depend on it")
            };
            skipped.push(SkippedStage {
                index: stage.index,
                name: stage.name.clone(),
                reason,
            });
        }
    }
    let groups = parallel_groups(&kept);
    Ok(Plan {
        global_args,
        global_env,
        stages: kept,
        groups,
        skipped,
        target,
        warnings,
        names,
        stage_count,
    })
}

fn find_target(stages: &[PlannedStage], target: Option<&str>) -> Result<usize, Diagnostic> {
    let Some(target) = target else {
        return Ok(stages.len() - 1);
    };
    let lower = target.to_lowercase();
    if let Some(s) = stages
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Ok(s.index);
    }
    let names: Vec<&str> = stages.iter().filter_map(|s| s.name.as_deref()).collect();
    let d = Diagnostic::error(
        format!(
            "target stage {} could not be found",
            crate::shell::go_quote(target)
        ),
        None,
    );
    Err(match suggest::closest(&lower, names.iter().copied()) {
        Some(best) => d.with_hint(format!("did you mean \"{best}\"?")),
        None if names.is_empty() => {
            d.with_hint("no stage has a name; name one with FROM <image> AS <name>")
        }
        None => d.with_hint(format!("the stages are named: {}", names.join(", "))),
    })
}

fn mark_needed(stages: &[PlannedStage], index: usize, needed: &mut [bool]) {
    if needed[index] {
        return;
    }
    needed[index] = true;
    for dep in &stages[index].deps {
        mark_needed(stages, dep.stage, needed);
    }
}

/// Topological levels: a stage's level is one more than its deepest dependency's.
fn parallel_groups(kept: &[PlannedStage]) -> Vec<Vec<usize>> {
    let mut level: Vec<(usize, usize)> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for stage in kept {
        let l = stage
            .deps
            .iter()
            .filter_map(|d| {
                level
                    .iter()
                    .find(|(i, _)| *i == d.stage)
                    .map(|(_, l)| l + 1)
            })
            .max()
            .unwrap_or(0);
        level.push((stage.index, l));
        if groups.len() <= l {
            groups.resize(l + 1, Vec::new());
        }
        groups[l].push(stage.index);
    }
    groups
}
