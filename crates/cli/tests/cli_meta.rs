//! What the CLI says about itself: `--version` with the commit, shell completions and the man
//! page, generated from the same definition as the parser.

use skiff_testkit::skiff_bin;
use std::process::Command;

fn output(args: &[&str]) -> String {
    let out = Command::new(skiff_bin()).args(args).output().unwrap();
    assert!(out.status.success(), "skiff {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn version_names_the_commit() {
    let version = output(&["--version"]);
    let (_, commit) = version.trim().split_once(" (").expect("skiff X (COMMIT)");
    let commit = commit.trim_end_matches(')');
    assert!(
        commit == "unknown"
            || (commit.len() == 12 && commit.chars().all(|c| c.is_ascii_hexdigit())),
        "{version}"
    );
}

#[test]
fn completions_know_the_subcommands_and_buildx_flags() {
    let bash = output(&["completion", "bash"]);
    for needle in ["build", "--cache-to", "--metadata-file", "--platform"] {
        assert!(bash.contains(needle), "{needle} missing");
    }
    // The script is valid bash.
    let checked = Command::new("bash")
        .args(["-n", "-c", &bash])
        .status()
        .unwrap();
    assert!(checked.success());
    for shell in ["zsh", "fish"] {
        assert!(
            output(&["completion", shell]).contains("cache-from"),
            "{shell}"
        );
    }
    let failed = Command::new(skiff_bin())
        .args(["completion", "tcsh"])
        .output()
        .unwrap();
    assert!(!failed.status.success());
}

#[test]
fn the_man_page_is_roff_for_skiff() {
    let page = output(&["man"]);
    assert!(page.contains(".TH skiff 1"), "{page}");
    assert!(page.contains("build"), "{page}");
}
