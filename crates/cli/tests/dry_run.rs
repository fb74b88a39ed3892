//! `skiff build --dry-run` through the binary: the seed's Dockerfiles plan with `builder`
//! before the final stage, a misspelled `--target` names `builder`, frontend errors are
//! rendered with the source line and exit code 1, and `--platform` means what it means
//! to the build.

use std::path::{Path, PathBuf};
use std::process::Output;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn skiff(args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_skiff"))
        .args(args)
        .output()
        .expect("runs skiff")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn seed_dockerfiles_plan_builder_then_the_final_stage() {
    for seed in ["seed-minimal", "seed-production"] {
        let dir = fixture(seed);
        let out = skiff(&["build", "--dry-run", dir.to_str().unwrap()]);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{seed}: {}", text(&out.stderr));
        assert!(stdout.contains("target stage \"#1\""), "{stdout}");
        let builder = stdout.find("[0] builder").expect("builder is built");
        let last = stdout.find("[1] #1").expect("the final stage is built");
        assert!(builder < last, "{stdout}");
        assert!(
            stdout.contains("needs stage \"builder\" (COPY --from, line "),
            "{stdout}"
        );
        assert!(
            stdout.contains("parallel groups:\n  1: builder\n  2: #1\n"),
            "{stdout}"
        );
        assert!(stdout.contains("skipped: none"), "{stdout}");
        assert!(out.stderr.is_empty(), "{}", text(&out.stderr));
    }
}

#[test]
fn seed_minimal_full_output() {
    let dir = fixture("seed-minimal");
    let file = dir.join("Dockerfile");
    let out = skiff(&["build", "--dry-run", "-f", file.to_str().unwrap(), "."]);
    assert!(out.status.success());
    assert_eq!(
        text(&out.stdout),
        format!(
            "{}: target stage \"#1\"
stages to build, in order:
  [0] builder  from image golang:1.22-alpine, 5 instruction(s)
  [1] #1  from scratch, 2 instruction(s)
      needs stage \"builder\" (COPY --from, line 14)
parallel groups:
  1: builder
  2: #1
skipped: none
",
            file.display()
        )
    );
}

#[test]
fn target_builder_skips_the_final_stage() {
    let dir = fixture("seed-production");
    let out = skiff(&[
        "build",
        "--dry-run",
        "--target",
        "Builder",
        dir.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stdout.contains("target stage \"builder\""), "{stdout}");
    assert!(
        stdout.contains("skipped:\n  [1] #1: defined after the target stage \"builder\", which does not use it\n"),
        "{stdout}"
    );
}

#[test]
fn misspelled_target_fails_with_did_you_mean_builder() {
    let dir = fixture("seed-minimal");
    let out = skiff(&[
        "build",
        "--dry-run",
        "--target",
        "bulid",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "error: target stage \"bulid\" could not be found\n  = help: did you mean \"builder\"?\n"
    );
}

#[test]
fn misspelled_copy_from_is_rendered_with_its_line() {
    let tmp = tempdir("copy-from");
    std::fs::write(
        tmp.join("Dockerfile"),
        "FROM golang:1.22-alpine AS builder\nFROM scratch\nCOPY --from=bulid /out/server /server\n",
    )
    .unwrap();
    let out = skiff(&["build", "--dry-run", "-f", "-", tmp.to_str().unwrap()]);
    // `-f -` reads stdin, which is empty here: no instructions.
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with("error: "),
        "{}",
        text(&out.stderr)
    );
    let df = tmp.join("Dockerfile");
    let out = skiff(&[
        "build",
        "--dry-run",
        "-f",
        df.to_str().unwrap(),
        tmp.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        format!(
            "error: stage \"bulid\" not found
 --> {}:3:13
  |
3 | COPY --from=bulid /out/server /server
  |             ^^^^^ no stage has this name; it would be pulled as an image
  |
  = help: did you mean \"builder\"? (to use an image of that name, write its full reference, e.g. docker.io/library/bulid)
",
            df.display()
        )
    );
}

#[test]
fn build_args_reach_from_and_warnings_go_to_stderr() {
    let tmp = tempdir("args");
    std::fs::write(
        tmp.join("Dockerfile"),
        "ARG TAG=1.21\nFROM golang:${TAG} AS x\nFROM alpine AS X\nCOPY --from=0 /usr/local/go /go\n",
    )
    .unwrap();
    let out = skiff(&[
        "build",
        "--dry-run",
        "--build-arg",
        "TAG=1.23",
        tmp.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\nglobal ARGs: TAG=1.23\n"), "{stdout}");
    assert!(
        stdout.contains("[0] x  from image golang:1.23, 0 instruction(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("parallel groups:\n  1: x\n  2: x\n"),
        "{stdout}"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(
            "warning: DuplicateStageName: Duplicate stage name \"x\", stage names should be unique\n"
        ),
        "{stderr}"
    );
    let out = skiff(&["build", "--dry-run", "--target", "x", tmp.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("[0] x  from image golang:1.21"), "{stdout}");
    assert!(
        stdout.contains("[1] x  from image alpine, 1 instruction(s)"),
        "{stdout}"
    );
}

#[test]
fn spans_stay_right_after_a_byte_order_mark() {
    let tmp = tempdir("bom");
    std::fs::write(
        tmp.join("Dockerfile"),
        "\u{feff}FROM alpine\r\nRUN --networ=none true\r\n",
    )
    .unwrap();
    let out = skiff(&["build", "--dry-run", tmp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("2 | RUN --networ=none true\n  |       ^^^^^^ RUN has no such flag\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("= help: did you mean --network?"),
        "{stderr}"
    );
}

#[test]
fn missing_dockerfile_is_a_clear_error() {
    let tmp = tempdir("missing");
    let out = skiff(&["build", "--dry-run", tmp.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("cannot read the Dockerfile"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_platform_is_the_one_the_build_uses() {
    // --dry-run plans with the build's own call: --platform normalised as the build
    // normalises it (aarch64 is arm64), and refused where the build refuses it.
    let tmp = tempdir("platform");
    std::fs::write(
        tmp.join("Dockerfile"),
        "FROM --platform=$TARGETPLATFORM alpine\n",
    )
    .unwrap();
    let dir = tmp.to_str().unwrap();
    let out = skiff(&["build", "--dry-run", "--platform", "linux/aarch64", dir]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains("from image alpine (linux/arm64), 0 instruction(s)"),
        "{stdout}"
    );
    let out = skiff(&["build", "--dry-run", "--platform", "arm64", dir]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("os/arch"),
        "{}",
        text(&out.stderr)
    );
}

/// A fresh directory under the target dir for one test.
fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("skiff-dry-run-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
