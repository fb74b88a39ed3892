//! Cases from moby/patternmatcher's `patternmatcher_test.go` and `ignorefile_test.go`, and
//! the walk rules of BuildKit's context sender, checked through the public API.

use super::{Error, Matcher};

fn matcher(patterns: &[&str]) -> Matcher {
    Matcher::from_patterns(patterns).unwrap_or_else(|e| panic!("{patterns:?}: {e}"))
}

fn excluded(patterns: &[&str], path: &str) -> bool {
    matcher(patterns).is_excluded(path, false)
}

/// `TestMatches`: (pattern, path, matches itself or through a parent).
const SINGLE_PATTERN: &[(&str, &str, bool)] = &[
    ("**", "file", true),
    ("**", "file/", true),
    ("**/", "file", true),
    ("**/", "file/", true),
    // ("**", "/") and ("**/", "/"): the context root itself is never excluded here.
    ("**", "dir/file", true),
    ("**/", "dir/file", true),
    ("**", "dir/file/", true),
    ("**/", "dir/file/", true),
    ("**/**", "dir/file", true),
    ("**/**", "dir/file/", true),
    ("dir/**", "dir/file", true),
    ("dir/**", "dir/file/", true),
    ("dir/**", "dir/dir2/file", true),
    ("dir/**", "dir/dir2/file/", true),
    ("**/dir", "dir", true),
    ("**/dir", "dir/file", true),
    ("**/dir2/*", "dir/dir2/file", true),
    ("**/dir2/*", "dir/dir2/file/", true),
    ("**/dir2/**", "dir/dir2/dir3/file", true),
    ("**/dir2/**", "dir/dir2/dir3/file/", true),
    ("**file", "file", true),
    ("**file", "dir/file", true),
    ("**/file", "dir/file", true),
    ("**file", "dir/dir/file", true),
    ("**/file", "dir/dir/file", true),
    ("**/file*", "dir/dir/file", true),
    ("**/file*", "dir/dir/file.txt", true),
    ("**/file*txt", "dir/dir/file.txt", true),
    ("**/file*.txt", "dir/dir/file.txt", true),
    ("**/file*.txt*", "dir/dir/file.txt", true),
    ("**/**/*.txt", "dir/dir/file.txt", true),
    ("**/**/*.txt2", "dir/dir/file.txt", false),
    ("**/*.txt", "file.txt", true),
    ("**/**/*.txt", "file.txt", true),
    ("a**/*.txt", "a/file.txt", true),
    ("a**/*.txt", "a/dir/file.txt", true),
    ("a**/*.txt", "a/dir/dir/file.txt", true),
    ("a/*.txt", "a/dir/file.txt", false),
    ("a/*.txt", "a/file.txt", true),
    ("a/*.txt**", "a/file.txt", true),
    ("a[b-d]e", "ae", false),
    ("a[b-d]e", "ace", true),
    ("a[b-d]e", "aae", false),
    ("a[^b-d]e", "aze", true),
    (".*", ".foo", true),
    (".*", "foo", false),
    ("abc.def", "abcdef", false),
    ("abc.def", "abc.def", true),
    ("abc.def", "abcZdef", false),
    ("abc?def", "abcZdef", true),
    ("abc?def", "abcdef", false),
    ("**/foo/bar", "foo/bar", true),
    ("**/foo/bar", "dir/foo/bar", true),
    ("**/foo/bar", "dir/dir2/foo/bar", true),
    ("abc/**", "abc", false),
    ("abc/**", "abc/def", true),
    ("abc/**", "abc/def/ghi", true),
    ("**/.foo", ".foo", true),
    ("**/.foo", "bar.foo", false),
    ("a(b)c/def", "a(b)c/def", true),
    ("a(b)c/def", "a(b)c/xyz", false),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", true),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        true,
    ),
    (
        "dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        true,
    ),
    ("a\\\\", "a\\", true),
    ("a\\*b", "a*b", true),
];

