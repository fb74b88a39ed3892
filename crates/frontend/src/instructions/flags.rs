//! Leading `--flags` of an instruction, checked as BuildKit's `BFlags` does (`bflag.go`):
//! `--name=value` for strings, `--name` or `--name=true|false` for booleans, repeatable flags
//! collected in order, unknown and duplicate flags refused.

use super::request::Request;
use super::words::sub_word;
use crate::ast::{Span, Word};
use crate::diagnostics::{suggest, Diagnostic};

/// How a flag takes its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--link`, `--link=true`, `--link=false`.
    Bool,
    /// `--from=x`, at most once.
    String,
    /// `--mount=x`, any number of times.
    Strings,
}

/// One accepted flag.
struct Used {
    name: String,
    /// The value (sub-word of the flag); for a bare boolean flag, `true` spanning the flag.
    value: Word,
    /// The whole `--name=value` word.
    span: Span,
}

/// The flags of one instruction, checked against what that instruction accepts.
pub(crate) struct Flags {
    used: Vec<Used>,
}

impl Flags {
    /// Checks `req`'s flags against `spec` (name and kind of every flag the instruction takes).
    pub(crate) fn parse(req: &Request, spec: &[(&str, Kind)]) -> Result<Flags, Diagnostic> {
        let mut used: Vec<Used> = Vec::new();
        for word in &req.inst.flags {
            let Some(body) = word.value.strip_prefix("--") else {
                return Err(Diagnostic::error(
                    format!("arg should start with -- : {}", word.value),
                    Some(word.span),
                ));
            };
            if body.is_empty() {
                break;
            }
            let (name, value) = match body.find('=') {
                Some(i) => (&body[..i], Some(2 + i + 1..word.value.len())),
                None => (body, None),
            };
            let name_word = sub_word(req.source, word, 2..2 + name.len());
            let Some(&(_, kind)) = spec.iter().find(|(n, _)| *n == name) else {
                return Err(unknown_flag(req, name, name_word.span, spec));
            };
            if kind != Kind::Strings && used.iter().any(|u| u.name == name) {
                return Err(Diagnostic::error(
                    format!("duplicate flag specified: {name}"),
                    Some(word.span),
                )
                .with_label("given a second time here")
                .with_hint(format!("give --{name} only once")));
            }
            let value = match (kind, value) {
                (Kind::Bool, None) => Word {
                    value: "true".into(),
                    span: word.span,
                },
                (Kind::Bool, Some(range)) => {
                    let v = sub_word(req.source, word, range);
                    let lower = v.value.to_ascii_lowercase();
                    if v.value.is_empty() {
                        return Err(missing_value(name, word.span));
                    }
                    if lower != "true" && lower != "false" {
                        return Err(Diagnostic::error(
                            format!("expecting boolean value for flag {name}, not: {}", v.value),
                            Some(v.span),
                        )
                        .with_label("not a boolean")
                        .with_hint(format!("write --{name}, --{name}=true or --{name}=false")));
                    }
                    Word {
                        value: lower,
                        span: v.span,
                    }
                }
                (_, None) => return Err(missing_value(name, word.span)),
                (_, Some(range)) => sub_word(req.source, word, range),
            };
            used.push(Used {
                name: name.to_string(),
                value,
                span: word.span,
            });
        }
        Ok(Flags { used })
    }

    /// The value of a string flag, if given.
    pub(crate) fn string(&self, name: &str) -> Option<Word> {
        self.used
            .iter()
            .find(|u| u.name == name)
            .map(|u| u.value.clone())
    }

    /// Every value of a repeatable flag, in order, each with the span of its whole flag word.
    pub(crate) fn strings(&self, name: &str) -> Vec<(Word, Span)> {
        self.used
            .iter()
            .filter(|u| u.name == name)
            .map(|u| (u.value.clone(), u.span))
            .collect()
    }

    /// A boolean flag's value, `None` when not given.
    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.string(name).map(|w| w.value == "true")
    }
}

fn missing_value(name: &str, span: Span) -> Diagnostic {
    Diagnostic::error(format!("missing a value on flag: {name}"), Some(span))
        .with_label("no value")
        .with_hint(format!("write --{name}=<value>"))
}

fn unknown_flag(req: &Request, name: &str, span: Span, spec: &[(&str, Kind)]) -> Diagnostic {
    let d = Diagnostic::error(format!("unknown flag: {name}"), Some(span))
        .with_label(format!("{} has no such flag", req.name()));
    match suggest::closest(name, spec.iter().map(|(n, _)| *n)) {
        Some(best) => d.with_hint(format!("did you mean --{best}?")),
        None if spec.is_empty() => d.with_hint(format!("{} takes no flags", req.name())),
        None => d.with_hint(format!(
            "{} takes {}",
            req.name(),
            spec.iter()
                .map(|(n, _)| format!("--{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
