//! The expansion itself: a port of BuildKit's `shellWord` (`processStopOn`,
//! `processSingleQuote`, `processDoubleQuote`, `processDollar`, `processName`).

use super::chars::{is_digit, is_letter, rune_string};
use super::env::Env;
use super::lexer::Lexer;
use super::pattern::{
    replace_all, replace_first, shell_pattern_to_regex, trim_prefix, trim_suffix,
};
use super::scanner::Scanner;
use super::words::Words;
use std::collections::BTreeSet;

/// The error text of one failed expansion step, before `failed to process "…"` is added.
pub(crate) type StepError = String;

/// How deeply `${…}` may nest. BuildKit (Go, growable stacks) has no limit; here each level
/// uses the call stack, so absurd nesting is refused instead of overflowing it.
pub(crate) const MAX_NESTING: usize = 128;

/// One expansion run over one input word.
pub(crate) struct Expander<'a> {
    lexer: &'a Lexer,
    env: &'a Env,
    scanner: Scanner,
    raw_escapes: bool,
    /// How many `$…` expansions are open.
    depth: usize,
    /// Variables that were looked up and set.
    pub(crate) matched: BTreeSet<String>,
    /// Variables that were looked up and not set.
    pub(crate) unmatched: BTreeSet<String>,
}

impl<'a> Expander<'a> {
    /// Prepares to expand `word`.
    pub(crate) fn new(lexer: &'a Lexer, env: &'a Env, word: &str) -> Self {
        Expander {
            lexer,
            env,
            scanner: Scanner::new(word),
            raw_escapes: lexer.raw_escapes,
            depth: 0,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        }
    }

    /// Expands the whole input: the word as one string, and split into words.
    pub(crate) fn run(&mut self) -> Result<(String, Vec<String>), StepError> {
        self.process_stop_on(None, self.lexer.raw_escapes)
    }

