//! The regular expressions moby/patternmatcher builds from ignore patterns, read with Go's
//! `regexp` syntax and matched against a whole path.
//!
//! patternmatcher turns a pattern such as `a*/[bc]?` into the Go expression `^a[^/]*/[bc][^/]$`
//! and lets Go's parser make sense of whatever the user wrote inside `[…]` — even where the
//! generated text lands inside a user's class (`[*]` becomes `[[^/]*]`, a class of `[`, `^`
//! and `/` repeated, then a literal `]`). To keep those semantics exactly, this module parses
//! the generated text the way Go's `regexp/syntax` does (Perl flags: `.` excludes `\n`,
//! `^`/`$` are text anchors, `\d\s\w\b` are ASCII) and runs it as a Thompson NFA, so matching
//! is linear in the path length. Unicode classes (`\p{…}`) are not supported (an error
//! says so); everything else Go accepts in these expressions is.

/// Sorted, non-overlapping inclusive ranges of Unicode scalar values.
type Ranges = Vec<(u32, u32)>;

const MAX_CHAR: u32 = 0x10_FFFF;

/// A compiled expression; [`GoRegex::is_match`] tests a whole string.
#[derive(Clone, Debug)]
pub(super) struct GoRegex {
    states: Vec<State>,
    start: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Assertion {
    BeginText,
    EndText,
    WordBoundary,
    NotWordBoundary,
}

#[derive(Clone, Debug)]
enum Node {
    One(Ranges),
    Star(Ranges),
    Assert(Assertion),
    Group { nodes: Vec<Node>, optional: bool },
}

#[derive(Clone, Debug)]
enum State {
    Consume(Ranges, usize),
    Split(usize, usize),
    Assert(Assertion, usize),
    Match,
}

impl GoRegex {
    /// Parses `expr` with Go's rules; the error text is Go's where Go would fail too.
    pub(super) fn new(expr: &str) -> Result<Self, String> {
        let mut parser = Parser {
            chars: expr.chars().collect(),
            pos: 0,
        };
        let nodes = parser.sequence(false)?;
        let mut states = vec![State::Match];
        let start = compile(&nodes, 0, &mut states);
        Ok(GoRegex { states, start })
    }

    /// Whether the expression matches anywhere in `text` (patternmatcher's expressions are
    /// anchored with `^…$`, so this is a whole-path match for them).
    pub(super) fn is_match(&self, text: &str) -> bool {
        let chars: Vec<char> = text.chars().collect();
        // Unanchored search: a new thread may start at every position.
        let mut current = Vec::new();
        let mut seen = vec![usize::MAX; self.states.len()];
        for pos in 0..=chars.len() {
            self.add(&mut current, &mut seen, self.start, pos, &chars);
            if current
                .iter()
                .any(|&s| matches!(self.states[s], State::Match))
            {
                return true;
            }
            let Some(&c) = chars.get(pos) else { break };
            let mut next = Vec::new();
            for &s in &current {
                if let State::Consume(ranges, to) = &self.states[s] {
                    if contains(ranges, c) {
                        self.add(&mut next, &mut seen, *to, pos + 1, &chars);
                    }
                }
            }
            current = next;
        }
        false
    }

