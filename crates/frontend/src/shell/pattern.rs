//! The shell patterns of `${V#p}`, `${V%p}` and `${V/p/r}`: `?` is one character, `*` any run
//! of characters, `\` escapes `*`, `?` and `\`. Like BuildKit, a pattern is turned into a
//! regular expression (no bracket expressions); suffix trimming reverses both the pattern
//! and the value so that the shortest *rightmost* match becomes a leftmost one.

use super::chars::{is_digit, is_letter, rune_string};
use super::scanner::Scanner;
use regex::Regex;

/// BuildKit's `convertShellPatternToRegex`: `greedy` makes `*` match the longest run,
/// `anchored` matches only at the start of the value.
pub(crate) fn shell_pattern_to_regex(
    pattern: &str,
    greedy: bool,
    anchored: bool,
) -> Result<Regex, String> {
    let mut s = Scanner::new(pattern);
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    while let Some(tok) = s.next() {
        match tok {
            '*' => out.push_str(star),
            '?' => out.push('.'),
            '\\' => {
                // `}` and `/` are escaped only to get them past `${…}`; the escape is not
                // part of the pattern.
                if matches!(s.peek(), Some('}' | '/')) {
                    continue;
                }
                match s.next() {
                    Some(c @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(c);
                    }
                    other => return Err(format!("invalid escape '\\{}'", rune_string(other))),
                }
            }
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    Regex::new(&out).map_err(|e| e.to_string())
}

/// `${V#p}` / `${V##p}`: removes the shortest (or longest, `greedy`) prefix matching `pattern`.
pub(crate) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let re = shell_pattern_to_regex(pattern, greedy, true)
        .map_err(|e| format!("invalid pattern ({pattern}) in substitution: {e}"))?;
    Ok(match re.find(value) {
        Some(m) => value[m.end()..].to_string(),
        None => value.to_string(),
    })
}

/// `${V%p}` / `${V%%p}`: removes the shortest (or longest) suffix matching `pattern`.
pub(crate) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, String> {
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reverse_string(value), greedy)?;
    Ok(reverse_string(&trimmed))
}

/// `${V/p/r}`: replaces the first (longest) match of `pattern` with `replacement`, verbatim.
pub(crate) fn replace_first(re: &Regex, value: &str, replacement: &str) -> String {
    match re.find(value) {
        Some(m) => format!("{}{replacement}{}", &value[..m.start()], &value[m.end()..]),
        None => value.to_string(),
    }
}

/// `${V//p/r}`: Go's `Regexp.ReplaceAllString`, including its handling of empty matches and
/// its `$` template syntax in the replacement (`$0`/`${0}` is the match, `$$` a dollar).
pub(crate) fn replace_all(re: &Regex, value: &str, replacement: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut last_end = 0;
    let mut search = 0;
    while search <= value.len() {
        let Some(m) = re.find_at(value, search) else {
            break;
        };
        out.push_str(&value[last_end..m.start()]);
        // No replacement for an empty match right after the previous match.
        if m.end() > last_end || m.start() == 0 {
            expand_template(&mut out, replacement, m.as_str());
        }
        last_end = m.end();
        let width = value[search..].chars().next().map_or(0, char::len_utf8);
        search = if search + width > m.end() {
            search + width
        } else if search + 1 > m.end() {
            search + 1
        } else {
            m.end()
        };
    }
    out.push_str(&value[last_end..]);
    out
}

/// Go's `Regexp.expand` for a regex whose only group is the whole match.
fn expand_template(out: &mut String, template: &str, whole: &str) {
    let mut rest = template;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(after) = rest.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        match template_reference(rest) {
            // A malformed reference leaves the `$` as text.
            None => out.push('$'),
            Some((name, after)) => {
                rest = after;
                // Only group 0 exists; `00`-style names and named groups expand to nothing.
                if name == "0" {
                    out.push_str(whole);
                }
            }
        }
    }
    out.push_str(rest);
}

/// Go's `extract`: a `name` or `{name}` reference at the start of `s`, and the text after it.
fn template_reference(s: &str) -> Option<(&str, &str)> {
    let (braced, body) = match s.strip_prefix('{') {
        Some(body) => (true, body),
        None => (false, s),
    };
    let len = body
        .char_indices()
        .find(|&(_, c)| !(is_letter(c) || is_digit(c) || c == '_'))
        .map_or(body.len(), |(i, _)| i);
    if len == 0 {
        return None;
    }
    let (name, after) = body.split_at(len);
    if braced {
        return after.strip_prefix('}').map(|after| (name, after));
    }
    Some((name, after))
}

/// Reverses a pattern but keeps each escape in front of the character it escapes
/// (`a\*c` → `c\*a`); a trailing lone `\` is reversed like any character.
pub(crate) fn reverse_pattern(pattern: &str) -> String {
    let chars: Vec<char> = pattern.chars().collect();
    let mut out = vec!['\0'; chars.len()];
    let Some(last) = chars.len().checked_sub(1) else {
        return String::new();
    };
    let mut i = 0;
    while i <= last {
        let tok = chars[i];
        let out_idx = last - i;
        if tok == '\\' && i != last {
            out[out_idx - 1] = tok;
            out[out_idx] = chars[i + 1];
            i += 2;
        } else {
            out[out_idx] = tok;
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// Reverses a string character by character.
pub(crate) fn reverse_string(s: &str) -> String {
    s.chars().rev().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_patterns_like_buildkit() {
        let cases = [
            ("*", "^.*"),
            ("?", "^."),
            ("\\*", "^\\*"),
            (
                "(()[]{\\}^$.\\*\\?|\\\\",
                "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\",
            ),
        ];
        for (pattern, expected) in cases {
            let re = shell_pattern_to_regex(pattern, true, true).unwrap();
            assert_eq!(re.as_str(), expected, "pattern {pattern:?}");
        }
        for invalid in ["\\", "\\x", "\\\\\\"] {
            assert!(
                shell_pattern_to_regex(invalid, true, true).is_err(),
                "{invalid:?} must be rejected"
            );
        }
        assert_eq!(
            shell_pattern_to_regex("a\\x", true, false).unwrap_err(),
            "invalid escape '\\x'"
        );
        assert_eq!(
            shell_pattern_to_regex("\\", true, false).unwrap_err(),
            "invalid escape '\\\u{fffd}'"
        );
    }

    #[test]
    fn reverses_like_buildkit() {
        assert_eq!(reverse_string("54321"), "12345");
        assert_eq!(reverse_string("🖖🚀👽"), "👽🚀🖖");
        let cases = [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            ("\\\\b", "b\\\\"),
            ("", ""),
        ];
        for (pattern, expected) in cases {
            assert_eq!(reverse_pattern(pattern), expected, "pattern {pattern:?}");
        }
    }

    #[test]
    fn replace_all_follows_go_empty_match_rules() {
        let star = shell_pattern_to_regex("*", true, false).unwrap();
        assert_eq!(replace_all(&star, "abc", "X"), "X");
        let empty = shell_pattern_to_regex("", true, false).unwrap();
        assert_eq!(replace_all(&empty, "ab", "-"), "-a-b-");
        assert_eq!(replace_all(&empty, "", "-"), "-");
        let b = shell_pattern_to_regex("b", true, false).unwrap();
        assert_eq!(replace_all(&b, "abcb", "<$0>"), "a<b>c<b>");
        assert_eq!(replace_all(&b, "ab", "${0}$$0$1$00$x${0"), "ab$0${0");
    }
}
