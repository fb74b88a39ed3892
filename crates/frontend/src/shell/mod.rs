//! Shell-word expansion as BuildKit's `shell.Lex` does it: `$V`, `${V:-w}` and friends,
//! quotes, escapes and word splitting.
//!
//! This is a port of BuildKit's `frontend/dockerfile/shell/lex.go`, error texts included
//! (`failed to process "${a": syntax error: missing '}'`). One deliberate difference: since
//! BuildKit shares one word buffer between nested `${…}` reads, its `ProcessWords` drops the
//! text before a `${V:-w}`-style expansion from the split words (`a${V:-b}c` → `bc`);
//! [`Lexer::process_words`] keeps it (`abc`), as BuildKit's word result did before that change.
//! And `${…}` may nest at most 128 deep (BuildKit has no limit), so that a hostile word
//! gets an error instead of overflowing the stack.

mod chars;
mod env;
mod expand;
pub(crate) mod go_quote;
mod lexer;
mod pattern;
mod scanner;
mod words;

use std::collections::BTreeSet;

pub use env::Env;
pub(crate) use go_quote::go_quote;
pub use lexer::Lexer;

/// Why a word could not be expanded (e.g. `${V:?msg}` with V unset, a bad substitution).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ShellError {
    /// BuildKit's message text.
    pub message: String,
}

/// Everything one expansion produced: what [`Lexer::process_word`] and
/// [`Lexer::process_words`] return, plus which variables the word referred to (BuildKit's
/// `ProcessWordWithMatches`), which lint checks such as `UndefinedVar` need.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expansion {
    /// The expanded word, quotes removed, not split.
    pub word: String,
    /// The expanded word split into words (quoted and escaped whitespace does not split).
    pub words: Vec<String>,
    /// Names that were looked up and set in the environment.
    pub matched: BTreeSet<String>,
    /// Names that were looked up and not set (`$1`, `$@` and friends included).
    pub unmatched: BTreeSet<String>,
}

impl Lexer {
    /// Expands one word (`ProcessWord`): quotes removed, variables substituted, no splitting.
    pub fn process_word(&self, word: &str, env: &Env) -> Result<String, ShellError> {
        self.expand(word, env).map(|e| e.word)
    }

    /// Expands and splits into words (`ProcessWords`).
    pub fn process_words(&self, word: &str, env: &Env) -> Result<Vec<String>, ShellError> {
        self.expand(word, env).map(|e| e.words)
    }

    /// Expands `word` and reports both forms and the variables used
    /// (`ProcessWordWithMatches`).
    pub fn expand(&self, word: &str, env: &Env) -> Result<Expansion, ShellError> {
        let mut expander = expand::Expander::new(self, env, word);
        match expander.run() {
            Ok((expanded, words)) => Ok(Expansion {
                word: expanded,
                words,
                matched: expander.matched,
                unmatched: expander.unmatched,
            }),
            Err(step) => Err(ShellError {
                message: format!("failed to process {}: {step}", go_quote(word)),
            }),
        }
    }
}
