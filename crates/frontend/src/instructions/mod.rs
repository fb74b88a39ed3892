//! Typed instructions: each [`crate::ast::Instruction`] checked and turned into a value the engine can run.
//!
//! This follows BuildKit's `frontend/dockerfile/instructions` package (`parse.go`, `commands.go`,
//! `bflag.go`): the same flags per instruction, the same argument counts and BuildKit's error
//! texts, plus a span and a did-you-mean hint on every error.
//!
//! # Raw values and expansion
//!
//! Every typed value keeps the words as written (an [`ast::Word`]: unexpanded text plus span).
//! BuildKit expands variables when it *dispatches* an instruction, with the stage's environment
//! at that point (base image `Env`, then ARGs with a value and ENVs, in order). The engine does
//! the same: for each instruction, in order,
//!
//! ```text
//! let expanded = typed.command.expand(&lexer, &stage_env)?;   // lexer = Lexer::new(dockerfile.escape)
//! ```
//!
//! [`Command::expand`] returns a copy with every word BuildKit expands replaced by its expansion
//! (spans kept) and re-validates what depends on the values (`--chmod`, `--mount` options,
//! STOPSIGNAL). [`Command::expansion`] says which environment applies ([`ExpansionScope`]).
//! FROM is expanded by the planner ([`crate::graph`]) with the global ARGs; ARG defaults are
//! resolved with [`ArgCommand::resolve`] because a `--build-arg` suppresses the default's expansion.

mod copy;
mod csv;
mod device;
mod flags;
mod from;
mod healthcheck;
mod metadata;
mod mount;
mod request;
mod run;
mod words;

pub use copy::{parse_chmod, AddCommand, CopyCommand, FileMode, SourceContent, SourcesAndDest};
pub use csv::MountField;
pub use device::Device;
pub use from::FromCommand;
pub use healthcheck::{HealthcheckCommand, HealthcheckOptions};
pub use metadata::{
    ArgCommand, ArgDecl, CmdCommand, EntrypointCommand, EnvCommand, ExposeCommand, KeyValue,
    LabelCommand, MaintainerCommand, ShellCommand, StopSignalCommand, UserCommand, VolumeCommand,
    WorkdirCommand,
};
pub use mount::{Mount, MountType, Sharing};
pub use request::{heredoc_text, Checks};
pub use run::{CommandLine, Network, RunCommand, Security};

use crate::ast::{self, Dockerfile, Span};
use crate::diagnostics::{suggest, Diagnostic};
use crate::shell::{Env, Lexer};
use request::Request;

/// One instruction after checking: what it is, plus where it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypedInstruction {
    /// The checked instruction.
    pub command: Command,
    /// Where the keyword was written (for errors about the instruction itself).
    pub keyword_span: Span,
    /// The whole instruction, flags, continuation lines and heredoc bodies included.
    pub span: Span,
    /// The instruction text after joining continuation lines (BuildKit's `Original`),
    /// which the engine uses for history entries and progress names.
    pub original: String,
}

/// Every Dockerfile instruction BuildKit knows, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `FROM [--platform=…] image [AS name]`: starts a stage.
    From(FromCommand),
    /// `RUN [--mount=…] [--network=…] [--security=…] command`.
    Run(RunCommand),
    /// `COPY [--from=…] [--chown=…] … src… dest`.
    Copy(CopyCommand),
    /// `ADD [--chown=…] [--checksum=…] … src… dest`.
    Add(AddCommand),
    /// `CMD command`.
    Cmd(CmdCommand),
    /// `ENTRYPOINT command`.
    Entrypoint(EntrypointCommand),
    /// `ENV key=value …`.
    Env(EnvCommand),
    /// `ARG name[=default] …`.
    Arg(ArgCommand),
    /// `LABEL key=value …`.
    Label(LabelCommand),
    /// `EXPOSE port[/proto] …`.
    Expose(ExposeCommand),
    /// `USER user[:group]`.
    User(UserCommand),
    /// `WORKDIR path`.
    Workdir(WorkdirCommand),
    /// `VOLUME path …`.
    Volume(VolumeCommand),
    /// `SHELL ["exe", "arg"…]`.
    Shell(ShellCommand),
    /// `STOPSIGNAL signal`.
    StopSignal(StopSignalCommand),
    /// `HEALTHCHECK [--interval=…] CMD command` or `HEALTHCHECK NONE`.
    Healthcheck(HealthcheckCommand),
    /// `ONBUILD instruction`.
    Onbuild(OnbuildCommand),
    /// `MAINTAINER name` (deprecated; sets the image's `author`).
    Maintainer(MaintainerCommand),
}

