//! The rules BuildKit runs while it parses the file, on every stage whatever the target:
//! `NoEmptyContinuation`, `MaintainerDeprecated`, `StageNameCasing`, `FromAsCasing`,
//! `InvalidDefinitionDescription`, then over all stages `ReservedStageName`,
//! `DuplicateStageName` and `ConsistentInstructionCasing`.

use super::config::{CheckConfig, Sink};
use super::rules;
use crate::ast::{self, Dockerfile, Span};
use crate::diagnostics::Diagnostic;
use crate::instructions::{self, Checks, Command, TypedInstruction};

/// One instruction, checked, with the options that apply to it.
pub(crate) struct Parsed<'a> {
    /// The node as parsed.
    pub(crate) inst: &'a ast::Instruction,
    /// The typed instruction.
    pub(crate) typed: TypedInstruction,
    /// The file's options with the instruction's `# check=` comment merged in.
    pub(crate) config: CheckConfig,
}

impl Parsed<'_> {
    /// Where BuildKit reports a finding about the whole instruction: its first line, and the
    /// keyword to point at.
    pub(crate) fn at(&self) -> (usize, Span) {
        (self.inst.start_line, self.inst.keyword_span)
    }
}

/// One stage: its FROM and the instructions after it.
pub(crate) struct Stage<'a> {
    pub(crate) from: Parsed<'a>,
    pub(crate) commands: Vec<Parsed<'a>>,
}

impl Stage<'_> {
    /// The lowercased `AS` name, if any.
    pub(crate) fn name(&self) -> Option<&str> {
        match &self.from.typed.command {
            Command::From(f) => f.name.as_ref().map(|n| n.value.as_str()),
            _ => None,
        }
    }
}

/// The file split as BuildKit's `instructions.Parse` splits it.
#[derive(Default)]
pub(crate) struct ParsedFile<'a> {
    /// The ARGs before the first FROM.
    pub(crate) meta_args: Vec<Parsed<'a>>,
    /// The stages, in order.
    pub(crate) stages: Vec<Stage<'a>>,
}

/// Parses every instruction in order, running the parse-time rules; stops at the first
/// instruction that does not parse (the findings before it are kept, as in BuildKit).
pub(crate) fn parse<'a>(
    dockerfile: &'a Dockerfile,
    comments: &[Vec<String>],
    global: &CheckConfig,
    sink: &mut Sink,
) -> Result<ParsedFile<'a>, Diagnostic> {
    empty_continuations(dockerfile, global, sink);
    let mut file = ParsedFile::default();
    for (i, inst) in dockerfile.instructions.iter().enumerate() {
        let prev = comments.get(i).map_or(&[][..], Vec::as_slice);
        let config = global.with_comments(prev);
        let at = (inst.start_line, inst.keyword_span);
        let written = dockerfile
            .source
            .get(inst.keyword_span.start..inst.keyword_span.end)
            .unwrap_or(&inst.keyword);
        match inst.keyword.as_str() {
            "maintainer" => sink.report(
                &config,
                &rules::MAINTAINER_DEPRECATED,
                at,
                "Maintainer instruction is deprecated in favor of using label".into(),
            ),
            "from" => from_casing(inst, written, &config, sink),
            _ => {}
        }
        let typed =
            instructions::parse_instruction_with(inst, &dockerfile.source, Checks::ParseTime)?;
        definition_description(&typed, prev, at, &config, sink);
        let parsed = Parsed {
            inst,
            typed,
            config,
        };
        match (&parsed.typed.command, file.stages.last_mut()) {
            (Command::From(_), _) => file.stages.push(Stage {
                from: parsed,
                commands: Vec::new(),
            }),
            (Command::Arg(_), None) => file.meta_args.push(parsed),
            (_, Some(stage)) => stage.commands.push(parsed),
            (_, None) => {
                return Err(
                    Diagnostic::error("no build stage in current context", Some(at.1))
                        .with_hint("only ARG may come before the first FROM"),
                )
            }
        }
    }
    Ok(file)
}

/// `NoEmptyContinuation`, from the parser's warnings, reported at the instruction's last line.
fn empty_continuations(dockerfile: &Dockerfile, config: &CheckConfig, sink: &mut Sink) {
    for w in &dockerfile.warnings {
        if !w.message.starts_with("Empty continuation line") {
            continue;
        }
        let text = dockerfile
            .source
            .get(w.span.start..w.span.end)
            .unwrap_or_default();
        let line = w.span.line + text.trim_end_matches('\n').matches('\n').count();
        sink.report(
            config,
            &rules::NO_EMPTY_CONTINUATION,
            (line, line_span(&dockerfile.source, line)),
            "Empty continuation line".into(),
        );
    }
}

