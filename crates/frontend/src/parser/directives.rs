//! Parser directives (`# syntax=…`, `# escape=…`, `# check=…`) as BuildKit's
//! `DirectiveParser` reads them: only at the very top, each key at most once.

use super::go_text::{is_regex_space, is_space};

/// The directive keys BuildKit knows; any other key ends the directive section.
const KNOWN_KEYS: [&str; 3] = ["syntax", "escape", "check"];

/// A directive found on one line: key (lowercased) and value, with their byte ranges in
/// the line that was given to [`DirectiveParser::parse_line`].
#[derive(Debug, PartialEq, Eq)]
pub(super) struct FoundDirective {
    pub name: String,
    pub value: String,
    pub name_range: (usize, usize),
    pub value_range: (usize, usize),
}

/// A directive error, with the byte range in the line it is about.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct DirectiveError {
    pub message: String,
    pub range: (usize, usize),
}

/// Tracks which directives were seen and when the directive section ended.
#[derive(Default)]
pub(super) struct DirectiveParser {
    seen: Vec<String>,
    done: bool,
}

impl DirectiveParser {
    /// Looks at one (left-trimmed) line at the top of the file. Returns the directive it
    /// holds, `None` when it is not one (which ends the directive section for good).
    pub fn parse_line(&mut self, line: &str) -> Result<Option<FoundDirective>, DirectiveError> {
        if self.done {
            return Ok(None);
        }
        let Some(found) = match_directive(line) else {
            self.done = true;
            return Ok(None);
        };
        if !KNOWN_KEYS.contains(&found.name.as_str()) {
            self.done = true;
            return Ok(None);
        }
        if self.seen.contains(&found.name) {
            return Err(DirectiveError {
                message: format!("only one {} parser directive can be used", found.name),
                range: found.name_range,
            });
        }
        self.seen.push(found.name.clone());
        Ok(Some(found))
    }
}

/// Checks an `escape` directive's value and returns the escape character.
pub(super) fn escape_token(value: &str) -> Result<char, String> {
    match value {
        "\\" => Ok('\\'),
        "`" => Ok('`'),
        _ => Err(format!(
            "invalid escape token '{value}' does not match ` or \\"
        )),
    }
}

/// BuildKit's directive syntax: `#`, spaces, then `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn match_directive(line: &str) -> Option<FoundDirective> {
    let after_hash = line.strip_prefix('#')?;
    let key_start = 1 + (after_hash.len() - after_hash.trim_start_matches(is_space).len());
    let rest = &line[key_start..];
    if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
        return None;
    }
    let key_len = rest
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(rest.len());
    let key_end = key_start + key_len;
    let after_key = &line[key_end..];
    let eq = key_end + (after_key.len() - after_key.trim_start_matches(is_regex_space).len());
    if !line[eq..].starts_with('=') {
        return None;
    }
    let raw_value = &line[eq + 1..];
    if raw_value.contains('\n') || raw_value.is_empty() {
        return None;
    }
    let trimmed_start = raw_value.trim_start_matches(is_regex_space);
    let value_range = if trimmed_start.is_empty() {
        // Only blanks after `=`: the regex backtracks and `(.+?)` takes the last blank.
        let last = raw_value.chars().next_back()?;
        let end = eq + 1 + raw_value.len();
        (end - last.len_utf8(), end)
    } else {
        let start = eq + 1 + (raw_value.len() - trimmed_start.len());
        (
            start,
            start + trimmed_start.trim_end_matches(is_regex_space).len(),
        )
    };
    Some(FoundDirective {
        name: rest[..key_len].to_ascii_lowercase(),
        value: line[value_range.0..value_range.1].to_string(),
        name_range: (key_start, key_end),
        value_range,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Option<(String, String)> {
        match_directive(line).map(|d| (d.name, d.value))
    }

    #[test]
    fn matches_buildkit_syntax() {
        assert_eq!(parse("# escape = `"), Some(("escape".into(), "`".into())));
        assert_eq!(
            parse("#SYNTAX=docker/dockerfile:1  "),
            Some(("syntax".into(), "docker/dockerfile:1".into()))
        );
        assert_eq!(parse("# escape= "), Some(("escape".into(), " ".into())));
        assert_eq!(parse("# escape="), None);
        assert_eq!(parse("# 1x=y"), None);
        assert_eq!(parse("escape=`"), None);
    }

    #[test]
    fn unknown_key_ends_the_section() {
        let mut parser = DirectiveParser::default();
        assert_eq!(parser.parse_line("# foo=bar"), Ok(None));
        assert_eq!(parser.parse_line("# escape=`"), Ok(None));
    }

    #[test]
    fn repeated_key_is_an_error() {
        let mut parser = DirectiveParser::default();
        assert!(parser.parse_line("# check=skip=all").unwrap().is_some());
        let err = parser.parse_line("# CHECK=error=true").unwrap_err();
        assert_eq!(err.message, "only one check parser directive can be used");
        assert_eq!(err.range, (2, 7));
    }

    #[test]
    fn escape_values() {
        assert_eq!(escape_token("`"), Ok('`'));
        assert_eq!(
            escape_token("x").unwrap_err(),
            "invalid escape token 'x' does not match ` or \\"
        );
    }
}
