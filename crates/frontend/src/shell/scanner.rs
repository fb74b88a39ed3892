//! A character reader with the behaviour of Go's `text/scanner` as BuildKit uses it
//! (`Peek`/`Next` only): one character of look-ahead, and a byte order mark at the very
//! start of the input is skipped.

/// Reads characters one at a time; `None` is Go's `scanner.EOF`.
pub(crate) struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

impl Scanner {
    /// A scanner positioned at the start of `text` (after a leading U+FEFF, as in Go).
    pub(crate) fn new(text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let pos = usize::from(chars.first() == Some(&'\u{feff}'));
        Scanner { chars, pos }
    }

    /// The next character without consuming it.
    pub(crate) fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    /// Consumes and returns the next character.
    pub(crate) fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::Scanner;

    #[test]
    fn skips_only_a_leading_bom() {
        let mut s = Scanner::new("\u{feff}a\u{feff}");
        assert_eq!(s.next(), Some('a'));
        assert_eq!(s.peek(), Some('\u{feff}'));
        assert_eq!(s.next(), Some('\u{feff}'));
        assert_eq!(s.next(), None);
        assert_eq!(s.next(), None);
    }
}
