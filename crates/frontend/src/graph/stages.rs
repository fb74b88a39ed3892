//! Stages: cutting the instruction list at each FROM, resolving each FROM's base with the
//! global ARGs, the ONBUILD triggers a child stage inherits, and the full value checks.

use super::model::{Base, PlannedStage};
use super::refs;
use crate::ast::Dockerfile;
use crate::diagnostics::{Diagnostic, Severity};
use crate::instructions::{self, Command, TypedInstruction};
use crate::shell::{Env, Lexer};

/// Cuts the instructions after the first FROM into stages and resolves each FROM.
pub(super) fn split(
    typed: &[TypedInstruction],
    lexer: &Lexer,
    globals: &Env,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<PlannedStage>, Diagnostic> {
    let mut stages: Vec<PlannedStage> = Vec::new();
    for t in typed {
        let Command::From(from) = &t.command else {
            stages
                .last_mut()
                .expect("the first instruction here is a FROM")
                .instructions
                .push(t.clone());
            continue;
        };
        let index = stages.len();
        let base_name = expand_global(lexer, globals, &from.image)?;
        if base_name.is_empty() {
            return Err(Diagnostic::error(
                format!("base name ({}) should not be blank", from.image.value),
                Some(from.image.span),
            )
            .with_label("expands to nothing")
            .with_hint("give the ARG a default or pass --build-arg"));
        }
        let platform = from
            .platform
            .as_ref()
            .map(|p| {
                let value = expand_global(lexer, globals, p)?;
                check_platform(&value, p)?;
                Ok(value)
            })
            .transpose()?;
        let name = from.name.as_ref().map(|n| n.value.clone());
        // A name used twice is the DuplicateStageName check's to report (`lint`).
        let base = resolve_base(&stages, &base_name);
        stages.push(PlannedStage {
            index,
            name,
            from: from.clone(),
            from_span: t.span,
            base_name,
            platform,
            base,
            instructions: Vec::new(),
            triggers: Vec::new(),
            deps: Vec::new(),
            images: Vec::new(),
        });
    }
    for stage in &stages {
        if let Base::Stage(parent) = stage.base {
            if stage.base_name != stage.base_name.to_lowercase() {
                warnings.push(capitalized_stage_reference(stage, &stages[parent]));
            }
        }
        if let Base::Image(image) = &stage.base {
            let earlier = stages[..stage.index]
                .iter()
                .filter_map(|s| s.name.as_deref());
            if let Some(best) = refs::misspelled_stage(earlier, image) {
                warnings.push(
                    Diagnostic::warning(
                        format!("FROM {image}: no earlier stage has this name, so it is pulled as an image"),
                        Some(stage.from.image.span),
                    )
                    .with_label("resolved as an image")
                    .with_hint(format!("did you mean stage \"{best}\"?")),
                );
            }
            let lower = image.to_lowercase();
            if let Some(later) = stages[stage.index + 1..]
                .iter()
                .find(|s| s.name.as_deref() == Some(lower.as_str()))
            {
                warnings.push(
                    Diagnostic::warning(
                        format!(
                            "FROM {image} pulls the image \"{image}\", not stage \"{}\" defined later",
                            later.label()
                        ),
                        Some(stage.from.image.span),
                    )
                    .with_label("resolved as an image")
                    .with_hint(format!(
                        "FROM can only use stages defined above it; move stage \"{}\" up to build on it",
                        later.label()
                    )),
                );
            }
        }
    }
    Ok(stages)
}

/// Known operating systems and architectures, for a `--platform` of one component
/// (containerd's `platforms.Parse` takes either alone).
const PLATFORM_WORDS: [&str; 20] = [
    "linux", "windows", "darwin", "freebsd", "netbsd", "openbsd", "solaris", "amd64", "x86_64",
    "arm64", "aarch64", "arm", "armhf", "armel", "386", "i386", "ppc64le", "s390x", "riscv64",
    "mips64le",
];

/// FROM's `--platform` after expansion: empty or not a platform is an error, as in
/// BuildKit ("empty platform value from expression …", "failed to parse platform …").
fn check_platform(value: &str, written: &crate::ast::Word) -> Result<(), Diagnostic> {
    if value.is_empty() {
        return Err(Diagnostic::error(
            format!("empty platform value from expression {}", written.value),
            Some(written.span),
        )
        .with_label("expands to nothing")
        .with_hint("give the ARG a default or pass --build-arg, e.g. linux/amd64"));
    }
    let parts: Vec<&str> = value.split('/').collect();
    let word_ok = |w: &str| {
        !w.is_empty()
            && (w.chars()).all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    };
    let valid = match parts.as_slice() {
        [one] => PLATFORM_WORDS.contains(&one.to_lowercase().as_str()),
        [os, arch] => word_ok(os) && word_ok(arch),
        [os, arch, variant] => word_ok(os) && word_ok(arch) && word_ok(variant),
        _ => false,
    };
    if valid {
        return Ok(());
    }
    Err(Diagnostic::error(
        format!("failed to parse platform {value:?}"),
        Some(written.span),
    )
    .with_label("not a platform")
    .with_hint("write os/arch[/variant], e.g. linux/amd64 or linux/arm/v7"))
}

/// Replaces each stage named like a `--build-context` by that context, as BuildKit does: the
/// stage becomes `FROM <name>` with no instructions (the engine resolves the name to the
/// named context), so what it would have built, and the stages only it needed, are skipped.
pub(super) fn replace_named(stages: &mut [PlannedStage], named_contexts: &[String]) {
    for stage in stages.iter_mut() {
        let Some(name) = stage.name.clone() else {
            continue;
        };
        if named_contexts.iter().any(|n| n.to_lowercase() == name) {
            stage.base = Base::Image(name.clone());
            stage.base_name = name;
            stage.instructions.clear();
        }
    }
}

/// `FROM Builder` naming the stage `builder`: skiff builds on the stage, but BuildKit looks
/// the name up as written, takes it for an image reference and fails (a repository name must
/// be lowercase), so the warning says so.
fn capitalized_stage_reference(stage: &PlannedStage, parent: &PlannedStage) -> Diagnostic {
    let name = &stage.base_name;
    Diagnostic::warning(
        format!(
            "FROM {name} builds on stage \"{}\" here, but BuildKit fails on it: it matches \
             stage names only in lowercase and reads \"{name}\" as an image reference, which \
             must be lowercase",
            parent.label()
        ),
        Some(stage.from.image.span),
    )
    .with_label("stage name with capitals")
    .with_hint(format!("write FROM {}", name.to_lowercase()))
}

/// Sets each stage's `triggers`: the ONBUILD triggers of its parent stage.
pub(super) fn fill_triggers(stages: &mut [PlannedStage]) {
    for i in 0..stages.len() {
        if let Base::Stage(parent) = stages[i].base {
            stages[i].triggers = stages[parent]
                .instructions
                .iter()
                .filter_map(|t| match &t.command {
                    Command::Onbuild(o) => Some((*o.trigger).clone()),
                    _ => None,
                })
                .collect();
        }
    }
}

/// Types the instructions again with every check ([`Checks::Early`]): a needed stage's error
/// stops the plan; a skipped stage's error becomes a warning, since BuildKit never builds it.
pub(super) fn check_values(
    dockerfile: &Dockerfile,
    first_from: usize,
    stages: &mut [PlannedStage],
    needed: &[bool],
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), Diagnostic> {
    // Stage k's instructions follow its FROM, the k-th FROM from `first_from` on.
    let all = &dockerfile.instructions;
    let mut k = first_from;
    for stage in stages.iter_mut() {
        k += 1;
        let end = (k..all.len())
            .find(|&i| all[i].keyword == "from")
            .unwrap_or(all.len());
        let asts = &all[k..end];
        k = end;
        if stage.instructions.is_empty() {
            continue; // replaced by a named context, or nothing after its FROM
        }
        let checked = asts
            .iter()
            .map(|i| instructions::parse_instruction(i, &dockerfile.source));
        if needed[stage.index] {
            stage.instructions = checked.collect::<Result<_, _>>()?;
            continue;
        }
        for err in checked.filter_map(Result::err) {
            let hint = format!(
                "stage \"{}\" is not built for this target, so the build goes on; it fails when that stage is built",
                stage.label()
            );
            warnings.push(Diagnostic {
                severity: Severity::Warning,
                hint: Some(hint),
                ..err
            });
        }
    }
    Ok(())
}

/// FROM's base: the latest earlier stage of that name, `scratch`, or an image.
fn resolve_base(earlier: &[PlannedStage], base_name: &str) -> Base {
    let lower = base_name.to_lowercase();
    if let Some(s) = earlier
        .iter()
        .rev()
        .find(|s| s.name.as_deref() == Some(lower.as_str()))
    {
        return Base::Stage(s.index);
    }
    if base_name == "scratch" {
        return Base::Scratch;
    }
    Base::Image(base_name.to_string())
}

fn expand_global(
    lexer: &Lexer,
    globals: &Env,
    word: &crate::ast::Word,
) -> Result<String, Diagnostic> {
    lexer.process_word(&word.value, globals).map_err(|e| {
        Diagnostic::error(e.message, Some(word.span))
            .with_label("while expanding this word with the global ARGs")
            .with_hint("FROM sees only ARGs declared before the first FROM and --build-arg values")
    })
}
