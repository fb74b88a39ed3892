//! BuildKit's parser corpus (`buildkit-parser/` in the shared conformance folder), run
//! through the public API as BuildKit's `parser_test.go` runs it: every `testfiles` case
//! must dump byte for byte as its `result`, every `testfiles-negative` case must fail
//! with BuildKit's message, `testfile-line` must give BuildKit's line numbers, plus the
//! over-long-line and empty-continuation-line cases of the same test file.
//!
//! The corpus is read at test time from `$SKIFF_CONFORMANCE_DIR`, or else from
//! `shared/conformance` beside the repository; a missing corpus fails the tests.

use skiff_frontend::dump::dump;
use skiff_frontend::parse;
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    let base = match std::env::var_os("SKIFF_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance"
        )),
    };
    let dir = base.join("buildkit-parser");
    assert!(
        dir.is_dir(),
        "BuildKit parser corpus not found at {} — set SKIFF_CONFORMANCE_DIR to the folder \
         holding buildkit-parser/",
        dir.display()
    );
    dir
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The case folders of `dir`, sorted by name.
fn cases(dir: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

fn name(case: &Path) -> String {
    case.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A line-by-line diff of expected and actual dumps (only the lines that differ).
fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<_>, Vec<_>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i), a.get(i));
        if x != y {
            out.push_str(&format!(
                "    line {}:\n      expected: {}\n      actual:   {}\n",
                i + 1,
                x.unwrap_or(&"<none>"),
                y.unwrap_or(&"<none>")
            ));
        }
    }
    if out.is_empty() {
        out.push_str("    (differences in line endings or the final newline)\n");
    }
    out
}

#[test]
fn every_testfile_dumps_exactly_as_buildkit() {
    let cases = cases(&corpus_dir().join("testfiles"));
    assert_eq!(cases.len(), 33, "expected the 33 BuildKit testfiles");
    let mut failures = Vec::new();
    for case in &cases {
        let source = read(&case.join("Dockerfile"));
        let expected = read(&case.join("result"));
        match parse(&source) {
            Ok(dockerfile) => {
                let actual = dump(&dockerfile);
                if actual != expected {
                    failures.push(format!("{}:\n{}", name(case), diff(&expected, &actual)));
                }
            }
            Err(e) => failures.push(format!("{}: parse error: {e}", name(case))),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} testfiles differ from BuildKit:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_negative_testfile_fails_with_buildkits_message() {
    let expected_messages = [
        ("empty_dockerfile", "file with no instructions"),
        ("env_no_value", "ENV must have two arguments"),
        ("only_comments", "file with no instructions"),
        (
            "shykes-nested-json",
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
    ];
    let cases = cases(&corpus_dir().join("testfiles-negative"));
    let names: Vec<String> = cases.iter().map(|c| name(c)).collect();
    let expected_names: Vec<&str> = expected_messages.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, expected_names, "the negative cases changed");
    let mut failures = Vec::new();
    for (case, (case_name, message)) in cases.iter().zip(expected_messages) {
        match parse(&read(&case.join("Dockerfile"))) {
            Ok(_) => failures.push(format!(
                "{case_name}: parsed, but must fail with {message:?}"
            )),
            Err(e) if e.message != message => failures.push(format!(
                "{case_name}: got {:?}, want {message:?}",
                e.message
            )),
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "negative cases:\n{}",
        failures.join("\n")
    );
}

#[test]
fn env_without_value_points_at_its_line() {
    let case = corpus_dir().join("testfiles-negative/env_no_value/Dockerfile");
    let err = parse(&read(&case)).unwrap_err();
    let span = err.span.expect("the error has a span");
    assert_eq!((span.line, span.column), (3, 5));
}

#[test]
fn testfile_line_has_buildkits_line_numbers() {
    let dockerfile = parse(&read(&corpus_dir().join("testfile-line/Dockerfile"))).unwrap();
    let lines: Vec<(usize, usize)> = dockerfile
        .instructions
        .iter()
        .map(|i| (i.start_line, i.end_line))
        .collect();
    assert_eq!(lines, [(5, 5), (11, 12), (17, 31)]);
    assert_eq!(
        dockerfile.instructions.first().map(|i| i.start_line),
        Some(5)
    );
    assert_eq!(dockerfile.instructions.last().map(|i| i.end_line), Some(31));
}

/// BuildKit's `TestParseReturnsScannerErrors`.
#[test]
fn a_line_of_65536_bytes_is_rejected() {
    let label = "a".repeat(65536);
    let source = format!("\n\t\tFROM image\n\t\tLABEL test={label}\n");
    let err = parse(&source).unwrap_err();
    assert_eq!(
        err.message,
        "dockerfile line greater than max allowed size of 65535"
    );
    assert_eq!(err.span.map(|s| s.line), Some(3));

    // One byte less fits (the limit counts the line without its newline).
    let fits = format!(
        "FROM image\nLABEL t={}\n",
        "a".repeat(65535 - "LABEL t=".len())
    );
    assert!(parse(&fits).is_ok());
}

/// BuildKit's `TestParseWarnsOnEmptyContinutationLine`.
#[test]
fn empty_continuation_lines_warn() {
    let source = "
FROM alpine:3.6

RUN something \\

    following \\

    more

RUN another \\

    thing
RUN non-indented \\
# this is a comment
   after-comment

RUN indented \\
    # this is an indented comment
    comment
\t";
    let dockerfile = parse(source).unwrap();
    let messages: Vec<&str> = dockerfile
        .warnings
        .iter()
        .map(|w| w.message.as_str())
        .collect();
    assert_eq!(
        messages,
        [
            "Empty continuation line found in: RUN something     following     more",
            "Empty continuation line found in: RUN another     thing",
        ]
    );
    let first = dockerfile.warnings[0].span;
    assert_eq!((first.line, first.column), (4, 1));
}
