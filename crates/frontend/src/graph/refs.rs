//! Stage references: `FROM <stage>`, `COPY --from=…` and `RUN --mount=from=…`, resolved and
//! checked (no forward references, no self-references, no near-miss names pulled as images).

use super::model::{Base, Dependency, DependencyKind, PlannedStage};
use crate::ast::Word;
use crate::diagnostics::{suggest, Diagnostic};
use crate::instructions::Command;

/// What a `--from` value refers to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A stage, by index.
    Stage(usize),
    /// An image reference to pull.
    Image(String),
    /// A stage index out of range (only for `COPY --from=<number>`).
    BadIndex(i64),
}

/// Resolves a reference against the stages' names (last definition wins, as in BuildKit).
/// `COPY --from` also takes an index; `RUN --mount` `from=` takes names only.
pub(super) fn lookup(
    names: &[(String, usize)],
    stage_count: usize,
    reference: &str,
    mount_from: bool,
) -> Source {
    if !mount_from {
        if let Some(n) = go_atoi(reference) {
            return match usize::try_from(n) {
                Ok(i) if i < stage_count => Source::Stage(i),
                _ => Source::BadIndex(n),
            };
        }
    }
    let lower = reference.to_lowercase();
    match names.iter().rev().find(|(n, _)| *n == lower) {
        Some((_, i)) => Source::Stage(*i),
        None => Source::Image(reference.to_string()),
    }
}

