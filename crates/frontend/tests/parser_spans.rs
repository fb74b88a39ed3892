//! Source spans on every piece of the syntax tree: keywords, flags, arguments (shell, JSON,
//! ENV triples, ONBUILD), directives and whole instructions, including continuation lines,
//! CRLF line endings, a byte-order mark and multi-byte characters.

use skiff_frontend::ast::{Span, Word};
use skiff_frontend::parse;

/// `(text under the span, line, column)`.
fn at(source: &str, span: Span) -> (String, usize, usize) {
    (
        source[span.start..span.end].to_string(),
        span.line,
        span.column,
    )
}

fn words(source: &str, words: &[Word]) -> Vec<(String, String, usize, usize)> {
    words
        .iter()
        .map(|w| {
            let (text, line, column) = at(source, w.span);
            (w.value.clone(), text, line, column)
        })
        .collect()
}

fn w(value: &str, text: &str, line: usize, column: usize) -> (String, String, usize, usize) {
    (value.into(), text.into(), line, column)
}

#[test]
fn single_line_keyword_flags_and_args() {
    let src = "FROM alpine AS build\n  COPY --from=build --chown=\"a b\" src /dst\n";
    let df = parse(src).unwrap();
    let from = &df.instructions[0];
    assert_eq!(at(src, from.keyword_span), ("FROM".into(), 1, 1));
    assert_eq!(
        words(src, &from.args),
        [
            w("alpine", "alpine", 1, 6),
            w("AS", "AS", 1, 13),
            w("build", "build", 1, 16)
        ]
    );
    let copy = &df.instructions[1];
    assert_eq!(at(src, copy.keyword_span), ("COPY".into(), 2, 3));
    assert_eq!(
        words(src, &copy.flags),
        [
            w("--from=build", "--from=build", 2, 8),
            w("--chown=a b", "--chown=\"a b\"", 2, 21)
        ]
    );
    assert_eq!(
        words(src, &copy.args),
        [w("src", "src", 2, 35), w("/dst", "/dst", 2, 39)]
    );
    assert_eq!(
        at(src, copy.span),
        ("COPY --from=build --chown=\"a b\" src /dst".into(), 2, 3)
    );
}

#[test]
fn json_elements_span_their_literals() {
    let src = "CMD [\"a b\", \"\\u00e9\"]\n";
    let df = parse(src).unwrap();
    let cmd = &df.instructions[0];
    assert!(cmd.json);
    assert_eq!(
        words(src, &cmd.args),
        [w("a b", "\"a b\"", 1, 6), w("é", "\"\\u00e9\"", 1, 13)]
    );
}

#[test]
fn env_triples_span_key_value_and_separator() {
    let src = "ENV a=1 b=\"x y\" c=\nENV legacy some value\n";
    let df = parse(src).unwrap();
    assert_eq!(
        words(src, &df.instructions[0].args),
        [
            w("a", "a", 1, 5),
            w("1", "1", 1, 7),
            w("=", "=", 1, 6),
            w("b", "b", 1, 9),
            w("\"x y\"", "\"x y\"", 1, 11),
            w("=", "=", 1, 10),
            w("c", "c", 1, 17),
            w("", "", 1, 19),
            w("=", "=", 1, 18),
        ]
    );
    assert_eq!(
        words(src, &df.instructions[1].args),
        [
            w("legacy", "legacy", 2, 5),
            w("some value", "some value", 2, 12),
            w("", "", 2, 22)
        ]
    );
}

#[test]
fn onbuild_nested_instruction_has_its_own_spans() {
    let src = "ONBUILD RUN --network=none echo hi\n";
    let df = parse(src).unwrap();
    let onbuild = &df.instructions[0];
    assert_eq!(onbuild.keyword, "onbuild");
    let run = onbuild.onbuild.as_deref().expect("nested instruction");
    assert_eq!(at(src, run.keyword_span), ("RUN".into(), 1, 9));
    assert_eq!(
        words(src, &run.flags),
        [w("--network=none", "--network=none", 1, 13)]
    );
    assert_eq!(words(src, &run.args), [w("echo hi", "echo hi", 1, 28)]);
    assert_eq!(run.original, "RUN --network=none echo hi");
}

#[test]
fn values_across_continuations_span_the_written_range() {
    let src = "RUN echo hello \\\n  # a comment\n\n    world\nENV A=x\\\ny\n";
    let df = parse(src).unwrap();
    let run = &df.instructions[0];
    assert_eq!(run.original, "RUN echo hello     world");
    assert_eq!((run.start_line, run.end_line), (1, 4));
    let (text, line, column) = at(src, run.args[0].span);
    assert_eq!((line, column), (1, 5));
    assert_eq!(text, "echo hello \\\n  # a comment\n\n    world");
    assert_eq!(at(src, run.span).0, text.replacen("echo", "RUN echo", 1));
    assert_eq!(df.warnings.len(), 1);

    let env = &df.instructions[1];
    assert_eq!(words(src, &env.args)[1], w("xy", "x\\\ny", 5, 7));
    assert_eq!((env.start_line, env.end_line), (5, 6));
}

#[test]
fn crlf_and_bom() {
    let src = "\u{feff}# escape=`\r\nFROM a\r\nRUN echo `\r\n  b\r\n";
    let df = parse(src).unwrap();
    assert_eq!(df.source, &src[3..]);
    assert_eq!(df.escape, '`');
    assert_eq!(df.directives.len(), 1);
    assert_eq!(
        at(&df.source, df.directives[0].span),
        ("# escape=`".into(), 1, 1)
    );
    let run = &df.instructions[1];
    assert_eq!(run.args[0].value, "echo   b");
    assert_eq!(at(&df.source, run.keyword_span), ("RUN".into(), 3, 1));
    assert_eq!(at(&df.source, run.span).0, "RUN echo `\r\n  b");
    assert_eq!((run.start_line, run.end_line), (3, 4));
}

#[test]
fn columns_count_characters() {
    let src = "LABEL ünïcödé=\"☃\" x=y\n";
    let df = parse(src).unwrap();
    let args = words(src, &df.instructions[0].args);
    assert_eq!(args[0], w("ünïcödé", "ünïcödé", 1, 7));
    assert_eq!(args[1], w("\"☃\"", "\"☃\"", 1, 15));
    assert_eq!(args[3], w("x", "x", 1, 19));
}

#[test]
fn directives_are_recorded() {
    let src = "# syntax=docker/dockerfile:1\n#check = skip=all \nFROM a\n";
    let df = parse(src).unwrap();
    let found: Vec<(&str, &str, usize)> = df
        .directives
        .iter()
        .map(|d| (d.name.as_str(), d.value.as_str(), d.span.line))
        .collect();
    assert_eq!(
        found,
        [
            ("syntax", "docker/dockerfile:1", 1),
            ("check", "skip=all", 2)
        ]
    );
}

#[test]
fn unknown_instructions_keep_one_empty_value_spanning_their_arguments() {
    let src = "FOO bar baz\n";
    let df = parse(src).unwrap();
    let foo = &df.instructions[0];
    assert_eq!(foo.keyword, "foo");
    assert_eq!(words(src, &foo.args), [w("", "bar baz", 1, 5)]);
}