/// `ONBUILD <instruction>`: a trigger stored in the image config and run by child builds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnbuildCommand {
    /// The trigger's text as BuildKit stores it in `OnBuild` (the original after `ONBUILD `,
    /// each heredoc's body and name appended).
    pub expression: String,
    /// The trigger, checked now so mistakes show at their line rather than in a child build.
    pub trigger: Box<TypedInstruction>,
}

/// Which environment BuildKit expands an instruction's words with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpansionScope {
    /// Nothing is expanded (CMD, ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER, ONBUILD; RUN's
    /// command is left to the shell).
    Never,
    /// The global ARGs (declared before the first FROM) and `--build-arg` values: FROM's image
    /// and `--platform`. The planner does this.
    GlobalArgs,
    /// The stage's environment at this instruction: [`Command::expand`].
    Stage,
    /// ARG: each default is expanded with the stage's environment, only when no `--build-arg`
    /// gives the value: [`ArgCommand::resolve`].
    ArgDefaults,
}

impl Command {
    /// The instruction's name in capitals (`RUN`), for messages and history.
    pub fn name(&self) -> &'static str {
        match self {
            Command::From(_) => "FROM",
            Command::Run(_) => "RUN",
            Command::Copy(_) => "COPY",
            Command::Add(_) => "ADD",
            Command::Cmd(_) => "CMD",
            Command::Entrypoint(_) => "ENTRYPOINT",
            Command::Env(_) => "ENV",
            Command::Arg(_) => "ARG",
            Command::Label(_) => "LABEL",
            Command::Expose(_) => "EXPOSE",
            Command::User(_) => "USER",
            Command::Workdir(_) => "WORKDIR",
            Command::Volume(_) => "VOLUME",
            Command::Shell(_) => "SHELL",
            Command::StopSignal(_) => "STOPSIGNAL",
            Command::Healthcheck(_) => "HEALTHCHECK",
            Command::Onbuild(_) => "ONBUILD",
            Command::Maintainer(_) => "MAINTAINER",
        }
    }

    /// Which environment BuildKit expands this instruction with (see the module docs).
    pub fn expansion(&self) -> ExpansionScope {
        match self {
            Command::From(_) => ExpansionScope::GlobalArgs,
            Command::Arg(_) => ExpansionScope::ArgDefaults,
            Command::Run(_)
            | Command::Copy(_)
            | Command::Add(_)
            | Command::Env(_)
            | Command::Label(_)
            | Command::Expose(_)
            | Command::User(_)
            | Command::Workdir(_)
            | Command::Volume(_)
            | Command::StopSignal(_) => ExpansionScope::Stage,
            Command::Cmd(_)
            | Command::Entrypoint(_)
            | Command::Shell(_)
            | Command::Healthcheck(_)
            | Command::Onbuild(_)
            | Command::Maintainer(_) => ExpansionScope::Never,
        }
    }

    /// A copy with every word BuildKit expands at dispatch replaced by its expansion against
    /// `env` (spans kept), checked again where the check depends on the value.
    ///
    /// What is expanded, as BuildKit's `Expand` methods: RUN the values of `--mount` options
    /// (not the command); COPY/ADD sources, destination, `--chown`, `--chmod`, ADD's
    /// `--checksum` (heredoc bodies are left for the engine: [`crate::ast::Heredoc::expand`]);
    /// ENV and LABEL keys and values; USER, WORKDIR, STOPSIGNAL, VOLUME items; EXPOSE words,
    /// split again on whitespace. Instructions whose scope is not [`ExpansionScope::Stage`]
    /// come back unchanged.
    pub fn expand(&self, lexer: &Lexer, env: &Env) -> Result<Command, Diagnostic> {
        let ex = words::Expander::new(lexer, env);
        Ok(match self {
            Command::Run(c) => Command::Run(c.expand(&ex)?),
            Command::Copy(c) => Command::Copy(c.expand(&ex)?),
            Command::Add(c) => Command::Add(c.expand(&ex)?),
            Command::Env(c) => Command::Env(c.expand(&ex)?),
            Command::Label(c) => Command::Label(c.expand(&ex)?),
            Command::Expose(c) => Command::Expose(c.expand(&ex)?),
            Command::User(c) => Command::User(c.expand(&ex)?),
            Command::Workdir(c) => Command::Workdir(c.expand(&ex)?),
            Command::Volume(c) => Command::Volume(c.expand(&ex)?),
            Command::StopSignal(c) => Command::StopSignal(c.expand(&ex)?),
            other => other.clone(),
        })
    }
}

