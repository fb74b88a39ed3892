//! What every instruction parser works from: the node, the source, how much to check
//! ([`Checks`]), and the helpers they share for messages and heredoc text.

use crate::ast;
use crate::diagnostics::Diagnostic;

/// How much [`super::parse_instruction_with`] checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checks {
    /// What BuildKit checks when it parses the file: every instruction of every stage.
    ParseTime,
    /// Also what BuildKit checks only when it builds the instruction (`--chmod`, `--mount`
    /// options, ADD `--checksum` with several sources, EXPOSE ports, STOPSIGNAL), for values
    /// without variables, so the error shows before anything runs.
    Early,
}

/// What every instruction parser gets: the node, the source its spans index into, and how
/// much to check.
pub(crate) struct Request<'a> {
    pub(crate) inst: &'a ast::Instruction,
    pub(crate) source: &'a str,
    pub(crate) checks: Checks,
}

impl Request<'_> {
    /// True when dispatch-time checks are wanted now ([`Checks::Early`]).
    pub(crate) fn early(&self) -> bool {
        self.checks == Checks::Early
    }
}

impl Request<'_> {
    /// The keyword as written (`FrOm`), for messages that quote it.
    pub(crate) fn keyword_as_written(&self) -> &str {
        let s = self.inst.keyword_span;
        self.source
            .get(s.start..s.end)
            .filter(|k| !k.is_empty())
            .unwrap_or(&self.inst.keyword)
    }

    /// The keyword in capitals (`FROM`), as BuildKit names instructions in messages.
    pub(crate) fn name(&self) -> String {
        self.inst.keyword.to_ascii_uppercase()
    }

    /// An error about the instruction as a whole, pointing at its keyword.
    pub(crate) fn error(&self, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message, Some(self.inst.keyword_span))
    }

    /// `<NAME> requires at least one argument`.
    pub(crate) fn at_least_one_argument(&self) -> Diagnostic {
        self.error(format!("{} requires at least one argument", self.name()))
            .with_label("arguments missing")
    }

    /// `<NAME> requires exactly one argument` (the parser gives these instructions the rest
    /// of the line as one word, so this only happens when nothing follows the keyword).
    pub(crate) fn exactly_one_argument(&self) -> Diagnostic {
        self.error(format!("{} requires exactly one argument", self.name()))
            .with_label("argument missing")
    }
}

/// The text of a heredoc as a command or file uses it: for `<<-`, leading tabs are removed
/// from every line (BuildKit's `ChompHeredocContent`).
pub fn heredoc_text(heredoc: &ast::Heredoc) -> String {
    if !heredoc.chomp {
        return heredoc.content.clone();
    }
    heredoc
        .content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}
