//! Shell expansion through the public API, with cases taken from BuildKit's `lex_test.go`
//! (`TestProcessWithMatches`, `TestShellParserMandatoryEnvVars`,
//! `TestProcessWithMatchesPlatform`) plus the lexer options and BuildKit's error texts.

use skiff_frontend::shell::{Env, Lexer};
use std::collections::BTreeSet;

fn env(vars: &[(&str, &str)]) -> Env {
    vars.iter().copied().collect()
}

fn names(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// (input, env, expected word or None for an error, matched, unmatched)
type MatchCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    Option<&'static str>,
    &'static [&'static str],
    &'static [&'static str],
);

const FOO_BAR: &[(&str, &str)] = &[("FOO", "xxx"), ("BAR", "")];

const MATCH_CASES: &[MatchCase] = &[
    ("x", &[("DUMMY", "dummy")], Some("x"), &[], &[]),
    (
        "x ${UNUSED}",
        &[("DUMMY", "dummy")],
        Some("x "),
        &[],
        &["UNUSED"],
    ),
    ("x ${FOO}", &[("FOO", "y")], Some("x y"), &["FOO"], &[]),
    (
        "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}",
        FOO_BAR,
        Some("xxx  ccc"),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    (
        "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
        FOO_BAR,
        Some("xxx bbb ccc"),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    ("${FOO:-}", FOO_BAR, Some("xxx"), &["FOO"], &[]),
    ("${FOO:-}", &[], Some(""), &[], &["FOO"]),
    (
        "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}",
        FOO_BAR,
        Some("aaa bbb "),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    (
        "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}",
        FOO_BAR,
        Some("aaa  "),
        &["FOO", "BAR"],
        &["BAZ"],
    ),
    ("${FOO?aaa}", FOO_BAR, Some("xxx"), &["FOO"], &[]),
    ("${BAR?bbb}", FOO_BAR, Some(""), &["BAR"], &[]),
    ("${BAZ?ccc}", FOO_BAR, None, &[], &[]),
    ("${FOO:?aaa}", FOO_BAR, Some("xxx"), &["FOO"], &[]),
    ("${BAR:?bbb}", FOO_BAR, None, &[], &[]),
    ("${BAZ:?ccc}", FOO_BAR, None, &[], &[]),
    ("${BAZ:?}", FOO_BAR, None, &[], &[]),
    ("${FOO=aaa}", FOO_BAR, None, &[], &[]),
    ("${FOO=:aaa}", FOO_BAR, None, &[], &[]),
    ("${FOO=}", &[], None, &[], &[]),
    (
        r"${FOO#()[]{\}^$.\*\?|\\}",
        &[("FOO", r"()[]{}^$.*?|\x")],
        Some("x"),
        &["FOO"],
        &[],
    ),
    (
        r"${FOO%%\**}",
        &[("FOO", "xx**")],
        Some("xx"),
        &["FOO"],
        &[],
    ),
    ("${FOO#*x*y}", &[("FOO", "xxyy")], Some("y"), &["FOO"], &[]),
    ("${FOO#*}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    (
        "${FOO#$BAR}",
        &[("FOO", "xxyy"), ("BAR", "x")],
        Some("xyy"),
        &["FOO", "BAR"],
        &[],
    ),
    (
        "${FOO#$BAR}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Some("xxyy"),
        &["FOO", "BAR"],
        &[],
    ),
    ("${FOO#}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO##*x}", &[("FOO", "xxyy")], Some("yy"), &["FOO"], &[]),
    ("${FOO##}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    (r"${FOO#?\?}", &[("FOO", "???y")], Some("?y"), &["FOO"], &[]),
    (
        "${ABC:-.}${FOO%x}${ABC:-.}",
        &[("FOO", "xxyy")],
        Some(".xxyy."),
        &["FOO"],
        &["ABC"],
    ),
    (
        r"${FOO%%\**\*}",
        &[("FOO", "a***yy*")],
        Some("a"),
        &["FOO"],
        &[],
    ),
    ("${FOO%}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    (
        "${FOO%%$BAR}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Some("xxyy"),
        &["FOO", "BAR"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
        &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", r"\*/")],
        Some("/foo.*/*.txt - /foo..*.txt"),
        &["FOO", "NEEDLE"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
        &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
        Some("/tmp/bar.txt - /bar.txt"),
        &["FOO", "NEEDLE"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
        &[
            ("FOO", "/a/foo/b/c.txt"),
            ("NEEDLE", "/?/"),
            ("REPLACEMENT", "/"),
        ],
        Some("/foo/b/c.txt - /foo/c.txt"),
        &["FOO", "NEEDLE", "REPLACEMENT"],
        &[],
    ),
    (
        "${FOO/$NEEDLE/$REPLACEMENT}",
        &[
            ("FOO", "http://google.de"),
            ("NEEDLE", "http://"),
            ("REPLACEMENT", "https://"),
        ],
        Some("https://google.de"),
        &["FOO", "NEEDLE", "REPLACEMENT"],
        &[],
    ),
    (
        r"${FOO//\//\/}",
        &[("FOO", "/tmp/foo.txt")],
        Some(r"\/tmp\/foo.txt"),
        &["FOO"],
        &[],
    ),
    (
        "${FOO/$BAR/ww}",
        &[("FOO", "xxyy"), ("BAR", "")],
        Some("wwxxyy"),
        &["FOO", "BAR"],
        &[],
    ),
    ("${FOO//ww}", &[("FOO", "xxyy")], None, &[], &[]),
    ("${FOO//}", &[("FOO", "xxyy")], None, &[], &[]),
    ("${FOO///}", &[("FOO", "xxyy")], Some("xxyy"), &["FOO"], &[]),
    ("${FOO///}", &[], Some(""), &[], &["FOO"]),
];

#[test]
fn buildkit_process_with_matches_cases() {
    let lexer = Lexer::new('\\');
    let mut failures = Vec::new();
    for &(input, vars, expected, matched, unmatched) in MATCH_CASES {
        let got = lexer.expand(input, &env(vars));
        match (expected, got) {
            (None, Err(_)) => {}
            (None, Ok(e)) => failures.push(format!("{input:?}: expected an error, got {e:?}")),
            (Some(_), Err(e)) => failures.push(format!("{input:?}: {e}")),
            (Some(word), Ok(e)) => {
                if e.word != word || e.matched != names(matched) || e.unmatched != names(unmatched)
                {
                    failures.push(format!(
                        "{input:?}: expected {word:?} matched {matched:?} unmatched {unmatched:?}, got {e:?}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn mandatory_variables_report_the_message() {
    let lexer = Lexer::new('\\');
    let set = env(&[("VAR", "plain"), ("ARG", "x")]);
    let empty = env(&[("VAR", ""), ("ARG", "x")]);
    let unset = env(&[("ARG", "x")]);
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";

    assert_eq!(lexer.process_word(no_empty, &set).unwrap(), "plain");
    let err = lexer.process_word(no_empty, &empty).unwrap_err();
    assert_eq!(
        err.message,
        r#"failed to process "${VAR:?message here$ARG}": VAR: message herex"#
    );
    assert!(lexer
        .process_word(no_empty, &unset)
        .unwrap_err()
        .message
        .ends_with("VAR: message herex"));

    assert_eq!(lexer.process_word(no_unset, &set).unwrap(), "plain");
    assert_eq!(lexer.process_word(no_unset, &empty).unwrap(), "");
    assert!(lexer
        .process_word(no_unset, &unset)
        .unwrap_err()
        .message
        .ends_with("VAR: message herex"));

    let err = lexer.process_word("${X:?}", &Env::new()).unwrap_err();
    assert!(
        err.message.ends_with("X: is not allowed to be unset"),
        "{err}"
    );
    let err = lexer
        .process_word("${X:?}", &env(&[("X", "")]))
        .unwrap_err();
    assert!(
        err.message.ends_with("X: is not allowed to be empty"),
        "{err}"
    );
}

#[test]
fn release_file_name_with_optional_variant() {
    let lexer = Lexer::new('\\');
    let release =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let with = |more: &[(&'static str, &'static str)]| -> Env {
        base.iter().chain(more).copied().collect()
    };
    let arm = with(&[("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")]);
    assert_eq!(
        lexer.process_word(release, &arm).unwrap(),
        "something-v1.2.3.linux-arm-v7.tar.gz"
    );
    let empty = with(&[("TARGETARCH", "arm64"), ("TARGETVARIANT", "")]);
    assert_eq!(
        lexer.process_word(release, &empty).unwrap(),
        "something-v1.2.3.linux-arm64.tar.gz"
    );
    let unset = with(&[("TARGETARCH", "arm64")]);
    assert_eq!(
        lexer.process_word(release, &unset).unwrap(),
        "something-v1.2.3.linux-arm64.tar.gz"
    );
}

#[test]
fn error_messages_are_buildkits() {
    let lexer = Lexer::new('\\');
    let none = Env::new();
    let cases = [
        (
            "${a",
            r#"failed to process "${a": unsupported modifier (�) in substitution"#,
        ),
        ("${", r#"failed to process "${": syntax error: missing '}'"#),
        (
            "${}",
            r#"failed to process "${}": syntax error: bad substitution"#,
        ),
        (
            "${a:-b",
            r#"failed to process "${a:-b": syntax error: missing '}'"#,
        ),
        (
            "${a:=b}",
            r#"failed to process "${a:=b}": unsupported modifier (:=) in substitution"#,
        ),
        (
            "${a:#b}",
            r#"failed to process "${a:#b}": unsupported modifier (:#) in substitution"#,
        ),
        (
            "${a/b",
            r#"failed to process "${a/b": syntax error: missing '/' in ${}"#,
        ),
        (
            "${a/b/c",
            r#"failed to process "${a/b/c": syntax error: missing '}'"#,
        ),
        (
            "${a:-${}}",
            r#"failed to process "${a:-${}}": syntax error: bad substitution"#,
        ),
        (
            r"${a#\x}",
            r#"failed to process "${a#\\x}": invalid pattern (\x) in substitution: invalid escape '\x'"#,
        ),
        (
            "'abc",
            r#"failed to process "'abc": unexpected end of statement while looking for matching single-quote"#,
        ),
        (
            "\"a\tb",
            r#"failed to process "\"a\tb": unexpected end of statement while looking for matching double-quote"#,
        ),
    ];
    for (input, message) in cases {
        assert_eq!(
            lexer.process_word(input, &none).unwrap_err().message,
            message
        );
    }
}

#[test]
fn raw_quotes_and_escapes_keep_the_source_text() {
    let mut lexer = Lexer::new('\\');
    lexer.raw_quotes = true;
    let vars = env(&[("A", "a b")]);
    assert_eq!(
        lexer.process_word(r#"'x $A' "y $A""#, &vars).unwrap(),
        r#"'x $A' "y a b""#
    );
    assert_eq!(
        lexer.process_words(r#"'x $A' "y $A""#, &vars).unwrap(),
        vec!["'x $A'", "\"y a b\""]
    );
    lexer.raw_escapes = true;
    assert_eq!(
        lexer.process_word(r#"a\ b "\$A""#, &vars).unwrap(),
        r#"a\ b "\$A""#
    );
    assert_eq!(
        lexer.process_words(r"a\ b c", &vars).unwrap(),
        vec![r"a\ b", "c"]
    );
}

#[test]
fn skip_unset_env_leaves_unset_references_as_written() {
    let mut lexer = Lexer::new('\\');
    lexer.skip_unset_env = true;
    let vars = env(&[("SET", "v")]);
    let cases = [
        ("$SET $UNSET", "v $UNSET"),
        ("${UNSET}", "${UNSET}"),
        ("${UNSET:-$SET}", "${UNSET:-v}"),
        ("${UNSET+x}", "${UNSET+x}"),
        ("${UNSET//a/b}", "${UNSET/a/b}"),
        ("${UNSET:=x}", "${UNSET:=x}"),
        ("${SET:-x}", "v"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            lexer.process_word(input, &vars).unwrap(),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn skip_process_quotes_treats_quotes_as_text() {
    let mut lexer = Lexer::new('\\');
    lexer.skip_process_quotes = true;
    let vars = env(&[("A", "1")]);
    assert_eq!(
        lexer.process_word(r#"'$A' "$A"#, &vars).unwrap(),
        r#"'1' "1"#
    );
}

#[test]
fn backtick_is_the_escape_when_chosen() {
    let lexer = Lexer::new('`');
    let vars = env(&[("A", "1")]);
    assert_eq!(
        lexer.process_word(r"C:\dir\`$A", &vars).unwrap(),
        r"C:\dir\$A"
    );
    assert_eq!(lexer.process_word(r#""a`"b""#, &vars).unwrap(), r#"a"b"#);
    assert_eq!(
        lexer.process_words("a` b c", &vars).unwrap(),
        vec!["a b", "c"]
    );
}

#[test]
fn words_split_values_but_not_quotes() {
    let lexer = Lexer::new('\\');
    let vars = env(&[("V", " x  y ")]);
    assert_eq!(
        lexer.process_words("a${V}b", &vars).unwrap(),
        vec!["a", "x", "y", "b"]
    );
    assert_eq!(
        lexer.process_words("a\"${V}\"b", &vars).unwrap(),
        vec!["a x  y b"]
    );
    assert_eq!(
        lexer.process_words("a \"\" b", &vars).unwrap(),
        vec!["a", "b"]
    );
    // Text before a `${V:-w}` stays in its word.
    assert_eq!(
        lexer.process_words("a${U:-b c}d", &vars).unwrap(),
        vec!["ab", "cd"]
    );
}

#[test]
fn suffix_and_replacement_patterns() {
    let lexer = Lexer::new('\\');
    let vars = env(&[("F", "archive.tar.gz"), ("P", "a/b/c"), ("R", "<$0>")]);
    let cases = [
        ("${F%.*}", "archive.tar"),
        ("${F%%.*}", "archive"),
        ("${F#*.}", "tar.gz"),
        ("${F##*.}", "gz"),
        ("${P/\\//-}", "a-b/c"),
        ("${P//\\//-}", "a-b-c"),
        // `$0` in the text is a (never set) shell parameter, but in a variable's value it is
        // Go's template for the whole match.
        ("${P//?/<$0>}", "<><><><><>"),
        ("${P//?/$R}", "<a></><b></><c>"),
        ("${P/#a/x}", "a/b/c"),
    ];
    for (input, expected) in cases {
        assert_eq!(
            lexer.process_word(input, &vars).unwrap(),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn absurd_nesting_is_an_error_not_a_stack_overflow() {
    let lexer = Lexer::new('\\');
    let nested = |n: usize| format!("{}x{}", "${a:-".repeat(n), "}".repeat(n));
    // Deep but sane nesting works, on a small stack like a worker thread's.
    let word = nested(100);
    let ok = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || Lexer::new('\\').process_word(&word, &Env::new()))
        .unwrap()
        .join()
        .unwrap();
    assert_eq!(ok.unwrap(), "x");
    let err = lexer
        .process_word(&nested(10_000), &Env::new())
        .unwrap_err();
    assert!(err.message.contains("nested"), "{err}");
    let quoted = format!("{}x{}", "\"${a:-".repeat(10_000), "}\"".repeat(10_000));
    assert!(lexer.process_word(&quoted, &Env::new()).is_err());
}
