//! Shell-word expansion as BuildKit's `shell.Lex` does it: `$V`, `${V:-w}` and friends,
//! quotes, escapes and word splitting.

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
}

impl Lexer {
    /// A lexer with BuildKit's defaults for the given escape character.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
        }
    }

    /// Expands one word (`ProcessWord`): quotes removed, variables substituted, no splitting.
    pub fn process_word(&self, _word: &str, _env: &Env) -> Result<String, ShellError> {
        Err(ShellError {
            message: "shell expansion not implemented yet".into(),
        })
    }

    /// Expands and splits into words (`ProcessWords`).
    pub fn process_words(&self, _word: &str, _env: &Env) -> Result<Vec<String>, ShellError> {
        Err(ShellError {
            message: "shell expansion not implemented yet".into(),
        })
    }
}