#[test]
fn patternmatcher_single_pattern_cases() {
    let failures: Vec<String> = SINGLE_PATTERN
        .iter()
        .filter(|(p, path, want)| excluded(&[p], path) != *want)
        .map(|(p, path, want)| format!("pattern {p:?} path {path:?}: expected {want}"))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn patternmatcher_multi_pattern_cases() {
    assert!(!excluded(
        &["**", "!util/docker/web"],
        "util/docker/web/foo"
    ));
    assert!(excluded(
        &["**", "!util/docker/web", "util/docker/web/foo"],
        "util/docker/web/foo"
    ));
    let wheel = "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl";
    assert!(!excluded(&["**", &format!("!{wheel}")], wheel));
    assert!(!excluded(&["**", "!dist/*.whl"], wheel));
}

#[test]
fn patternmatcher_small_tests() {
    assert!(excluded(&["*"], "fileutils.go"));
    assert!(excluded(&["*.go"], "fileutils.go"));
    assert!(excluded(&["!fileutils.go", "*.go"], "fileutils.go"));
    assert!(!excluded(&["docs", "!docs/README.md"], "docs/README.md"));
    assert!(!excluded(&["docs/", "!docs/README.md"], "docs/README.md"));
    assert!(!excluded(&["docs/*", "!docs/README.md"], "docs/README.md"));
    assert!(!excluded(&["*.go", "!fileutils.go"], "fileutils.go"));
    assert!(!excluded(&["*.go"], "."));
    assert!(!excluded(&[], "any/path/there"));
    assert!(!excluded(&["**"], ""), "the context root is never excluded");
    assert!(
        !excluded(&["**"], "/"),
        "the context root is never excluded"
    );
    // Blank patterns are dropped; leading and trailing spaces are trimmed.
    assert!(excluded(&["", "  docs  "], "docs"));
    assert!(!excluded(
        &["docs", "  !docs/README.md  "],
        "docs/README.md"
    ));
}

/// `matchTests` (borrowed by patternmatcher from Go's `filepath.Match` tests): `Some(bool)`
/// is the expected answer, `None` a pattern that must be refused.
const GLOB_CASES: &[(&str, &str, Option<bool>)] = &[
    ("abc", "abc", Some(true)),
    ("*", "abc", Some(true)),
    ("*c", "abc", Some(true)),
    ("a*", "a", Some(true)),
    ("a*", "abc", Some(true)),
    ("a*", "ab/c", Some(true)),
    ("a*/b", "abc/b", Some(true)),
    ("a*/b", "a/c/b", Some(false)),
    ("a*b*c*d*e*/f", "axbxcxdxe/f", Some(true)),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/f", Some(true)),
    ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", Some(false)),
    ("a*b*c*d*e*/f", "axbxcxdxexxx/fff", Some(false)),
    ("a*b?c*x", "abxbbxdbxebxczzx", Some(true)),
    ("a*b?c*x", "abxbbxdbxebxczzy", Some(false)),
    ("ab[c]", "abc", Some(true)),
    ("ab[b-d]", "abc", Some(true)),
    ("ab[e-g]", "abc", Some(false)),
    ("ab[^c]", "abc", Some(false)),
    ("ab[^b-d]", "abc", Some(false)),
    ("ab[^e-g]", "abc", Some(true)),
    ("a\\*b", "a*b", Some(true)),
    ("a\\*b", "ab", Some(false)),
    ("a?b", "a☺b", Some(true)),
    ("a[^a]b", "a☺b", Some(true)),
    ("a???b", "a☺b", Some(false)),
    ("a[^a][^a][^a]b", "a☺b", Some(false)),
    ("[a-ζ]*", "α", Some(true)),
    ("*[a-ζ]", "A", Some(false)),
    ("a?b", "a/b", Some(false)),
    ("a*b", "a/b", Some(false)),
    ("[\\]a]", "]", Some(true)),
    ("[\\-]", "-", Some(true)),
    ("[x\\-]", "x", Some(true)),
    ("[x\\-]", "-", Some(true)),
    ("[x\\-]", "z", Some(false)),
    ("[\\-x]", "x", Some(true)),
    ("[\\-x]", "-", Some(true)),
    ("[\\-x]", "a", Some(false)),
    ("[]a]", "]", None),
    ("[-]", "-", None),
    ("[x-]", "x", None),
    ("[x-]", "-", None),
    ("[x-]", "z", None),
    ("[-x]", "x", None),
    ("[-x]", "-", None),
    ("[-x]", "a", None),
    ("\\", "a", None),
    ("[a-b-c]", "a", None),
    ("[", "a", None),
    ("[^", "a", None),
    ("[^bc", "a", None),
    ("a[", "a", None),
    ("a[", "ab", None),
    ("*x", "xxx", Some(true)),
];

#[test]
fn filepath_match_cases() {
    let mut failures = Vec::new();
    for &(pattern, path, want) in GLOB_CASES {
        match (Matcher::from_patterns(&[pattern]), want) {
            (Ok(m), Some(want)) if m.is_excluded(path, false) == want => {}
            (Err(Error::BadPattern { .. }), None) => {}
            (got, _) => failures.push(format!("{pattern:?} on {path:?}: got {got:?}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn malformed_patterns_are_errors_with_a_hint() {
    assert_eq!(
        Matcher::from_patterns(&["!"]).unwrap_err(),
        Error::LoneExclamation { line: 1 }
    );
    let err = Matcher::parse("ok\n# c\nsrc/[a\n").unwrap_err();
    assert!(matches!(&err, Error::BadPattern { line: 3, pattern, .. } if pattern == "src/[a"));
    assert!(err.to_string().contains("line 3"), "{err}");
    assert!(err.to_string().contains("close every \"[\""), "{err}");
    // Valid glob syntax that Go's regexp refuses (range l-O is backwards).
    let err = Matcher::parse("[Local-Only]/").unwrap_err();
    assert!(
        err.to_string().contains("invalid character class range"),
        "{err}"
    );
    let long = format!("a\n{}", "x".repeat(70_000));
    assert_eq!(
        Matcher::parse(&long).unwrap_err(),
        Error::LineTooLong { line: 2 }
    );
}

#[test]
fn ignore_file_syntax() {
    let m = Matcher::parse(
        "\u{feff}# comment\n\n/abs\n./dot/\ntrail/\n  # spaced is a pattern\r\n*.md\n! README*.md\nREADME-secret.md\n",
    )
    .unwrap();
    assert!(m.is_excluded("abs", false));
    assert!(m.is_excluded("dot/x", false));
    assert!(
        m.is_excluded("trail", false),
        "a trailing / also matches files"
    );
    assert!(m.is_excluded("# spaced is a pattern", false));
    assert!(!m.is_excluded("# comment", false));
    assert!(m.is_excluded("notes.md", false));
    assert!(!m.is_excluded("README.md", false));
    assert!(m.is_excluded("README-secret.md", false));
    assert!(
        !m.is_excluded("sub/notes.md", false),
        "*.md is anchored at the root"
    );
}

#[test]
fn dockerfile_and_dockerignore_are_plain_paths() {
    let m = Matcher::parse("Dockerfile\n.dockerignore\n").unwrap();
    assert!(m.is_excluded("Dockerfile", false));
    assert!(m.is_excluded(".dockerignore", false));
    assert!(!m.is_excluded("sub/Dockerfile", false));
}

#[test]
fn excluded_dirs_are_searched_only_towards_exceptions() {
    let m = Matcher::parse("docs\n!docs/keep/README.md\n").unwrap();
    assert!(m.is_excluded("docs", true));
    assert!(m.may_include_under("docs"));
    assert!(m.may_include_under("docs/keep"));
    assert!(!m.may_include_under("docs/other"));
    assert!(m.is_excluded("docs/other/README.md", false));
    assert!(!m.is_excluded("docs/keep/README.md", false));
    assert!(m.is_excluded("docs/keep/other.md", false));
    assert!(
        m.may_include_under("src"),
        "a directory that is not excluded is searched"
    );

    // Plain exceptions outside an excluded directory cannot reach into it.
    let m = Matcher::parse("*\n!keep\n").unwrap();
    assert!(!m.may_include_under("other"));
    assert!(m.is_excluded("other/keep", false));
    assert!(!m.is_excluded("keep", false));
    assert!(
        !m.is_excluded("keep/inner", false),
        "an exception matching a dir keeps its contents"
    );

    // `dir/**` and `dir/*` exceptions still count as plain prefixes.
    let m = Matcher::parse("*\n!src/**\n").unwrap();
    assert!(m.may_include_under("src"));
    assert!(!m.may_include_under("other"));
    assert!(!m.is_excluded("src/a/b.rs", false));

    // One wildcard exception makes every excluded directory searched.
    let m = Matcher::parse("*\n!**/keep\n").unwrap();
    assert!(m.may_include_under("other"));
    assert!(!m.is_excluded("other/keep", false));
    assert!(m.is_excluded("other/drop", false));

    // No exceptions at all: an excluded directory is never searched.
    let m = Matcher::parse("node_modules\n").unwrap();
    assert!(!m.may_include_under("node_modules"));
    assert!(!m.may_include_under("node_modules/a/b"));
    assert!(m.may_include_under("src"));
}

#[test]
fn later_rules_win_and_exceptions_need_a_match_first() {
    assert!(excluded(&["!a", "a"], "a"));
    assert!(!excluded(&["a", "!a"], "a"));
    // The walk carries rule matches down from parents: `!a` matched neither `a` (nothing was
    // excluded yet) nor `a/b`, so it cannot take `a/b/c` back — and `a/b` is not searched.
    // (patternmatcher's MatchesOrParentMatches would say otherwise; BuildKit walks.)
    assert!(excluded(&["a/b", "!a"], "a/b/c"));
    assert!(!excluded(&["a/b", "!a/b/c"], "a/b/c"));
    assert!(excluded(&["a", "!a", "a/b"], "a/b/c"));
    assert!(excluded(
        &["**/*.log", "!important.log", "*"],
        "important.log"
    ));
}

#[test]
fn a_byte_order_mark_before_a_leading_double_star_matches_nothing_and_does_not_panic() {
    // Found by the `dockerignore` fuzz target: the pattern was sliced inside the mark.
    let text = "build/\n\u{feff}**mF.tmp\n";
    let m = Matcher::parse(text).unwrap();
    assert!(!m.is_excluded("mF.tmp", false));
    assert!(!m.is_excluded("a/mF.tmp", false));
    assert!(m.is_excluded("build/x", false));
}