    /// Adds `state` and everything reachable from it without consuming input at `pos`.
    fn add(
        &self,
        list: &mut Vec<usize>,
        seen: &mut [usize],
        state: usize,
        pos: usize,
        chars: &[char],
    ) {
        // An explicit stack: a long run of assertions must not exhaust the call stack.
        let mut pending = vec![state];
        while let Some(state) = pending.pop() {
            if seen[state] == pos {
                continue;
            }
            seen[state] = pos;
            match &self.states[state] {
                State::Split(a, b) => {
                    pending.push(*b);
                    pending.push(*a);
                }
                State::Assert(kind, next) => {
                    if holds(*kind, pos, chars) {
                        pending.push(*next);
                    }
                }
                State::Consume(..) | State::Match => list.push(state),
            }
        }
    }
}

fn holds(kind: Assertion, pos: usize, chars: &[char]) -> bool {
    let word = |i: Option<usize>| {
        i.and_then(|i| chars.get(i))
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
    };
    let boundary = word(pos.checked_sub(1)) != word(Some(pos));
    match kind {
        Assertion::BeginText => pos == 0,
        Assertion::EndText => pos == chars.len(),
        Assertion::WordBoundary => boundary,
        Assertion::NotWordBoundary => !boundary,
    }
}

fn contains(ranges: &Ranges, c: char) -> bool {
    let c = c as u32;
    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

/// Builds states for `nodes` followed by state `next`; returns the entry state.
fn compile(nodes: &[Node], next: usize, states: &mut Vec<State>) -> usize {
    let mut entry = next;
    for node in nodes.iter().rev() {
        entry = match node {
            Node::One(ranges) => push(states, State::Consume(ranges.clone(), entry)),
            Node::Assert(kind) => push(states, State::Assert(*kind, entry)),
            Node::Star(ranges) => {
                let split = push(states, State::Match);
                let body = push(states, State::Consume(ranges.clone(), split));
                states[split] = State::Split(body, entry);
                split
            }
            Node::Group { nodes, optional } => {
                let inner = compile(nodes, entry, states);
                if *optional {
                    push(states, State::Split(inner, entry))
                } else {
                    inner
                }
            }
        };
    }
    entry
}

fn push(states: &mut Vec<State>, state: State) -> usize {
    states.push(state);
    states.len() - 1
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn rest(&self) -> String {
        self.chars[self.pos..].iter().collect()
    }

    /// A sequence up to the end, or up to `)` when `in_group`.
    fn sequence(&mut self, in_group: bool) -> Result<Vec<Node>, String> {
        let mut nodes: Vec<Node> = Vec::new();
        loop {
            let Some(c) = self.next() else {
                if in_group {
                    return Err("missing closing ): ".to_string() + &self.rest());
                }
                return Ok(nodes);
            };
            match c {
                ')' if in_group => return Ok(nodes),
                ')' => return Err("unexpected ): `)`".into()),
                '(' => {
                    let inner = self.sequence(true)?;
                    nodes.push(Node::Group {
                        nodes: inner,
                        optional: false,
                    });
                }
                '*' | '+' | '?' => repeat(&mut nodes, c)?,
                '|' => return Err("alternation is not used by ignore patterns".into()),
                '[' => nodes.push(Node::One(self.class()?)),
                '.' => nodes.push(Node::One(vec![(0, 9), (11, MAX_CHAR)])),
                '^' => nodes.push(Node::Assert(Assertion::BeginText)),
                '$' => nodes.push(Node::Assert(Assertion::EndText)),
                '\\' => self.escape_outside_class(&mut nodes)?,
                c => nodes.push(Node::One(single(c))),
            }
        }
    }

    /// After a `\` outside a class.
    fn escape_outside_class(&mut self, nodes: &mut Vec<Node>) -> Result<(), String> {
        let assertion = match self.peek() {
            Some('A') => Some(Assertion::BeginText),
            Some('z') => Some(Assertion::EndText),
            Some('b') => Some(Assertion::WordBoundary),
            Some('B') => Some(Assertion::NotWordBoundary),
            _ => None,
        };
        if let Some(assertion) = assertion {
            self.pos += 1;
            nodes.push(Node::Assert(assertion));
            return Ok(());
        }
        match self.peek() {
            Some('C') => return Err("invalid escape sequence: `\\C`".into()),
            Some('Q') => {
                // `\Q…\E`: everything up to `\E` (or the end) is literal.
                self.pos += 1;
                while let Some(c) = self.next() {
                    if c == '\\' && self.peek() == Some('E') {
                        self.pos += 1;
                        break;
                    }
                    nodes.push(Node::One(single(c)));
                }
                return Ok(());
            }
            _ => {}
        }
        if let Some(ranges) = self.class_escape()? {
            nodes.push(Node::One(ranges));
            return Ok(());
        }
        let c = self.escape()?;
        nodes.push(Node::One(single(c)));
        Ok(())
    }

    /// `\d \D \s \S \w \W` (ASCII, as in Go) or `\p…` (rejected); the `\` is consumed.
    fn class_escape(&mut self) -> Result<Option<Ranges>, String> {
        let ranges = match self.peek() {
            Some('d') => digits(),
            Some('D') => negate(&digits()),
            Some('s') => perl_space(),
            Some('S') => negate(&perl_space()),
            Some('w') => word(),
            Some('W') => negate(&word()),
            Some(c @ ('p' | 'P')) => {
                return Err(format!(
                    "Unicode classes (\\{c}…) are not supported in ignore patterns"
                ))
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(ranges))
    }

    /// Go's `parseEscape` for one character; the `\` is already consumed.
    fn escape(&mut self) -> Result<char, String> {
        let start = self.pos;
        let invalid = |p: &Parser| {
            let seq: String = p.chars[start - 1..p.pos.min(p.chars.len())]
                .iter()
                .collect();
            format!("invalid escape sequence: `{seq}`")
        };
        let Some(c) = self.next() else {
            return Err("trailing backslash at end of expression: ``".into());
        };
        let octal = |c: Option<char>| c.is_some_and(|c| ('0'..='7').contains(&c));
        match c {
            '1'..='7' if !octal(self.peek()) => Err(invalid(self)),
            '0'..='7' => {
                let mut value = c as u32 - '0' as u32;
                for _ in 1..3 {
                    if !octal(self.peek()) {
                        break;
                    }
                    value = value * 8 + (self.next().unwrap_or('0') as u32 - '0' as u32);
                }
                char::from_u32(value).ok_or_else(|| invalid(self))
            }
            'x' => self.hex_escape().ok_or_else(|| invalid(self)),
            'a' => Ok('\u{7}'),
            'f' => Ok('\u{c}'),
            'n' => Ok('\n'),
            'r' => Ok('\r'),
            't' => Ok('\t'),
            'v' => Ok('\u{b}'),
            c if c.is_ascii() && !c.is_ascii_alphanumeric() => Ok(c),
            _ => Err(invalid(self)),
        }
    }

    /// `\xHH` or `\x{H…}` after the `x`.
    fn hex_escape(&mut self) -> Option<char> {
        let first = self.next()?;
        if first == '{' {
            let mut value: u32 = 0;
            let mut digits = 0;
            loop {
                let c = self.next()?;
                if c == '}' {
                    break;
                }
                value = value.checked_mul(16)? + c.to_digit(16)?;
                if value > MAX_CHAR {
                    return None;
                }
                digits += 1;
            }
            return if digits == 0 {
                None
            } else {
                char::from_u32(value)
            };
        }
        let hi = first.to_digit(16);
        let lo = self.next()?.to_digit(16);
        char::from_u32(hi? * 16 + lo?)
    }

    /// A bracket class after its `[`, with Go's rules: `]` first is literal, `-` is literal
    /// where it cannot form a range, `[:alpha:]` names an ASCII class, `\d` and friends work.
    fn class(&mut self) -> Result<Ranges, String> {
        let start = self.pos - 1;
        let missing = |p: &Parser| {
            let text: String = p.chars[start..].iter().collect();
            format!("missing closing ]: `{text}`")
        };
        let negated = self.peek() == Some('^');
        if negated {
            self.pos += 1;
        }
        let mut ranges: Ranges = Vec::new();
        let mut first = true;
        loop {
            match self.peek() {
                None => return Err(missing(self)),
                Some(']') if !first => {
                    self.pos += 1;
                    break;
                }
                _ => {}
            }
            first = false;
            if self.peek() == Some('[') && self.peek_at(1) == Some(':') {
                if let Some(named) = self.posix_class()? {
                    ranges.extend(named);
                    continue;
                }
            }
            if self.peek() == Some('\\') {
                self.pos += 1;
                if let Some(escaped) = self.class_escape()? {
                    ranges.extend(escaped);
                    continue;
                }
                self.pos -= 1;
            }
            let range_start = self.pos;
            let lo = self.class_char().ok_or_else(|| missing(self))??;
            let mut hi = lo;
            if self.peek() == Some('-') && self.peek_at(1).is_some_and(|c| c != ']') {
                self.pos += 1;
                hi = self.class_char().ok_or_else(|| missing(self))??;
                if hi < lo {
                    let text: String = self.chars[range_start..self.pos].iter().collect();
                    return Err(format!("invalid character class range: `{text}`"));
                }
            }
            ranges.push((lo as u32, hi as u32));
        }
        let ranges = normalize(ranges);
        Ok(if negated { negate(&ranges) } else { ranges })
    }

    /// One class character (escaped or not); `None` at the end of input.
    fn class_char(&mut self) -> Option<Result<char, String>> {
        let c = self.next()?;
        if c != '\\' {
            return Some(Ok(c));
        }
        Some(self.escape())
    }

    /// `[:name:]` / `[:^name:]` at the cursor; `None` (nothing consumed) when there is no
    /// closing `:]` anywhere after it, as in Go.
    fn posix_class(&mut self) -> Result<Option<Ranges>, String> {
        let rest: String = self.rest();
        let Some(end) = rest[2..].find(":]").map(|i| i + 2) else {
            return Ok(None);
        };
        let name = &rest[..end + 2];
        let (negated, bare) = match name[2..end].strip_prefix('^') {
            Some(bare) => (true, bare),
            None => (false, &name[2..end]),
        };
        let ranges: Ranges = match bare {
            "alnum" => vec![(0x30, 0x39), (0x41, 0x5a), (0x61, 0x7a)],
            "alpha" => vec![(0x41, 0x5a), (0x61, 0x7a)],
            "ascii" => vec![(0, 0x7f)],
            "blank" => vec![(0x09, 0x09), (0x20, 0x20)],
            "cntrl" => vec![(0, 0x1f), (0x7f, 0x7f)],
            "digit" => digits(),
            "graph" => vec![(0x21, 0x7e)],
            "lower" => vec![(0x61, 0x7a)],
            "print" => vec![(0x20, 0x7e)],
            "punct" => vec![(0x21, 0x2f), (0x3a, 0x40), (0x5b, 0x60), (0x7b, 0x7e)],
            "space" => vec![(0x09, 0x0d), (0x20, 0x20)],
            "upper" => vec![(0x41, 0x5a)],
            "word" => word(),
            "xdigit" => vec![(0x30, 0x39), (0x41, 0x46), (0x61, 0x66)],
            _ => return Err(format!("invalid character class range: `{name}`")),
        };
        self.pos += name.chars().count();
        Ok(Some(if negated { negate(&ranges) } else { ranges }))
    }
}

/// Applies a quantifier to the last node, with Go's errors for a missing or repeated operand.
fn repeat(nodes: &mut [Node], op: char) -> Result<(), String> {
    let Some(last) = nodes.last_mut() else {
        return Err(format!("missing argument to repetition operator: `{op}`"));
    };
    let node = std::mem::replace(last, Node::Assert(Assertion::BeginText));
    *last = match (node, op) {
        (Node::Star(_), _) | (Node::Group { optional: true, .. }, _) => {
            return Err(format!("invalid nested repetition operator: `{op}`"))
        }
        (Node::Group { nodes, .. }, '?') => Node::Group {
            nodes,
            optional: true,
        },
        (Node::Group { .. }, _) => {
            return Err("repeating a group is not used by ignore patterns".into())
        }
        (node, '?') => Node::Group {
            nodes: vec![node],
            optional: true,
        },
        (Node::One(ranges), '*') => Node::Star(ranges),
        // `+`: one, then any number.
        (Node::One(ranges), _) => Node::Group {
            nodes: vec![Node::One(ranges.clone()), Node::Star(ranges)],
            optional: false,
        },
        // An assertion repeated holds or is skipped, like an optional one.
        (Node::Assert(kind), '*') => Node::Group {
            nodes: vec![Node::Assert(kind)],
            optional: true,
        },
        (Node::Assert(kind), _) => Node::Assert(kind),
    };
    Ok(())
}

fn single(c: char) -> Ranges {
    vec![(c as u32, c as u32)]
}

fn digits() -> Ranges {
    vec![(0x30, 0x39)]
}

fn word() -> Ranges {
    vec![(0x30, 0x39), (0x41, 0x5a), (0x5f, 0x5f), (0x61, 0x7a)]
}

/// Go's Perl `\s`: `[\t\n\f\r ]` (no vertical tab).
fn perl_space() -> Ranges {
    vec![(0x09, 0x0a), (0x0c, 0x0d), (0x20, 0x20)]
}

fn normalize(mut ranges: Ranges) -> Ranges {
    ranges.sort_unstable();
    let mut out: Ranges = Vec::with_capacity(ranges.len());
    for (lo, hi) in ranges {
        match out.last_mut() {
            Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
            _ => out.push((lo, hi)),
        }
    }
    out
}

fn negate(ranges: &Ranges) -> Ranges {
    let mut out = Vec::new();
    let mut next = 0u32;
    for &(lo, hi) in &normalize(ranges.clone()) {
        if lo > next {
            out.push((next, lo - 1));
        }
        next = hi.saturating_add(1);
    }
    if next <= MAX_CHAR {
        out.push((next, MAX_CHAR));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::GoRegex;

    fn matches(expr: &str, text: &str) -> bool {
        GoRegex::new(expr).unwrap().is_match(text)
    }

    #[test]
    fn generated_shapes() {
        assert!(matches("^a[^/]*/b$", "abc/b"));
        assert!(!matches("^a[^/]*/b$", "a/c/b"));
        assert!(matches("^(.*/)?dir2/[^/]*$", "dir/dir2/file"));
        assert!(matches("^(.*/)?dir2/[^/]*$", "dir2/file"));
        assert!(!matches("^(.*/)?dir2/[^/]*$", "dir/dir2/file/x"));
        assert!(matches("^\\.[^/]*$", ".foo"));
        assert!(!matches("^\\.[^/]*$", "foo"));
        assert!(!matches("^a.b$", "a\nb"));
    }

    #[test]
    fn classes_follow_go() {
        assert!(matches("^a[b-d]e$", "ace"));
        assert!(matches("^a[^b-d]e$", "aze"));
        assert!(matches("^[]a]$", "]"));
        assert!(matches("^[x\\-]$", "-"));
        assert!(matches("^[a-ζ]$", "α"));
        assert!(matches("^[[:digit:]x]+$", "1x2"));
        assert!(matches("^[\\d]$", "7"));
        assert!(!matches("^\\d$", "٣"));
        // `[*]` becomes `[[^/]*]`: a class of `[`, `^`, `/`, repeated, then a literal `]`.
        assert!(matches("^[[^/]*]$", "[^/]"));
        assert!(matches("^[[^/]*]$", "]"));
        assert!(!matches("^[[^/]*]$", "*"));
    }

    #[test]
    fn escapes_and_assertions() {
        assert!(matches("^\\x41\\x{42}\\103$", "ABC"));
        assert!(matches("^a\\Q.*\\Eb$", "a.*b"));
        assert!(matches("^x\\b$", "x"));
        assert!(matches("^a\\B.$", "ab"));
        assert!(!matches("^a\\b.$", "ab"));
        assert!(matches("^a\\b.$", "a "));
        assert!(!matches("^a^b$", "a^b"));
        assert!(matches("^^a$", "a"));
    }

    #[test]
    fn errors_follow_go() {
        for (expr, message) in [
            ("^[Local-Only]/$", "invalid character class range: `l-O`"),
            ("^[a$", "missing closing ]: `[a$`"),
            ("^\\q$", "invalid escape sequence: `\\q`"),
            ("^\\1$", "invalid escape sequence: `\\1`"),
            ("^[[:foo:]]$", "invalid character class range: `[:foo:]`"),
            ("*", "missing argument to repetition operator: `*`"),
        ] {
            assert_eq!(GoRegex::new(expr).unwrap_err(), message, "{expr}");
        }
        assert!(GoRegex::new("^\\pL$").is_err());
    }
}