/// Go's `strconv.Atoi`: an optional sign and decimal digits.
fn go_atoi(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// One reference written in a stage.
struct Reference {
    word: Word,
    kind: DependencyKind,
}

/// Fills every stage's `deps` and `images`, refusing forward references, self-references
/// and `--from` names that look like misspelled stages.
pub(super) fn link(stages: &mut [PlannedStage]) -> Result<(), Diagnostic> {
    let names: Vec<(String, usize)> = stages
        .iter()
        .filter_map(|s| s.name.clone().map(|n| (n, s.index)))
        .collect();
    let count = stages.len();
    for i in 0..count {
        let mut deps = Vec::new();
        let mut images = Vec::new();
        if let Base::Stage(b) = stages[i].base {
            deps.push(Dependency {
                stage: b,
                kind: DependencyKind::Base,
                span: stages[i].from.image.span,
            });
        }
        for r in references(&stages[i]) {
            let mount = r.kind == DependencyKind::MountFrom;
            match lookup(&names, count, &r.word.value, mount) {
                Source::Stage(s) if s == i => return Err(self_reference(&stages[i], &r)),
                Source::Stage(s) if s > i => return Err(forward(stages, i, s, &r)),
                Source::Stage(s) => deps.push(Dependency {
                    stage: s,
                    kind: r.kind,
                    span: r.word.span,
                }),
                Source::BadIndex(n) => {
                    return Err(Diagnostic::error(
                        format!("invalid stage index {n}"),
                        Some(r.word.span),
                    )
                    .with_label(format!(
                        "the Dockerfile has {count} stage(s), numbered from 0"
                    ))
                    .with_hint("refer to an earlier stage by its index or, better, its AS name"))
                }
                Source::Image(image) => {
                    check_not_misspelled(&names, &image, &r)?;
                    images.push(image);
                }
            }
        }
        stages[i].deps = deps;
        stages[i].images = images;
    }
    Ok(())
}

/// The `COPY --from` and `RUN --mount` `from=` words a stage runs: its parent stage's ONBUILD
/// triggers, then its own instructions (its own ONBUILD triggers run in child stages).
fn references(stage: &PlannedStage) -> Vec<Reference> {
    let mut out = Vec::new();
    for t in stage.triggers.iter().chain(&stage.instructions) {
        match &t.command {
            Command::Copy(c) => {
                if let Some(from) = &c.from {
                    out.push(Reference {
                        word: from.clone(),
                        kind: DependencyKind::CopyFrom,
                    });
                }
            }
            Command::Run(r) => {
                for m in &r.mounts {
                    if let Some(from) = &m.from {
                        out.push(Reference {
                            word: from.clone(),
                            kind: DependencyKind::MountFrom,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

fn verb(kind: DependencyKind) -> &'static str {
    match kind {
        DependencyKind::MountFrom => "mount from",
        _ => "copy from",
    }
}

fn self_reference(stage: &PlannedStage, r: &Reference) -> Diagnostic {
    Diagnostic::error(
        format!("circular dependency detected on stage: {}", stage.label()),
        Some(r.word.span),
    )
    .with_label(format!(
        "stage \"{}\" cannot {} itself",
        stage.label(),
        verb(r.kind)
    ))
    .with_hint("copy from an earlier stage, or split this stage in two")
}

fn forward(stages: &[PlannedStage], current: usize, later: usize, r: &Reference) -> Diagnostic {
    let cur = stages[current].label();
    let lat = stages[later].label();
    let cycle = depends_on(stages, later, current);
    let d = Diagnostic::error(
        format!(
            "cannot {} stage \"{lat}\", it needs to be defined before current stage \"{cur}\"",
            verb(r.kind)
        ),
        Some(r.word.span),
    );
    if cycle {
        d.with_label(format!(
            "stage \"{lat}\" is defined later and builds on \"{cur}\": a circular dependency"
        ))
        .with_hint("move the shared steps into a third stage defined before both")
    } else {
        d.with_label(format!("stage \"{lat}\" is defined later in the file"))
            .with_hint(format!("move stage \"{lat}\" above stage \"{cur}\""))
    }
}

/// Whether stage `from` (defined later) reaches stage `target` through its base or `--from`s
/// naming earlier stages; only used to word the forward-reference error.
fn depends_on(stages: &[PlannedStage], from: usize, target: usize) -> bool {
    let mut todo = vec![from];
    let mut seen = vec![false; stages.len()];
    while let Some(i) = todo.pop() {
        if i == target {
            return true;
        }
        if std::mem::replace(&mut seen[i], true) {
            continue;
        }
        if let Base::Stage(b) = stages[i].base {
            todo.push(b);
        }
        for r in references(&stages[i]) {
            let lower = r.word.value.to_lowercase();
            let by_name = stages
                .iter()
                .rev()
                .find(|s| s.name.as_deref() == Some(lower.as_str()))
                .map(|s| s.index);
            let by_index = go_atoi(&r.word.value)
                .filter(|_| r.kind == DependencyKind::CopyFrom)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|n| *n < stages.len());
            todo.extend(by_index.or(by_name));
        }
    }
    false
}

/// A `--from` naming no stage is an image to BuildKit. When it is a plain name close to a
/// stage's (`bulid` vs `builder`), it is almost surely a typo: stop here instead of pulling.
fn check_not_misspelled(
    names: &[(String, usize)],
    image: &str,
    r: &Reference,
) -> Result<(), Diagnostic> {
    let Some(best) = misspelled_stage(names.iter().map(|(n, _)| n.as_str()), image) else {
        return Ok(());
    };
    Err(Diagnostic::error(
        format!("stage {} not found", crate::shell::go_quote(image)),
        Some(r.word.span),
    )
    .with_label("no stage has this name; it would be pulled as an image")
    .with_hint(format!(
        "did you mean \"{best}\"? (to use an image of that name, write its full reference, e.g. docker.io/library/{image})"
    )))
}

/// The stage name `reference` looks like a misspelling of, if any. Only plain names count
/// (`golang:1.22`, `ghcr.io/x` are images), and a name that is a prefix of a stage's or the
/// other way round (`node` vs `node-deps`) is taken as a deliberate image.
pub(super) fn misspelled_stage<'a>(
    stage_names: impl IntoIterator<Item = &'a str>,
    reference: &str,
) -> Option<&'a str> {
    if reference.contains(['/', ':', '@', '.']) {
        return None;
    }
    let lower = reference.to_lowercase();
    let best = suggest::closest(&lower, stage_names)?;
    (!best.starts_with(&lower) && !lower.starts_with(best)).then_some(best)
}
