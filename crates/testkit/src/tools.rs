//! Finding the programs tests depend on: external tools (skip locally, never in CI) and the
//! skiff binary under test.

use std::path::{Path, PathBuf};

/// Whether `CI=true`: then nothing may be skipped.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Where `name` is: itself if it is a path to an existing file, else its first match on `PATH`.
pub fn find_tool(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        return Path::new(name).is_file().then(|| PathBuf::from(name));
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Whether a test may use `tool` (a name on `PATH` or an absolute path).
///
/// Returns `true` when it is there. When it is missing, prints why the test is skipped and
/// returns `false` — except in CI (`CI=true`), where a missing tool is a setup bug and this
/// panics. Use as `if !require_tool("skopeo") { return; }`.
pub fn require_tool(tool: &str) -> bool {
    if find_tool(tool).is_some() {
        return true;
    }
    let reason = format!("{tool} is not installed (scripts/install-deps installs it)");
    if in_ci() {
        panic!("CI must not skip tests: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    false
}

/// The skiff binary under test.
///
/// `$SKIFF_BIN` when set; otherwise `target/<profile>/skiff` beside the running test
/// executable (`target/<profile>/deps/…`). Tests in the cli crate can pass
/// `env!("CARGO_BIN_EXE_skiff")` to [`skiff_bin_at`] instead; tests in other crates must
/// have the binary built first (`cargo build -p skiff`, or `cargo test --workspace`).
pub fn skiff_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("SKIFF_BIN") {
        return skiff_bin_at(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(3)
        .map(|dir| dir.join("skiff"))
        .collect();
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the skiff binary is not built (looked at {candidates:?}): run `cargo build -p skiff` \
                 with the same profile and target dir, or set SKIFF_BIN"
            )
        })
}

/// Checks that `path` is the skiff binary and returns it; panics saying how to build it.
pub fn skiff_bin_at(path: impl Into<PathBuf>) -> PathBuf {
    let path = path.into();
    assert!(
        path.is_file(),
        "the skiff binary {} does not exist: run `cargo build -p skiff` or fix SKIFF_BIN",
        path.display()
    );
    path
}
