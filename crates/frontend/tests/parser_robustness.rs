//! The parser never panics and keeps its span invariants on arbitrary input: many
//! pseudo-random Dockerfiles built from the characters and words that steer BuildKit's
//! parser (escapes, quotes, heredocs, JSON, directives, CRLF, non-ASCII spaces).

use skiff_frontend::ast::{Dockerfile, Instruction, Span};
use skiff_frontend::dump::dump;
use skiff_frontend::parse;

const PIECES: &[&str] = &[
    "\\",
    "`",
    "\"",
    "'",
    "$",
    "${",
    "}",
    "<<",
    "<<-",
    "<",
    "-",
    "--",
    "--x=",
    "#",
    "=",
    " ",
    "\t",
    "\n",
    "\r\n",
    "[",
    "]",
    ",",
    "RUN ",
    "COPY ",
    "ONBUILD ",
    "ENV ",
    "LABEL ",
    "HEALTHCHECK ",
    "ARG ",
    "FROM ",
    "CMD ",
    "a",
    "3",
    "é",
    "\u{a0}",
    "\u{85}",
    "\u{800}",
    ":",
    "/",
    "EOF",
    "# escape=`\n",
    "# syntax=x\n",
    "1e400",
    "\\u00",
    "\u{feff}",
    "à",
    "\x0b",
];

/// A small deterministic generator (64-bit LCG), so failures reproduce.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) as usize
    }
}

fn check_span(df: &Dockerfile, span: Span, what: &str) {
    assert!(
        span.start <= span.end && span.end <= df.source.len(),
        "{what}: {span:?}"
    );
    assert!(
        df.source.is_char_boundary(span.start) && df.source.is_char_boundary(span.end),
        "{what}: {span:?}"
    );
    let line_start = df.source[..span.start].rfind('\n').map_or(0, |i| i + 1);
    assert_eq!(
        span.line,
        df.source[..span.start].matches('\n').count() + 1,
        "{what}"
    );
    assert_eq!(
        span.column,
        df.source[line_start..span.start].chars().count() + 1,
        "{what}"
    );
}

fn check_instruction(df: &Dockerfile, instruction: &Instruction) {
    check_span(df, instruction.span, "instruction");
    check_span(df, instruction.keyword_span, "keyword");
    assert!(instruction.start_line <= instruction.end_line);
    for word in instruction.flags.iter().chain(&instruction.args) {
        check_span(df, word.span, "word");
    }
    for heredoc in &instruction.heredocs {
        check_span(df, heredoc.span, "heredoc");
    }
    if let Some(inner) = &instruction.onbuild {
        check_instruction(df, inner);
    }
}

#[test]
fn random_input_never_panics_and_spans_stay_valid() {
    let mut rng = Lcg(0x5eed);
    for _ in 0..20_000 {
        let len = rng.next() % 40;
        let input: String = (0..len)
            .map(|_| PIECES[rng.next() % PIECES.len()])
            .collect();
        let Ok(df) = parse(&input) else {
            continue;
        };
        for instruction in &df.instructions {
            check_instruction(&df, instruction);
        }
        let dumped = dump(&df);
        assert_eq!(dumped.lines().count(), df.instructions.len(), "{input:?}");
        assert!(dumped.ends_with(")\n"), "{input:?}");
    }
}
