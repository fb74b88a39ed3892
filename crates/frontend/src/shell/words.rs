//! Word splitting as BuildKit's `wordsStruct` does it while a word is expanded: unquoted
//! literal text and variable values split on whitespace, quoted and escaped text never does.

use super::chars::is_space;

/// The words collected so far and the one being built.
#[derive(Default)]
pub(crate) struct Words {
    current: String,
    done: Vec<String>,
    in_word: bool,
}

impl Words {
    /// Adds a character that splits words if it is whitespace.
    pub(crate) fn add_char(&mut self, c: char) {
        if is_space(c) {
            if self.in_word && !self.current.is_empty() {
                self.done.push(std::mem::take(&mut self.current));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    /// Adds a character that never splits (escaped).
    pub(crate) fn add_raw_char(&mut self, c: char) {
        self.current.push(c);
        self.in_word = true;
    }

    /// Adds text whose whitespace splits words (a variable's value).
    pub(crate) fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    /// Adds text that never splits (the content of quotes).
    pub(crate) fn add_raw_string(&mut self, s: &str) {
        self.current.push_str(s);
        self.in_word = true;
    }

    /// All words; an empty word in progress (e.g. from `""`) is dropped, as in BuildKit.
    pub(crate) fn finish(mut self) -> Vec<String> {
        if !self.current.is_empty() {
            self.done.push(self.current);
        }
        self.done
    }
}
