//! The JSON (exec) form of an instruction, read the way BuildKit's `parseJSON` does with
//! Go's `encoding/json`: the whole text must be valid JSON (Go's grammar, nesting limit
//! and string decoding), then every top-level element must be a string.

use super::go_text::leading_space_len;
use super::split_command::Piece;

/// Go's `encoding/json` refuses to nest deeper than this.
const MAX_DEPTH: usize = 10000;

/// What the text after an instruction keyword is, seen as JSON.
#[derive(Debug, PartialEq)]
pub(super) enum JsonForm {
    /// A JSON array of strings: the decoded elements with the byte range of each literal.
    Strings(Vec<Piece>),
    /// Valid JSON array with a non-string element: BuildKit makes this a hard error.
    NotStrings,
    /// Not a JSON array (or not valid JSON): the instruction is in shell form.
    NotJson,
}

/// Reads `text` as a JSON array. Ranges in the result are byte offsets into `text`.
pub(super) fn parse_json_array(text: &str) -> JsonForm {
    let start = leading_space_len(text);
    if !text[start..].starts_with('[') {
        return JsonForm::NotJson;
    }
    let mut reader = Reader {
        bytes: text.as_bytes(),
        text,
        pos: start,
        number_out_of_range: false,
        top: Vec::new(),
        all_strings: true,
    };
    match reader.document() {
        Some(()) if !reader.number_out_of_range => {
            if reader.all_strings {
                JsonForm::Strings(reader.top)
            } else {
                JsonForm::NotStrings
            }
        }
        // Syntax errors and numbers Go cannot hold in a float64 both make
        // `json.Unmarshal` fail, and BuildKit then falls back to the shell form.
        _ => JsonForm::NotJson,
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Container {
    Array,
    Object,
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    number_out_of_range: bool,
    top: Vec<Piece>,
    all_strings: bool,
}

enum Next {
    Value,
    ValueOrClose,
    Key,
    KeyOrClose,
    CommaOrClose,
}

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    /// The whole input: one value, then only whitespace. Iterative, so deep nesting
    /// cannot overflow the stack.
    fn document(&mut self) -> Option<()> {
        let mut stack: Vec<Container> = Vec::new();
        let mut next = Next::Value;
        loop {
            self.skip_ws();
            match next {
                Next::Value | Next::ValueOrClose => {
                    if matches!(next, Next::ValueOrClose) && self.peek() == Some(b']') {
                        self.pos += 1;
                        stack.pop();
                        next = Next::CommaOrClose;
                        if stack.is_empty() {
                            break;
                        }
                        continue;
                    }
                    let (after, opened) = self.value(&mut stack)?;
                    next = after;
                    if opened {
                        continue;
                    }
                    if stack.is_empty() {
                        break;
                    }
                }
                Next::Key | Next::KeyOrClose => {
                    if matches!(next, Next::KeyOrClose) && self.peek() == Some(b'}') {
                        self.pos += 1;
                        stack.pop();
                        next = Next::CommaOrClose;
                        if stack.is_empty() {
                            break;
                        }
                        continue;
                    }
                    if self.peek()? != b'"' {
                        return None;
                    }
                    self.string()?;
                    self.skip_ws();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.pos += 1;
                    next = Next::Value;
                }
                Next::CommaOrClose => {
                    let container = *stack.last()?;
                    match (self.peek()?, container) {
                        (b',', Container::Array) => next = Next::Value,
                        (b',', Container::Object) => next = Next::Key,
                        (b']', Container::Array) | (b'}', Container::Object) => {
                            stack.pop();
                            if stack.is_empty() {
                                self.pos += 1;
                                break;
                            }
                        }
                        _ => return None,
                    }
                    self.pos += 1;
                }
            }
        }
        self.skip_ws();
        (self.pos == self.bytes.len()).then_some(())
    }

    /// One value where a value is expected: a scalar is read whole (then a comma or a close
    /// follows); `[`/`{` opens a container. Returns what comes next, and whether a container
    /// was opened.
    fn value(&mut self, stack: &mut Vec<Container>) -> Option<(Next, bool)> {
        let is_top_element = stack.len() == 1;
        let value_start = self.pos;
        match self.peek()? {
            b'"' => {
                let value = self.string()?;
                if is_top_element {
                    self.top.push(Piece {
                        value,
                        start: value_start,
                        end: self.pos,
                    });
                }
            }
            open @ (b'[' | b'{') => {
                self.pos += 1;
                if !stack.is_empty() {
                    self.all_strings &= !is_top_element;
                }
                let next = if open == b'[' {
                    stack.push(Container::Array);
                    Next::ValueOrClose
                } else {
                    stack.push(Container::Object);
                    Next::KeyOrClose
                };
                if stack.len() > MAX_DEPTH {
                    return None;
                }
                return Some((next, true));
            }
            b'-' | b'0'..=b'9' => {
                self.number()?;
                self.all_strings &= !is_top_element;
            }
            _ => {
                self.literal()?;
                self.all_strings &= !is_top_element;
            }
        }
        Some((Next::CommaOrClose, false))
    }

    fn literal(&mut self) -> Option<()> {
        for word in ["true", "false", "null"] {
            if self.text[self.pos..].starts_with(word) {
                self.pos += word.len();
                return Some(());
            }
        }
        None
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => {
                self.digits();
            }
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        let parsed: f64 = self.text[start..self.pos].parse().ok()?;
        if parsed.is_infinite() {
            self.number_out_of_range = true;
        }
        Some(())
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.text.get(at..at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }

    /// A string literal, decoded like Go (lone surrogates become U+FFFD).
    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let c = rest.chars().next()?;
            match c {
                '"' => {
                    self.pos += 1;
                    return Some(out);
                }
                '\\' => {
                    let esc = *self.bytes.get(self.pos + 1)?;
                    self.pos += 2;
                    match esc {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let unit = self.hex4(self.pos)?;
                            self.pos += 4;
                            out.push(self.code_point(unit));
                        }
                        _ => return None,
                    }
                }
                c if (c as u32) < 0x20 => return None,
                c => {
                    out.push(c);
                    self.pos += c.len_utf8();
                }
            }
        }
    }

    /// Turns a `\u` unit into a character, taking a following low surrogate if it pairs.
    fn code_point(&mut self, unit: u32) -> char {
        if !(0xd800..0xe000).contains(&unit) {
            return char::from_u32(unit).unwrap_or('\u{fffd}');
        }
        if (0xd800..0xdc00).contains(&unit) && self.text[self.pos..].starts_with("\\u") {
            if let Some(low) = self.hex4(self.pos + 2) {
                if (0xdc00..0xe000).contains(&low) {
                    self.pos += 6;
                    let combined = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
                    return char::from_u32(combined).unwrap_or('\u{fffd}');
                }
            }
        }
        '\u{fffd}'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(text: &str) -> Vec<String> {
        match parse_json_array(text) {
            JsonForm::Strings(pieces) => pieces.into_iter().map(|p| p.value).collect(),
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn decodes_like_go() {
        assert_eq!(
            strings(r#"["a", "\/\u0000\ud83d\ude00\ud800x"]"#),
            ["a", "/\0😀\u{fffd}x"]
        );
        assert_eq!(strings("[ ]"), Vec::<String>::new());
        assert_eq!(strings("  [\"\"] \n"), [""]);
    }

    #[test]
    fn element_ranges_cover_the_literals() {
        let JsonForm::Strings(pieces) = parse_json_array(r#"[ "ab", "c" ]"#) else {
            panic!("not strings")
        };
        assert_eq!(
            (
                pieces[0].start,
                pieces[0].end,
                pieces[1].start,
                pieces[1].end
            ),
            (2, 6, 8, 11)
        );
    }

    #[test]
    fn non_strings_and_invalid_json() {
        assert_eq!(
            parse_json_array(r#"[ "echo", [ "nested json" ] ]"#),
            JsonForm::NotStrings
        );
        assert_eq!(parse_json_array("[1, {\"a\": null}]"), JsonForm::NotStrings);
        assert_eq!(parse_json_array("['a']"), JsonForm::NotJson);
        assert_eq!(parse_json_array("[\"a\""), JsonForm::NotJson);
        assert_eq!(parse_json_array("[\"a\"] x"), JsonForm::NotJson);
        assert_eq!(parse_json_array("[1e400]"), JsonForm::NotJson);
        assert_eq!(parse_json_array("[01]"), JsonForm::NotJson);
        assert_eq!(parse_json_array("echo"), JsonForm::NotJson);
    }

    #[test]
    fn nesting_limit_matches_go() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse_json_array(&ok), JsonForm::NotStrings);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_json_array(&deep), JsonForm::NotJson);
    }
}
