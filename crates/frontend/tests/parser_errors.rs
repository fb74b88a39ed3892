//! Every parser error and warning through the public API, with BuildKit's exact message
//! and the span a caret would go under.

use skiff_frontend::parse;

/// `(message, line, column, spanned text)` of the error `source` fails with.
fn error(source: &str) -> (String, usize, usize, String) {
    let err = parse(source).expect_err("must fail");
    let span = err.span.expect("the error has a span");
    let text = source.strip_prefix('\u{feff}').unwrap_or(source)[span.start..span.end].to_string();
    (err.message, span.line, span.column, text)
}

#[test]
fn empty_files() {
    for source in ["", "\n\n", "# only\n# comments\n", "# syntax=x\n"] {
        let err = parse(source).unwrap_err();
        assert_eq!(err.message, "file with no instructions", "{source:?}");
        assert_eq!(err.span, None);
    }
}

#[test]
fn duplicate_directives() {
    assert_eq!(
        error("# escape=`\n# ESCAPE=\\\nFROM a\n"),
        (
            "only one escape parser directive can be used".into(),
            2,
            3,
            "ESCAPE".into()
        )
    );
    assert_eq!(
        error("# syntax=a\n#check=skip=all\n#  syntax = b\nFROM a\n"),
        (
            "only one syntax parser directive can be used".into(),
            3,
            4,
            "syntax".into()
        )
    );
}

#[test]
fn invalid_escape_token() {
    assert_eq!(
        error("# escape=x\nFROM a\n"),
        (
            "invalid escape token 'x' does not match ` or \\".into(),
            1,
            10,
            "x".into()
        )
    );
    assert_eq!(
        error("#escape= `` \nFROM a\n"),
        (
            "invalid escape token '``' does not match ` or \\".into(),
            1,
            10,
            "``".into()
        )
    );
}

#[test]
fn directives_after_the_top_are_comments() {
    for source in [
        "FROM a\n# escape=x\n",
        "# hello\n# escape=x\nFROM a\n",
        "\n# escape=x\nFROM a\n",
        "# unknown=1\n# escape=x\nFROM a\n",
        "# syntax=a\n\n# syntax=b\nFROM a\n",
    ] {
        let dockerfile = parse(source).unwrap_or_else(|e| panic!("{source:?}: {e}"));
        assert_eq!(dockerfile.escape, '\\', "{source:?}");
    }
}

#[test]
fn line_parser_errors() {
    assert_eq!(
        error("FROM a\nENV  PATH  \n"),
        ("ENV must have two arguments".into(), 2, 6, "PATH".into())
    );
    assert_eq!(
        error("FROM a\nLABEL x\n"),
        ("LABEL must have two arguments".into(), 2, 7, "x".into())
    );
    assert_eq!(
        error("FROM a\nENV a=1 \"b c\"\n"),
        (
            "Syntax error - can't find = in \"\\\"b c\\\"\". Must be of the form: name=value"
                .into(),
            2,
            9,
            "\"b c\"".into()
        )
    );
    assert_eq!(
        error("FROM a\nCMD [ \"echo\", [ \"nested json\" ] ]\n"),
        (
            "when using JSON array syntax, arrays must be comprised of strings only".into(),
            2,
            5,
            "[ \"echo\", [ \"nested json\" ] ]".into()
        )
    );
    assert_eq!(
        error("FROM a\nHEALTHCHECK CMD [true]\n").0,
        "when using JSON array syntax, arrays must be comprised of strings only"
    );
    assert_eq!(
        error("FROM a\nONBUILD ENV x\n").0,
        "ENV must have two arguments"
    );
}

#[test]
fn over_long_lines() {
    let long = "a".repeat(65536);
    let (message, line, column, _) = error(&format!("FROM a\nRUN {long}\n"));
    assert_eq!(
        (message.as_str(), line, column),
        (
            "dockerfile line greater than max allowed size of 65535",
            2,
            1
        )
    );
    // Before any instruction BuildKit reports the empty file instead.
    assert_eq!(
        parse(&format!("# {long}\nFROM a\n")).unwrap_err().message,
        "file with no instructions"
    );
    // The BOM counts towards the first line's length.
    let first = format!("\u{feff}FROM {}", "a".repeat(65535 - 3 - 5));
    assert!(parse(&first).is_ok());
    let first = format!("\u{feff}FROM {}", "a".repeat(65535 - 3 - 4));
    // (the scan stops at that first line, so there is no instruction at all)
    assert_eq!(
        parse(&first).unwrap_err().message,
        "file with no instructions"
    );
}

#[test]
fn empty_continuation_warning() {
    let dockerfile = parse("FROM a\nRUN a \\\n\n  b \\\n  # comment\n  c\n").unwrap();
    assert_eq!(dockerfile.warnings.len(), 1);
    assert_eq!(
        dockerfile.warnings[0].message,
        "Empty continuation line found in: RUN a   b   c"
    );
    assert_eq!(
        (
            dockerfile.warnings[0].span.line,
            dockerfile.warnings[0].span.column
        ),
        (2, 1)
    );
    // Comment lines inside a continuation are not empty lines.
    assert!(parse("FROM a\nRUN a \\\n# c\n b\n")
        .unwrap()
        .warnings
        .is_empty());
}

#[test]
fn a_lone_continuation_makes_an_empty_instruction_like_buildkit() {
    // BuildKit joins `\` with nothing and keeps an instruction with an empty keyword.
    let dockerfile = parse("FROM a\n  \\\n").unwrap();
    let empty = &dockerfile.instructions[1];
    assert_eq!((empty.keyword.as_str(), empty.args.len()), ("", 1));
    assert_eq!((empty.span.line, empty.span.column), (2, 3));
    assert_eq!(
        skiff_frontend::dump::dump(&dockerfile),
        "(from \"a\")\n(\"\")\n"
    );
}
