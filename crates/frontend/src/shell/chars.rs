//! Go's `unicode` character classes, which decide what BuildKit reads as a variable name
//! and what Go's `%q` prints raw. Rust's `char::is_alphabetic`/`is_numeric` use different
//! Unicode properties, so the general category is looked up directly.

use unicode_general_category::{get_general_category, GeneralCategory as Gc};

/// Go's `unicode.IsLetter`: general category L (Lu, Ll, Lt, Lm, Lo).
pub(crate) fn is_letter(c: char) -> bool {
    matches!(
        get_general_category(c),
        Gc::UppercaseLetter
            | Gc::LowercaseLetter
            | Gc::TitlecaseLetter
            | Gc::ModifierLetter
            | Gc::OtherLetter
    )
}

/// Go's `unicode.IsDigit`: general category Nd.
pub(crate) fn is_digit(c: char) -> bool {
    get_general_category(c) == Gc::DecimalNumber
}

/// Go's `unicode.IsSpace` (the White_Space property, which Rust's `is_whitespace` also uses).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace()
}

/// Go's `unicode.IsPrint`/`strconv.IsPrint`: letters, marks, numbers, punctuation,
/// symbols and the ASCII space.
pub(crate) fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    !matches!(
        get_general_category(c),
        Gc::SpaceSeparator
            | Gc::LineSeparator
            | Gc::ParagraphSeparator
            | Gc::Control
            | Gc::Format
            | Gc::Surrogate
            | Gc::PrivateUse
            | Gc::Unassigned
    )
}

/// What Go's `string(r)` gives for a rune read by `text/scanner`: the character itself,
/// or U+FFFD for EOF (`-1`), as in BuildKit's `unsupported modifier (�)` message.
pub(crate) fn rune_string(c: Option<char>) -> String {
    c.unwrap_or(char::REPLACEMENT_CHARACTER).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_digits_follow_go_not_rust() {
        assert!(is_letter('한'));
        assert!(is_letter('ª'));
        // Roman numeral Ⅻ is alphabetic in Rust but a letter-number (Nl) in Go, so not a letter.
        assert!('Ⅻ'.is_alphabetic());
        assert!(!is_letter('Ⅻ'));
        // Superscript two is numeric in Rust (No) but not a Go digit (Nd).
        assert!('²'.is_numeric());
        assert!(!is_digit('²'));
        assert!(is_digit('٣'));
    }

    #[test]
    fn printable_is_go_is_print() {
        assert!(is_print(' '));
        assert!(is_print('♥'));
        assert!(is_print('\u{0301}'));
        assert!(!is_print('\u{00a0}'));
        assert!(!is_print('\u{2028}'));
        assert!(!is_print('\t'));
    }

    #[test]
    fn eof_rune_prints_as_replacement_character() {
        assert_eq!(rune_string(None), "\u{fffd}");
        assert_eq!(rune_string(Some(':')), ":");
    }
}
