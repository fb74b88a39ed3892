//! `skiff build --check` through the binary: BuildKit's build checks on a real Dockerfile and
//! `.dockerignore`, printed rustc-style or as JSON, nothing pulled or built, and the exit code
//! non-zero only when `error=true` finds something.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// A fresh directory for one test.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skiff-check-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// A context with this Dockerfile and `.dockerignore`.
fn context(name: &str, dockerfile: &str, dockerignore: &str) -> PathBuf {
    let dir = scratch_dir(name);
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("write Dockerfile");
    std::fs::write(dir.join(".dockerignore"), dockerignore).expect("write .dockerignore");
    dir
}

/// Runs skiff with an empty store of its own, so anything pulled or built would show there.
fn skiff(root: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
        .arg("--root")
        .arg(root)
        .args(args)
        .output()
        .expect("runs skiff")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// An unreachable registry: a pull would fail, so a passing check proves none was tried.
const DOCKERFILE: &str = "\
FROM registry.invalid:5000/golang:1.22 AS Builder
WORKDIR src
COPY secret.env .

FROM scratch
COPY --from=builder /src/server /server
CMD /server
";

#[test]
fn check_prints_findings_rustc_style_and_builds_nothing() {
    let dir = context("text", DOCKERFILE, "secret.env\n");
    let root = dir.join("store");
    let out = skiff(&root, &["build", "--check", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let file = format!("{}/Dockerfile", dir.display());
    let expected = format!(
        "\
warning: StageNameCasing: Stage name 'Builder' should be lowercase
 --> {file}:1:43
  |
1 | FROM registry.invalid:5000/golang:1.22 AS Builder
  |                                           ^^^^^^^ Stage names should be lowercase
  |
  = help: see https://docs.docker.com/go/dockerfile/rule/stage-name-casing/

warning: WorkdirRelativePath: Relative workdir \"src\" can have unexpected results if the base image changes
 --> {file}:2:9
  |
2 | WORKDIR src
  |         ^^^ Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes
  |
  = help: see https://docs.docker.com/go/dockerfile/rule/workdir-relative-path/

warning: CopyIgnoredFile: Attempting to Copy file \"secret.env\" that is excluded by .dockerignore
 --> {file}:3:6
  |
3 | COPY secret.env .
  |      ^^^^^^^^^^ Attempting to Copy file that is excluded by .dockerignore
  |
  = help: see https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/

warning: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals
 --> {file}:7:1
  |
7 | CMD /server
  | ^^^ JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals
  |
  = help: see https://docs.docker.com/go/dockerfile/rule/json-args-recommended/

Check complete, 4 warnings have been found!
"
    );
    assert_eq!(stdout, expected);
    assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    let stored: Vec<_> = std::fs::read_dir(&root)
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(stored.is_empty(), "--check wrote to the store: {stored:?}");
}

#[test]
fn error_true_makes_findings_fail_the_check() {
    let dir = context(
        "error",
        &format!("# check=error=true\n{DOCKERFILE}"),
        "secret.env\n",
    );
    let root = dir.join("store");
    let out = skiff(&root, &["build", "--check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains(
            "error: lint violation found for rules: CopyIgnoredFile, JSONArgsRecommended, StageNameCasing, WorkdirRelativePath"
        ),
        "{}",
        text(&out.stderr)
    );

    // BUILDKIT_DOCKERFILE_CHECK replaces the directive, as in BuildKit.
    let out = skiff(
        &root,
        &[
            "build",
            "--check",
            "--build-arg",
            "BUILDKIT_DOCKERFILE_CHECK=skip=all",
            dir.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with("Check complete, no warnings found.\n"));
}

#[test]
fn check_format_json_is_machine_readable() {
    let dir = context("json", DOCKERFILE, "secret.env\n");
    let root = dir.join("store");
    let out = skiff(
        &root,
        &["build", "--check", "--format=json", dir.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    let warnings = result["warnings"].as_array().expect("warnings");
    let rules: Vec<&str> = warnings
        .iter()
        .map(|w| w["ruleName"].as_str().unwrap())
        .collect();
    assert_eq!(
        rules,
        [
            "StageNameCasing",
            "WorkdirRelativePath",
            "CopyIgnoredFile",
            "JSONArgsRecommended"
        ]
    );
    let copy = &warnings[2];
    assert_eq!(
        copy["detail"],
        "Attempting to Copy file \"secret.env\" that is excluded by .dockerignore"
    );
    assert_eq!(
        copy["url"],
        "https://docs.docker.com/go/dockerfile/rule/copy-ignored-file/"
    );
    assert_eq!(copy["location"]["ranges"][0]["start"]["line"], 3);
    assert_eq!(result["failed"], false);
    assert!(result["buildError"].is_null());
}

#[test]
fn a_broken_dockerfile_fails_the_check_with_its_error() {
    let dir = context(
        "broken",
        "FROM scratch AS Base\nMAINTAINER me\nBADCMD\n",
        "",
    );
    let root = dir.join("store");
    let out = skiff(&root, &["build", "--check", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("warning: StageNameCasing"), "{stdout}");
    assert!(stdout.contains("warning: MaintainerDeprecated"), "{stdout}");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: unknown instruction: BADCMD"),
        "{stderr}"
    );
    assert!(stderr.contains(":3:1"), "{stderr}");
}
