//! BuildKit's shell lexer settings, on their own so the expander reads them without
//! importing the module that calls it.

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
}
