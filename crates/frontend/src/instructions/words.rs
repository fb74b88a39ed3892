//! Helpers shared by the instruction parsers: spans inside a word, and the word expander.

use crate::ast::{Span, Word};
use crate::diagnostics::{suggest, Diagnostic};
use crate::shell::{Env, Lexer};

/// The span of `word.value[range]`, when the word was written verbatim on one line
/// (no quotes removed, no continuation inside); otherwise the whole word's span.
pub(crate) fn sub_span(source: &str, word: &Word, range: std::ops::Range<usize>) -> Span {
    let s = word.span;
    let verbatim = source.get(s.start..s.end) == Some(word.value.as_str());
    if !verbatim || word.value.contains('\n') || range.end > word.value.len() {
        return s;
    }
    Span {
        start: s.start + range.start,
        end: s.start + range.end,
        line: s.line,
        column: s.column + word.value[..range.start].chars().count(),
    }
}

/// `word.value[range]` as a word of its own, with its span inside `word` when it can be known.
pub(crate) fn sub_word(source: &str, word: &Word, range: std::ops::Range<usize>) -> Word {
    Word {
        value: word.value[range.clone()].to_string(),
        span: sub_span(source, word, range),
    }
}

/// Expands words with BuildKit's `ProcessWord` against one environment (one instruction's).
pub(crate) struct Expander<'a> {
    lexer: &'a Lexer,
    env: &'a Env,
}

impl<'a> Expander<'a> {
    /// An expander for one instruction.
    pub(crate) fn new(lexer: &'a Lexer, env: &'a Env) -> Self {
        Expander { lexer, env }
    }

    /// The expansion of one word, span kept; a failed expansion points at the word.
    pub(crate) fn word(&self, word: &Word) -> Result<Word, Diagnostic> {
        match self.lexer.process_word(&word.value, self.env) {
            Ok(value) => Ok(Word {
                value,
                span: word.span,
            }),
            Err(err) => Err(Diagnostic::error(err.message, Some(word.span))
                .with_label("while expanding this word")
                .with_hint("check the ${…} syntax, or escape the `$` to keep it literally")),
        }
    }

    /// A heredoc body's expansion, as BuildKit's `ExpandRaw`: a lexer with `\\` as escape
    /// that treats quotes as text, so only variables (and escapes) are processed.
    pub(crate) fn raw_word(&self, word: &Word) -> Result<Word, Diagnostic> {
        let mut raw = Lexer::new('\\');
        raw.skip_process_quotes = true;
        Expander {
            lexer: &raw,
            env: self.env,
        }
        .word(word)
    }

    /// [`Expander::word`] over an optional word.
    pub(crate) fn opt(&self, word: &Option<Word>) -> Result<Option<Word>, Diagnostic> {
        word.as_ref().map(|w| self.word(w)).transpose()
    }

    /// [`Expander::word`] over a list.
    pub(crate) fn all(&self, words: &[Word]) -> Result<Vec<Word>, Diagnostic> {
        words.iter().map(|w| self.word(w)).collect()
    }
}

/// An error for a value outside a fixed set, with a did-you-mean or the list of choices.
pub(crate) fn bad_choice(message: String, value: &Word, choices: &[&str]) -> Diagnostic {
    let d = Diagnostic::error(message, Some(value.span)).with_label("not a valid value");
    match suggest::closest(&value.value.to_ascii_lowercase(), choices.iter().copied()) {
        Some(best) => d.with_hint(format!("did you mean \"{best}\"?")),
        None => d.with_hint(format!("use one of: {}", choices.join(", "))),
    }
}
