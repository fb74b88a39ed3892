//! Go's character classes and string helpers, as BuildKit's parser uses them.
//!
//! BuildKit is written in Go, and which characters count as "space", "letter" or
//! "digit" decides how a Dockerfile is split. These helpers reproduce Go's
//! `unicode.IsSpace`, `strings.TrimSpace`, `strings.ToLower`, `unicode.IsLetter`,
//! `unicode.IsDigit` and the `[\t\v\f\r ]+` separator regex of the parser.

use unicode_general_category::get_general_category;

/// Go's `unicode.IsSpace`: the Unicode `White_Space` property, like Rust's `char::is_whitespace`.
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.IsSpace(rune(b))` on a single byte, as BuildKit's byte-wise loops call it
/// (bytes 0x85 and 0xA0 count as space there, even inside a UTF-8 sequence).
pub(super) fn is_byte_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

/// The parser's separator class `[\t\v\f\r ]` (no newline, no Unicode spaces).
pub(super) fn is_separator(c: char) -> bool {
    matches!(c, '\t' | '\x0b' | '\x0c' | '\r' | ' ')
}

/// Go regexp's `\s`: `[\t\n\f\r ]` (no vertical tab).
pub(super) fn is_regex_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\x0c' | '\r' | ' ')
}

/// Go's `unicode.IsDigit`: general category `Nd`.
pub(super) fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && get_general_category(c).abbreviation() == "Nd")
}

/// Go's `unicode.IsLetter`: general category `L*`.
pub(super) fn is_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (!c.is_ascii() && get_general_category(c).abbreviation().starts_with('L'))
}

/// Byte offset of the first non-space character (Go's `TrimLeftFunc(s, unicode.IsSpace)`).
pub(super) fn leading_space_len(s: &str) -> usize {
    s.len() - s.trim_start_matches(is_space).len()
}

/// Go's `strings.TrimSpace`, returning the byte range of what is kept.
pub(super) fn trim_space_range(s: &str) -> (usize, usize) {
    let start = leading_space_len(s);
    let end = s.trim_end_matches(is_space).len().max(start);
    (start, end)
}

/// Go's `strings.ToLower`: simple per-character lowercase mapping (no context rules).
pub(super) fn to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                return 'i';
            }
            let mut lower = c.to_lowercase();
            match (lower.next(), lower.next()) {
                (Some(l), None) => l,
                _ => c,
            }
        })
        .collect()
}

/// The smallest char boundary of `s` at or after `pos` (BuildKit slices Go strings at
/// byte positions that may fall inside a character; a Rust `&str` cannot).
pub(super) fn ceil_char_boundary(s: &str, mut pos: usize) -> usize {
    while pos < s.len() && !s.is_char_boundary(pos) {
        pos += 1;
    }
    pos.min(s.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_go() {
        assert_eq!(trim_space_range("  a b \u{a0}"), (2, 5));
        assert_eq!(trim_space_range("   "), (3, 3));
    }

    #[test]
    fn lowercases_per_character() {
        assert_eq!(to_lower("FrOM"), "from");
        assert_eq!(to_lower("ΣΑΣ"), "σασ");
        assert_eq!(to_lower("İ"), "i");
    }

    #[test]
    fn classes_follow_go() {
        assert!(is_letter('é') && !is_letter('Ⅰ') && is_digit('٣') && !is_digit('²'));
        assert!(is_byte_space(0xa0) && !is_separator('\n') && !is_regex_space('\x0b'));
    }
}
