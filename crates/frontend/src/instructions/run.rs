//! `RUN [--mount=…]… [--device=…]… [--network=…] [--security=…] <command>`, and the command-line shape it
//! shares with CMD, ENTRYPOINT and HEALTHCHECK CMD.

use super::device::{self, Device};
use super::flags::{Flags, Kind};
use super::mount::{self, Mount};
use super::request::Request;
use super::words::{bad_choice, Expander};
use crate::ast::{Heredoc, Word};
use crate::diagnostics::Diagnostic;

/// A command as written after the instruction's flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommandLine {
    /// Shell form: the text, run as `<SHELL…> <text>` (default `/bin/sh -c`). Never expanded
    /// by the frontend: the shell does it.
    Shell(Word),
    /// Exec (JSON) form: the argv as written.
    Exec(Vec<Word>),
}

impl CommandLine {
    /// BuildKit's `handleJSONArgs`: the node's words as argv (exec form) or one joined text.
    pub(crate) fn from_args(req: &Request, args: &[Word]) -> CommandLine {
        if req.inst.json {
            return CommandLine::Exec(args.to_vec());
        }
        let value = args
            .iter()
            .map(|w| w.value.as_str())
            .collect::<Vec<_>>()
            .join(" ");
        let span = match (args.first(), args.last()) {
            (Some(a), Some(b)) => crate::ast::Span {
                end: b.span.end,
                ..a.span
            },
            _ => req.inst.keyword_span,
        };
        CommandLine::Shell(Word { value, span })
    }

    /// True when no command was given (`ENTRYPOINT []`, or nothing after the keyword).
    pub fn is_empty(&self) -> bool {
        match self {
            CommandLine::Shell(w) => w.value.is_empty(),
            CommandLine::Exec(argv) => argv.is_empty(),
        }
    }
}

/// `--network` of RUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// The build's own network (what RUN gets without the flag).
    Default,
    /// No network: only a loopback interface.
    None,
    /// The host's network namespace (needs the `network.host` entitlement).
    Host,
}

/// `--security` of RUN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    /// The default confinement.
    Sandbox,
    /// All capabilities, no masked paths (needs the `security.insecure` entitlement).
    Insecure,
}

/// `RUN`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunCommand {
    /// The command.
    pub command: CommandLine,
    /// `--mount` flags in order. Options whose value uses a variable are only filled in by
    /// [`super::Command::expand`] (BuildKit evaluates them at dispatch too).
    pub mounts: Vec<Mount>,
    /// `--device` flags in order (CDI devices).
    pub devices: Vec<Device>,
    /// `--network`, when given.
    pub network: Option<Network>,
    /// `--security`, when given.
    pub security: Option<Security>,
    /// Here-documents of the command (`RUN <<EOF …`), in order; bodies unexpanded.
    pub heredocs: Vec<Heredoc>,
}

impl RunCommand {
    pub(super) fn expand(&self, ex: &Expander) -> Result<RunCommand, Diagnostic> {
        let mounts = self
            .mounts
            .iter()
            .map(|m| m.expand(ex))
            .collect::<Result<_, _>>()?;
        Ok(RunCommand {
            mounts,
            ..self.clone()
        })
    }
}

pub(super) fn parse(req: &Request) -> Result<RunCommand, Diagnostic> {
    let flags = Flags::parse(
        req,
        &[
            ("mount", Kind::Strings),
            ("device", Kind::Strings),
            ("network", Kind::String),
            ("security", Kind::String),
        ],
    )?;
    let mounts = flags
        .strings("mount")
        .iter()
        .map(|(value, span)| mount::parse(req, value, *span))
        .collect::<Result<Vec<_>, _>>()?;
    let devices = flags
        .strings("device")
        .iter()
        .map(|(value, _)| device::parse(req.source, value))
        .collect::<Result<Vec<_>, _>>()?;
    let network = match flags.string("network") {
        None => None,
        Some(w) => Some(match w.value.as_str() {
            "default" => Network::Default,
            "none" => Network::None,
            "host" => Network::Host,
            _ => {
                return Err(bad_choice(
                    format!("invalid network mode {}", crate::shell::go_quote(&w.value)),
                    &w,
                    &["default", "none", "host"],
                ))
            }
        }),
    };
    let security = match flags.string("security") {
        None => None,
        Some(w) => Some(match w.value.as_str() {
            "sandbox" => Security::Sandbox,
            "insecure" => Security::Insecure,
            _ => {
                return Err(bad_choice(
                    format!("security {} is not valid", crate::shell::go_quote(&w.value)),
                    &w,
                    &["sandbox", "insecure"],
                ))
            }
        }),
    };
    Ok(RunCommand {
        command: CommandLine::from_args(req, &req.inst.args),
        mounts,
        devices,
        network,
        security,
        heredocs: req.inst.heredocs.clone(),
    })
}
