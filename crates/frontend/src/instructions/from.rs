//! `FROM [--platform=<platform>] <image> [AS <name>]`.

use super::flags::{Flags, Kind};
use super::request::Request;
use crate::ast::Word;
use crate::diagnostics::{suggest, Diagnostic};

/// The start of a stage. All words are raw: the planner expands `image` and `platform` with
/// the global ARGs ([`crate::graph::plan`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FromCommand {
    /// The base: an image reference, `scratch`, or the name of an earlier stage (unexpanded).
    pub image: Word,
    /// The stage name after `AS`, lowercased as BuildKit does, with the span where it was written.
    pub name: Option<Word>,
    /// `--platform`, unexpanded.
    pub platform: Option<Word>,
}

/// BuildKit's `^[a-z][a-z0-9-_.]*$` for (lowercased) stage names.
pub(crate) fn is_valid_stage_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '-' | '_' | '.'))
}

pub(super) fn parse(req: &Request) -> Result<FromCommand, Diagnostic> {
    let args = &req.inst.args;
    let name = match args.len() {
        1 => None,
        3 if args[1].value.eq_ignore_ascii_case("as") => {
            let lower = args[2].value.to_ascii_lowercase();
            if !is_valid_stage_name(&lower) {
                return Err(Diagnostic::error(
                    format!(
                        "invalid name for build stage: {}, name can't start with a number or contain symbols",
                        crate::shell::go_quote(&args[2].value)
                    ),
                    Some(args[2].span),
                )
                .with_label("invalid stage name")
                .with_hint(
                    "start with a letter; use only letters, digits, '-', '_' and '.'",
                ));
            }
            Some(Word {
                value: lower,
                span: args[2].span,
            })
        }
        _ => return Err(wrong_arity(req)),
    };
    let flags = Flags::parse(req, &[("platform", Kind::String)])?;
    Ok(FromCommand {
        image: args[0].clone(),
        name,
        platform: flags.string("platform"),
    })
}

/// `FROM requires either one or three arguments`, pointing at what is off.
fn wrong_arity(req: &Request) -> Diagnostic {
    const MESSAGE: &str = "FROM requires either one or three arguments";
    let args = &req.inst.args;
    match args.len() {
        0 => req
            .error(MESSAGE)
            .with_label("image missing")
            .with_hint("write FROM <image> [AS <name>]"),
        2 if args[1].value.eq_ignore_ascii_case("as") => {
            Diagnostic::error(MESSAGE, Some(args[1].span))
                .with_label("stage name missing after AS")
                .with_hint("write FROM <image> AS <name>")
        }
        2 | 3 => {
            let d = Diagnostic::error(MESSAGE, Some(args[1].span)).with_label("expected AS here");
            let close = suggest::closest(&args[1].value.to_ascii_lowercase(), ["as"]).is_some();
            if close || args.len() == 3 {
                d.with_hint(format!(
                    "did you mean AS? write FROM {} AS {}",
                    args[0].value,
                    args.last().map(|w| w.value.as_str()).unwrap_or("<name>")
                ))
            } else {
                d.with_hint("write FROM <image> [AS <name>]")
            }
        }
        _ => Diagnostic::error(MESSAGE, Some(args[3].span))
            .with_label("unexpected argument")
            .with_hint("write FROM <image> [AS <name>]"),
    }
}
