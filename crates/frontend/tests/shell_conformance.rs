//! BuildKit's shell-lexer tables (`buildkit-parser/shell/envVarTest` and `wordsTest`), run
//! against the public `Lexer` the way BuildKit's `lex_test.go` runs them on Linux: every
//! `A` (all) and `U` (unix) line of `envVarTest` through `process_word`, every case of
//! `wordsTest` through `process_words`. Each test lists every failing line.

use skiff_frontend::shell::{Env, Lexer};
use std::path::{Path, PathBuf};

/// `$SKIFF_CONFORMANCE_DIR`, or `shared/conformance` beside the repository.
fn conformance_dir() -> PathBuf {
    match std::env::var_os("SKIFF_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance"
        )),
    }
}

fn read_table(name: &str) -> (PathBuf, String) {
    let path = conformance_dir().join("buildkit-parser/shell").join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => (path, text),
        Err(e) => panic!(
            "cannot read the BuildKit shell table {} ({e}); set SKIFF_CONFORMANCE_DIR to the \
             folder holding buildkit-parser/",
            path.display()
        ),
    }
}

fn report(path: &Path, checked: usize, failures: Vec<String>) {
    assert!(checked > 0, "{} has no test lines", path.display());
    assert!(
        failures.is_empty(),
        "{} of {checked} lines of {} failed:\n{}",
        failures.len(),
        path.display(),
        failures.join("\n")
    );
}

#[test]
fn env_var_table() {
    let (path, text) = read_table("envVarTest");
    let env: Env = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .into_iter()
    .collect();
    let lexer = Lexer::new('\\');
    let mut failures = Vec::new();
    let mut checked = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.trim().split('|').collect();
        let [platform, source, expected] = fields[..] else {
            failures.push(format!("line {number}: not `P|input|expected`: {line:?}"));
            continue;
        };
        let (platform, source, expected) = (platform.trim(), source.trim(), expected.trim());
        match platform {
            "A" | "U" => {}
            "W" => continue,
            other => {
                failures.push(format!("line {number}: unknown platform tag {other:?}"));
                continue;
            }
        }
        checked += 1;
        match (lexer.process_word(source, &env), expected) {
            (Err(_), "error") => {}
            (Ok(got), "error") => failures.push(format!(
                "line {number}: {source:?} should fail, got {got:?}"
            )),
            (Ok(got), _) if got == expected => {}
            (got, _) => failures.push(format!(
                "line {number}: {source:?} should give {expected:?}, got {got:?}"
            )),
        }
    }
    report(&path, checked, failures);
}

#[test]
fn words_table() {
    let (path, text) = read_table("wordsTest");
    let lexer = Lexer::new('\\');
    let mut env = Env::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.starts_with('#') {
            continue;
        }
        if let Some(assignment) = line.strip_prefix("ENV ") {
            let assignment = assignment.trim_start_matches(' ');
            let (name, value) = assignment.split_once('=').unwrap_or((assignment, ""));
            env.set(name, value);
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        let [input, expected] = fields[..] else {
            failures.push(format!("line {number}: not exactly one `|`: {line:?}"));
            continue;
        };
        checked += 1;
        let input = input.trim();
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();
        let got = match lexer.process_words(input, &env) {
            Ok(words) => words,
            Err(_) => vec!["error".to_string()],
        };
        if got != expected {
            failures.push(format!(
                "line {number}: {input:?} should give {expected:?}, got {got:?}"
            ));
        }
    }
    report(&path, checked, failures);
}