/// `StageNameCasing` and `FromAsCasing`, on the words as written.
fn from_casing(inst: &ast::Instruction, written: &str, config: &CheckConfig, sink: &mut Sink) {
    let args = &inst.args;
    if args.len() == 3 && args[2].value != args[2].value.to_lowercase() {
        sink.report(
            config,
            &rules::STAGE_NAME_CASING,
            (inst.start_line, args[2].span),
            format!("Stage name '{}' should be lowercase", args[2].value),
        );
    }
    if args.len() >= 3 {
        let as_word = &args[1].value;
        let from_lower = written == written.to_lowercase();
        let from_upper = written == written.to_uppercase();
        let mismatch = (from_lower && *as_word != as_word.to_lowercase())
            || (!from_lower && from_upper && *as_word != as_word.to_uppercase());
        if mismatch {
            sink.report(
                config,
                &rules::FROM_AS_CASING,
                (inst.start_line, args[1].span),
                format!("'{as_word}' and '{written}' keywords' casing do not match"),
            );
        }
    }
}

/// `InvalidDefinitionDescription` (experimental): the comment right above a named FROM or an
/// ARG should start with the name it describes.
fn definition_description(
    typed: &TypedInstruction,
    comments: &[String],
    at: (usize, Span),
    config: &CheckConfig,
    sink: &mut Sink,
) {
    let (instruction, keys): (&str, Vec<&str>) = match &typed.command {
        Command::From(f) => match &f.name {
            Some(name) => ("FROM", vec![name.value.as_str()]),
            None => return,
        },
        Command::Arg(a) => (
            "ARG",
            a.args.iter().map(|d| d.name.value.as_str()).collect(),
        ),
        _ => return,
    };
    let Some(last) = comments.last() else {
        return;
    };
    if keys.is_empty() || keys.contains(&last.split(' ').next().unwrap_or_default()) {
        return;
    }
    let example = if keys.len() > 1 { "<arg_key>" } else { keys[0] };
    sink.report(
        config,
        &rules::INVALID_DEFINITION_DESCRIPTION,
        at,
        format!("Comment for {instruction} should follow the format: `# {example} <description>`"),
    );
}

/// `ReservedStageName`, `DuplicateStageName` and `ConsistentInstructionCasing` over the whole
/// file, under the file's options (BuildKit runs them after parsing, without comments).
pub(crate) fn whole_file(
    dockerfile: &Dockerfile,
    file: &ParsedFile,
    config: &CheckConfig,
    sink: &mut Sink,
) {
    let mut seen: Vec<&str> = Vec::new();
    for stage in &file.stages {
        let Some(name) = stage.name() else {
            continue;
        };
        if name == "context" || name == "scratch" {
            sink.report(
                config,
                &rules::RESERVED_STAGE_NAME,
                stage.from.at(),
                format!("Stage name should not use the same name as reserved stage \"{name}\""),
            );
        }
        if seen.contains(&name) {
            sink.report(
                config,
                &rules::DUPLICATE_STAGE_NAME,
                stage.from.at(),
                format!("Duplicate stage name \"{name}\", stage names should be unique"),
            );
        }
        seen.push(name);
    }
    instruction_casing(dockerfile, file, config, sink);
}

/// `ConsistentInstructionCasing`: each keyword all lower or all upper, like the majority.
fn instruction_casing(
    dockerfile: &Dockerfile,
    file: &ParsedFile,
    config: &CheckConfig,
    sink: &mut Sink,
) {
    let written = |p: &Parsed| -> String {
        dockerfile
            .source
            .get(p.inst.keyword_span.start..p.inst.keyword_span.end)
            .unwrap_or(&p.inst.keyword)
            .to_string()
    };
    let all: Vec<&Parsed> = file
        .stages
        .iter()
        .flat_map(|s| std::iter::once(&s.from).chain(s.commands.iter()))
        .collect();
    let (mut lower, mut upper) = (0, 0);
    for p in &all {
        let w = written(p);
        if w == w.to_lowercase() {
            lower += 1;
        } else if w == w.to_uppercase() {
            upper += 1;
        }
    }
    let majority_lower = lower > upper;
    for p in &all {
        let w = written(p);
        let casing = if majority_lower && w != w.to_lowercase() {
            "lowercase"
        } else if !majority_lower && w != w.to_uppercase() {
            "uppercase"
        } else {
            continue;
        };
        sink.report(
            config,
            &rules::CONSISTENT_INSTRUCTION_CASING,
            p.at(),
            format!("Command '{w}' should match the case of the command majority ({casing})"),
        );
    }
}

/// A span covering line `line` (1-based) of `source`, for findings about a whole line.
fn line_span(source: &str, line: usize) -> Span {
    let start: usize = source
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let text = source[start..].split('\n').next().unwrap_or_default();
    Span {
        start,
        end: start + text.trim_end_matches('\r').len(),
        line,
        column: 1,
    }
}