    /// Reads up to `stop` (consumed) or to the end when `stop` is `None`; running out of input
    /// while looking for `stop` is an error. `raw_escapes` applies to this stretch only.
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), StepError> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let outcome = self.read_until(stop);
        self.raw_escapes = saved;
        outcome
    }

    fn read_until(&mut self, stop: Option<char>) -> Result<(String, Vec<String>), StepError> {
        let mut result = String::new();
        let mut words = Words::default();
        let quotes = !self.lexer.skip_process_quotes;
        while let Some(c) = self.scanner.peek() {
            if Some(c) == stop {
                self.scanner.next();
                return Ok((result, words.finish()));
            }
            match c {
                '$' => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                    words.add_string(&value);
                }
                '\'' | '"' if quotes => {
                    let text = if c == '\'' {
                        self.single_quote()?
                    } else {
                        self.double_quote()?
                    };
                    result.push_str(&text);
                    words.add_raw_string(&text);
                }
                _ => {
                    self.scanner.next();
                    let mut c = c;
                    if c == self.lexer.escape {
                        if self.raw_escapes {
                            words.add_raw_char(c);
                            result.push(c);
                        }
                        // The escape escapes the next character; at the end it vanishes.
                        match self.scanner.next() {
                            None => break,
                            Some(escaped) => c = escaped,
                        }
                        words.add_raw_char(c);
                    } else {
                        words.add_char(c);
                    }
                    result.push(c);
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok((result, words.finish())),
        }
    }

    /// `'…'`: everything literal up to the next `'` (which cannot be escaped).
    fn single_quote(&mut self) -> Result<String, StepError> {
        let raw = self.lexer.raw_quotes;
        let mut text = String::new();
        self.scanner.next();
        if raw {
            text.push('\'');
        }
        loop {
            match self.scanner.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if raw {
                        text.push('\'');
                    }
                    return Ok(text);
                }
                Some(c) => text.push(c),
            }
        }
    }

    /// `"…"`: literal except `$…`; the escape character escapes only `"`, `$` and itself.
    fn double_quote(&mut self) -> Result<String, StepError> {
        let raw = self.lexer.raw_quotes;
        let escape = self.lexer.escape;
        let mut text = String::new();
        self.scanner.next();
        if raw {
            text.push('"');
        }
        loop {
            match self.scanner.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.scanner.next();
                    if raw {
                        text.push('"');
                    }
                    return Ok(text);
                }
                Some('$') => {
                    let value = self.dollar()?;
                    text.push_str(&value);
                }
                Some(c) => {
                    self.scanner.next();
                    let mut c = c;
                    if c == escape {
                        if self.raw_escapes {
                            text.push(c);
                        }
                        match self.scanner.peek() {
                            // An escape right before the end is dropped (the missing closing
                            // quote is reported on the next turn).
                            None => continue,
                            Some(next) if next == '"' || next == '$' || next == escape => {
                                self.scanner.next();
                                c = next;
                            }
                            // Any other escape stays as written (BuildKit writes it twice
                            // when raw escapes are on; kept for fidelity).
                            Some(_) => {}
                        }
                    }
                    text.push(c);
                }
            }
        }
    }

    /// `$NAME`, `${NAME}` and `${NAME<modifier>…}`; the scanner is on the `$`.
    fn dollar(&mut self) -> Result<String, StepError> {
        if self.depth >= MAX_NESTING {
            return Err(format!(
                "more than {MAX_NESTING} nested ${{…}} expansions; simplify the expression"
            ));
        }
        self.depth += 1;
        let outcome = self.dollar_at_depth();
        self.depth -= 1;
        outcome
    }

    fn dollar_at_depth(&mut self) -> Result<String, StepError> {
        self.scanner.next();
        if self.scanner.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.lexer.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.scanner.next();
        match self.scanner.peek() {
            None => return Err(missing_brace()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let first = self.scanner.next();
        match first {
            Some('}') => Ok(match self.lookup(&name) {
                Some(value) => value,
                None if self.lexer.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':' | '+' | '-' | '?' | '#' | '%') => self.modifier(&name, first),
            Some('/') => self.substitution(&name),
            _ => Err(unsupported_modifier(&rune_string(first))),
        }
    }

    /// `${NAME:-w}`, `${NAME-w}`, `${NAME:+w}`, `${NAME+w}`, `${NAME:?w}`, `${NAME?w}`,
    /// `${NAME#p}`, `${NAME##p}`, `${NAME%p}`, `${NAME%%p}`; `first` is the character after
    /// the name, already consumed.
    fn modifier(&mut self, name: &str, first: Option<char>) -> Result<String, StepError> {
        let mut spelled = rune_string(first);
        let null_is_unset = first == Some(':');
        let op = if null_is_unset {
            let op = self.scanner.next();
            spelled.push_str(&rune_string(op));
            op
        } else {
            first
        };
        let is_pattern = matches!(op, Some('#' | '%'));
        if null_is_unset && is_pattern {
            return Err(unsupported_modifier(&spelled));
        }
        let word = self.closing_word('}', is_pattern, missing_brace)?;
        let value = self.lookup(name);
        if self.lexer.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{spelled}{word}}}"));
        }
        let empty = value.as_deref().is_none_or(str::is_empty);
        let unset_or_null = value.is_none() || (null_is_unset && empty);
        match op {
            Some('-') => Ok(if unset_or_null {
                word
            } else {
                value.unwrap_or_default()
            }),
            Some('+') => Ok(if unset_or_null { String::new() } else { word }),
            Some('?') => {
                let default = match value {
                    None => "is not allowed to be unset",
                    Some(value) if null_is_unset && value.is_empty() => {
                        "is not allowed to be empty"
                    }
                    Some(value) => return Ok(value),
                };
                let message = if word.is_empty() { default } else { &word };
                Err(format!("{name}: {message}"))
            }
            Some(op @ ('#' | '%')) => {
                // `##`/`%%` match the longest pattern, `#`/`%` the shortest.
                let (pattern, greedy) = match word.strip_prefix(op) {
                    Some(rest) => (rest, true),
                    None => (word.as_str(), false),
                };
                let value = value.unwrap_or_default();
                if op == '%' {
                    trim_suffix(pattern, &value, greedy)
                } else {
                    trim_prefix(pattern, &value, greedy)
                }
            }
            _ => Err(unsupported_modifier(&spelled)),
        }
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`; the first `/` is
    /// already consumed.
    fn substitution(&mut self, name: &str) -> Result<String, StepError> {
        let all = self.scanner.peek() == Some('/');
        if all {
            self.scanner.next();
        }
        let pattern = self.closing_word('/', true, || "syntax error: missing '/' in ${}".into())?;
        let replacement = self.closing_word('}', true, missing_brace)?;
        let value = self.lookup(name);
        if self.lexer.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
        }
        let re = shell_pattern_to_regex(&pattern, true, false)
            .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
        let value = value.unwrap_or_default();
        Ok(if all {
            replace_all(&re, &value, &replacement)
        } else {
            replace_first(&re, &value, &replacement)
        })
    }

    /// The expanded text up to `stop`; running out of input reports `at_end`.
    fn closing_word(
        &mut self,
        stop: char,
        raw_escapes: bool,
        at_end: fn() -> String,
    ) -> Result<String, StepError> {
        match self.process_stop_on(Some(stop), raw_escapes) {
            Ok((word, _)) => Ok(word),
            Err(_) if self.scanner.peek().is_none() => Err(at_end()),
            Err(e) => Err(e),
        }
    }

    /// A variable name: letters, digits and `_`; or a run of digits (positional parameter);
    /// or one special parameter character (`@ * # ? - $ ! 0`). Empty when none of these.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.scanner.peek() {
            if name.is_empty() && is_digit(c) {
                while let Some(d) = self.scanner.peek().filter(|&d| is_digit(d)) {
                    self.scanner.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && is_special_parameter(c) {
                self.scanner.next();
                return c.to_string();
            }
            if !is_letter(c) && !is_digit(c) && c != '_' {
                break;
            }
            self.scanner.next();
            name.push(c);
        }
        name
    }

    /// The value of `name`, recording whether it was set.
    fn lookup(&mut self, name: &str) -> Option<String> {
        match self.env.get(name) {
            Some(value) => {
                self.matched.insert(name.to_string());
                Some(value.to_string())
            }
            None => {
                self.unmatched.insert(name.to_string());
                None
            }
        }
    }
}

/// POSIX special parameters; never set in a Dockerfile, so they expand to "".
fn is_special_parameter(c: char) -> bool {
    matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

fn missing_brace() -> String {
    "syntax error: missing '}'".into()
}

fn unsupported_modifier(spelled: &str) -> String {
    format!("unsupported modifier ({spelled}) in substitution")
}
