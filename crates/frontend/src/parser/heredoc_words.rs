//! The part of BuildKit's shell lexer that heredoc detection uses: word splitting with
//! quotes, `\` escapes and `$` references, where no variable is set and unset ones are
//! kept as written (`SkipUnsetEnv`). Optionally quotes (`RawQuotes`) and escapes
//! (`RawEscapes`) are kept in the words.
//!
//! It is deliberately separate from the full expander in `crate::shell`: the parser must
//! reproduce exactly this configuration, including its error cases, and nothing more.

use super::go_text::{is_digit, is_letter, is_space};

/// How the lexer treats quotes and escapes.
#[derive(Clone, Copy)]
pub(super) struct LexMode {
    /// Keep `'` and `"` in the words.
    pub raw_quotes: bool,
    /// Keep `\` escapes in the words.
    pub raw_escapes: bool,
}

/// A word with the byte range of the input it came from.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct LexWord {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Splits `input` into words like BuildKit's `ProcessWords` with an empty environment.
pub(super) fn lex_words(input: &str, mode: LexMode) -> Result<Vec<LexWord>, String> {
    let mut chars: Vec<(usize, char)> = input.char_indices().collect();
    // Go's text/scanner skips a byte-order mark at the very start.
    if chars.first().is_some_and(|&(_, c)| c == '\u{feff}') {
        chars.remove(0);
    }
    let mut lexer = Lexer {
        chars,
        index: 0,
        len: input.len(),
        raw_quotes: mode.raw_quotes,
        raw_escapes: mode.raw_escapes,
        depth: 0,
    };
    lexer
        .stop_on(None, mode.raw_escapes)
        .map(|(_, words)| words)
}

struct Lexer {
    chars: Vec<(usize, char)>,
    index: usize,
    len: usize,
    raw_quotes: bool,
    raw_escapes: bool,
    /// How many `${…}` are open: bounded so hostile input cannot overflow the stack.
    depth: usize,
}

/// The deepest `${…}` nesting the heredoc lexer follows (as the shell lexer's limit).
const MAX_DEPTH: usize = 128;

#[derive(Default)]
struct Words {
    word: String,
    words: Vec<LexWord>,
    in_word: bool,
    start: usize,
    end: usize,
}

impl Words {
    fn add_char(&mut self, ch: char, start: usize, end: usize) {
        if is_space(ch) && self.in_word {
            if !self.word.is_empty() {
                self.flush();
            }
        } else if !is_space(ch) {
            self.add_raw_string(ch.encode_utf8(&mut [0; 4]), start, end);
        }
    }

    fn add_string(&mut self, text: &str, start: usize, end: usize) {
        for ch in text.chars() {
            self.add_char(ch, start, end);
        }
    }

    fn add_raw_string(&mut self, text: &str, start: usize, end: usize) {
        if !self.in_word {
            self.start = start;
        }
        self.word.push_str(text);
        self.in_word = true;
        self.end = end;
    }

    fn flush(&mut self) {
        self.words.push(LexWord {
            text: std::mem::take(&mut self.word),
            start: self.start,
            end: self.end,
        });
        self.in_word = false;
    }