/// The instruction names BuildKit knows, lowercase (for did-you-mean hints).
const INSTRUCTIONS: &[&str] = &[
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// Checks every instruction of a parsed Dockerfile, in order; stops at the first error.
pub fn parse_instructions(dockerfile: &Dockerfile) -> Result<Vec<TypedInstruction>, Diagnostic> {
    dockerfile
        .instructions
        .iter()
        .map(|inst| parse_instruction(inst, &dockerfile.source))
        .collect()
}

/// Checks one instruction and turns it into a [`TypedInstruction`], with [`Checks::Early`].
///
/// `source` is the Dockerfile text the instruction's spans index into; it lets errors point
/// at the exact flag value or `--mount` option rather than the whole word.
pub fn parse_instruction(
    inst: &ast::Instruction,
    source: &str,
) -> Result<TypedInstruction, Diagnostic> {
    parse_instruction_with(inst, source, Checks::Early)
}

/// [`parse_instruction`] with a choice of [`Checks`]. The planner uses [`Checks::ParseTime`]
/// for stages the target does not need, as BuildKit never looks closer at those.
pub fn parse_instruction_with(
    inst: &ast::Instruction,
    source: &str,
    checks: Checks,
) -> Result<TypedInstruction, Diagnostic> {
    let req = Request {
        inst,
        source,
        checks,
    };
    let command = match inst.keyword.as_str() {
        "from" => Command::From(from::parse(&req)?),
        "run" => Command::Run(run::parse(&req)?),
        "copy" => Command::Copy(copy::parse_copy(&req)?),
        "add" => Command::Add(copy::parse_add(&req)?),
        "cmd" => Command::Cmd(metadata::parse_cmd(&req)?),
        "entrypoint" => Command::Entrypoint(metadata::parse_entrypoint(&req)?),
        "env" => Command::Env(metadata::parse_env(&req)?),
        "arg" => Command::Arg(metadata::parse_arg(&req)?),
        "label" => Command::Label(metadata::parse_label(&req)?),
        "expose" => Command::Expose(metadata::parse_expose(&req)?),
        "user" => Command::User(metadata::parse_user(&req)?),
        "workdir" => Command::Workdir(metadata::parse_workdir(&req)?),
        "volume" => Command::Volume(metadata::parse_volume(&req)?),
        "shell" => Command::Shell(metadata::parse_shell(&req)?),
        "stopsignal" => Command::StopSignal(metadata::parse_stopsignal(&req)?),
        "healthcheck" => Command::Healthcheck(healthcheck::parse(&req)?),
        "onbuild" => Command::Onbuild(parse_onbuild(&req)?),
        "maintainer" => Command::Maintainer(metadata::parse_maintainer(&req)?),
        _ => return Err(unknown_instruction(&req)),
    };
    Ok(TypedInstruction {
        command,
        keyword_span: inst.keyword_span,
        span: inst.span,
        original: inst.original.clone(),
    })
}

fn unknown_instruction(req: &Request) -> Diagnostic {
    let written = req.keyword_as_written();
    let d = req
        .error(format!("unknown instruction: {written}"))
        .with_label("not a Dockerfile instruction");
    match suggest::closest(&written.to_ascii_lowercase(), INSTRUCTIONS.iter().copied()) {
        Some(best) => d.with_hint(format!("did you mean {}?", best.to_ascii_uppercase())),
        None => d.with_hint(format!(
            "instructions are {}",
            INSTRUCTIONS
                .iter()
                .map(|i| i.to_ascii_uppercase())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn parse_onbuild(req: &Request) -> Result<OnbuildCommand, Diagnostic> {
    flags::Flags::parse(req, &[])?;
    let Some(inner) = req.inst.onbuild.as_deref() else {
        return Err(req.at_least_one_argument());
    };
    let trigger_name = inner.keyword.to_ascii_uppercase();
    let at_trigger = |message: String| Diagnostic::error(message, Some(inner.keyword_span));
    match trigger_name.as_str() {
        "ONBUILD" => {
            return Err(at_trigger(
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into(),
            ))
        }
        "FROM" | "MAINTAINER" => {
            return Err(at_trigger(format!(
                "{trigger_name} isn't allowed as an ONBUILD trigger"
            )))
        }
        _ => {}
    }
    let trigger = parse_instruction_with(inner, req.source, req.checks)?;
    let mut expression = strip_onbuild_prefix(&req.inst.original).to_string();
    for heredoc in &req.inst.heredocs {
        expression.push('\n');
        expression.push_str(&heredoc.content);
        expression.push_str(&heredoc.name);
    }
    Ok(OnbuildCommand {
        expression,
        trigger: Box::new(trigger),
    })
}

/// BuildKit's `(?i)^\s*ONBUILD\s*` removal.
fn strip_onbuild_prefix(original: &str) -> &str {
    let trimmed = original.trim_start();
    match trimmed.get(..7) {
        Some(word) if word.eq_ignore_ascii_case("onbuild") => trimmed[7..].trim_start(),
        _ => original,
    }
}
