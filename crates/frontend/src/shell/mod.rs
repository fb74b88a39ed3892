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
mod expand;
pub(crate) mod go_quote;
mod pattern;
mod scanner;
mod words;

use std::collections::BTreeSet;

pub(crate) use go_quote::go_quote;

/// The variables a word is expanded against (later entries win over earlier ones with the same name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Env {
    vars: Vec<(String, String)>,
}

impl Env {
    /// An empty environment.
    pub fn new() -> Self {
        Env::default()
    }

    /// Sets `name` to `value`, replacing an earlier value.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.vars.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => self.vars.push((name, value)),
        }
    }

    /// The value of `name`, if set (an empty value is set).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// All variables in the order they were first set.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Env {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        let mut env = Env::new();
        for (k, v) in iter {
            env.set(k, v);
        }
        env
    }
}

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

/// BuildKit's shell lexer settings.
#[derive(Clone, Debug)]
pub struct Lexer {
    /// The escape character (`\` or `` ` ``).
    pub escape: char,
    /// Keep quotes in the output instead of removing them.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Leave `$UNSET` as written instead of expanding it to "".
    pub skip_unset_env: bool,
    /// Treat quotes as ordinary characters (BuildKit's `SkipProcessQuotes`, used when
    /// expanding heredoc bodies).
    pub skip_process_quotes: bool,
}

impl Lexer {
    /// A lexer with BuildKit's defaults for the given escape character.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            skip_process_quotes: false,
        }
    }

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