    fn finish(mut self) -> Vec<LexWord> {
        if !self.word.is_empty() {
            self.flush();
        }
        self.words
    }
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).map(|&(_, c)| c)
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.index += 1;
        }
        c
    }

    fn offset(&self) -> usize {
        self.chars.get(self.index).map_or(self.len, |&(i, _)| i)
    }

    /// `processStopOn`: reads until `stop` (or the end), temporarily using `raw_escapes`.
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<LexWord>), String> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.stop_on_inner(stop);
        self.raw_escapes = saved;
        result
    }

    fn stop_on_inner(&mut self, stop: Option<char>) -> Result<(String, Vec<LexWord>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            let start = self.offset();
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let text = self.dollar()?;
                    result.push_str(&text);
                    words.add_string(&text, start, self.offset());
                }
                '\'' | '"' => {
                    let text = if ch == '\'' {
                        self.single_quote()?
                    } else {
                        self.double_quote()?
                    };
                    result.push_str(&text);
                    words.add_raw_string(&text, start, self.offset());
                }
                _ => {
                    self.next();
                    if ch == '\\' {
                        if self.raw_escapes {
                            words.add_raw_string("\\", start, self.offset());
                            result.push('\\');
                        }
                        let Some(escaped) = self.next() else {
                            break;
                        };
                        words.add_raw_string(
                            escaped.encode_utf8(&mut [0; 4]),
                            start,
                            self.offset(),
                        );
                        result.push(escaped);
                    } else {
                        words.add_char(ch, start, self.offset());
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(stop) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        let open = self.next().unwrap_or('\'');
        if self.raw_quotes {
            result.push(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        let open = self.next().unwrap_or('"');
        if self.raw_quotes {
            result.push(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.next();
                    if self.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.dollar()?),
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == '\\' {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some('"' | '$' | '\\') => ch = self.next().unwrap_or_default(),
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    /// `processDollar` with every variable unset: references come back as written
    /// (modulo the processing of their inner words), syntax errors are reported.
    fn dollar(&mut self) -> Result<String, String> {
        if self.depth >= MAX_DEPTH {
            return Err(format!(
                "variable substitution nested more than {MAX_DEPTH} deep"
            ));
        }
        self.depth += 1;
        let result = self.dollar_inner();
        self.depth -= 1;
        result
    }

    fn dollar_inner(&mut self) -> Result<String, String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.name();
            return Ok(format!("${name}"));
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let ch = self.next();
        let mut modifier = go_rune_string(ch);
        match ch {
            Some('}') => Ok(format!("${{{name}}}")),
            Some(':' | '+' | '-' | '?' | '#' | '%') => {
                let mut op = ch;
                if ch == Some(':') {
                    op = self.next();
                    modifier.push_str(&go_rune_string(op));
                }
                let raw = matches!(op, Some('#' | '%'));
                let word = self.stop_on_or_missing(Some('}'), raw, "syntax error: missing '}'")?;
                Ok(format!("${{{name}{modifier}{word}}}"))
            }
            Some('/') => {
                if self.peek() == Some('/') {
                    self.next();
                }
                let pattern =
                    self.stop_on_or_missing(Some('/'), true, "syntax error: missing '/' in ${}")?;
                let replacement =
                    self.stop_on_or_missing(Some('}'), true, "syntax error: missing '}'")?;
                Ok(format!("${{{name}/{pattern}/{replacement}}}"))
            }
            _ => Err(format!("unsupported modifier ({modifier}) in substitution")),
        }
    }

    fn stop_on_or_missing(
        &mut self,
        stop: Option<char>,
        raw: bool,
        missing: &str,
    ) -> Result<String, String> {
        match self.stop_on(stop, raw) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err(missing.to_string()),
            Err(e) => Err(e),
        }
    }

    /// `processName`: a run of digits, one special parameter, or letters/digits/`_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|&c| is_digit(c)) {
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !is_letter(ch) && !is_digit(ch) && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

/// Go's `string(r)`: end of input (-1) prints as U+FFFD.
fn go_rune_string(c: Option<char>) -> String {
    c.unwrap_or('\u{fffd}').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: LexMode = LexMode {
        raw_quotes: true,
        raw_escapes: true,
    };
    const COOKED: LexMode = LexMode {
        raw_quotes: false,
        raw_escapes: false,
    };

    fn texts(input: &str, mode: LexMode) -> Vec<String> {
        lex_words(input, mode)
            .unwrap()
            .into_iter()
            .map(|w| w.text)
            .collect()
    }

    #[test]
    fn raw_mode_keeps_the_text() {
        assert_eq!(
            texts(r#"RUN <<"EOF" cat 'a b' \x $V ${W:-y}"#, RAW),
            ["RUN", "<<\"EOF\"", "cat", "'a b'", "\\x", "$V", "${W:-y}"]
        );
    }

    #[test]
    fn cooked_mode_removes_quotes_and_escapes() {
        assert_eq!(texts(r#""E"OF \"x 'a b'"#, COOKED), ["EOF", "\"x", "a b"]);
        assert_eq!(texts("\"\"", COOKED), Vec::<String>::new());
    }

    #[test]
    fn word_ranges() {
        let words = lex_words("RUN  <<EOF x", RAW).unwrap();
        assert_eq!((words[1].start, words[1].end), (5, 10));
    }

    #[test]
    fn errors() {
        assert_eq!(
            lex_words("a 'b", RAW).unwrap_err(),
            "unexpected end of statement while looking for matching single-quote"
        );
        assert_eq!(
            lex_words("${", RAW).unwrap_err(),
            "syntax error: missing '}'"
        );
        assert_eq!(
            lex_words("${}", RAW).unwrap_err(),
            "syntax error: bad substitution"
        );
        assert_eq!(
            lex_words("${a!}", RAW).unwrap_err(),
            "unsupported modifier (!) in substitution"
        );
    }
}
