//! `skiff build --runtime`: the OCI runtime that runs RUN steps. A named runtime is used, a
//! missing one fails before any step with the runtimes skiff knows, one that cannot run
//! containers here says why, and without the flag the first runtime that works is chosen.

use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::require_tool;
use std::path::{Path, PathBuf};

const RUN_ONE: &str = "FROM busybox\nRUN echo ran > /ran\n";

/// The path of `tool` in `PATH`, `/usr/sbin` or `/sbin`.
fn which(tool: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{tool} is not installed"))
}

/// Writes an executable shell script.
fn script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Whether any step was reported (a `#N [..]` line).
fn reported_a_step(run: &BuildRun) -> bool {
    !run.steps().is_empty()
}

#[test]
fn runc_runs_the_steps() {
    let Some(p) = Project::needing_runc(RUN_ONE) else {
        return;
    };
    let (run, image) = p.build_image(&["--runtime", "runc"]);
    assert_eq!(image.fs.read_string("/ran"), "ran\n", "{}", run.report());
    // A path works as well as a name.
    let runc = which("runc");
    let (run, image) = p.build_image(&["--no-cache", "--runtime", runc.to_str().unwrap()]);
    assert_eq!(image.fs.read_string("/ran"), "ran\n", "{}", run.report());
}

#[test]
fn a_missing_runtime_fails_before_any_step_and_names_the_known_ones() {
    let p = Project::new();
    p.dockerfile(RUN_ONE);
    let run = p.build(&["--runtime", "/nonexistent/runtime"]);
    assert!(!run.success(), "{}", run.report());
    assert_eq!(run.code(), Some(1), "{}", run.report());
    assert!(!reported_a_step(&run), "{}", run.report());
    let err = run.stderr();
    assert!(
        err.contains("OCI runtime /nonexistent/runtime: not found")
            && err.contains("skiff knows runc and crun")
            && err.contains("--runtime"),
        "{}",
        run.report()
    );
    // A name that is not installed says where it was looked for.
    let run = p.build(&["--runtime", "skiff-no-such-runtime"]);
    assert!(!run.success() && !reported_a_step(&run), "{}", run.report());
    assert!(
        run.stderr().contains("in PATH, /usr/sbin or /sbin"),
        "{}",
        run.report()
    );
}

/// crun 1.8 cannot create containers on a machine with hybrid cgroups (v1 controllers with a
/// v2 hierarchy beside them); elsewhere it works.
fn crun_fails_here() -> bool {
    let hybrid = Path::new("/sys/fs/cgroup/unified").is_dir()
        && !Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    let version = std::process::Command::new(which("crun"))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    hybrid && version.starts_with("crun version 1.8")
}

#[test]
fn crun_works_or_says_what_is_wrong_with_the_cgroups() {
    if !require_tool("crun") || !require_tool("runc") {
        return;
    }
    let p = Project::new();
    p.dockerfile(RUN_ONE);
    let (run, image) = p.try_build_image_env(&["--runtime", "crun"], &[]);
    if !crun_fails_here() {
        let image = image.unwrap_or_else(|| panic!("{}", run.report()));
        assert_eq!(image.fs.read_string("/ran"), "ran\n");
        return;
    }
    assert!(image.is_none(), "crun should fail here\n{}", run.report());
    assert_eq!(run.code(), Some(1), "{}", run.report());
    let err = run.stderr();
    let message = err[err.rfind("\nerror: ").expect("a final error")..]
        .trim_start()
        .lines()
        .next()
        .unwrap();
    assert!(
        message.contains("fails here")
            && message.contains("cgroup on this machine (cgroup v1 with a v2 hierarchy")
            && message.contains("it says \"cgroups in hybrid mode not supported")
            && message.contains("--runtime runc (at "),
        "{}",
        run.report()
    );
    // The runtime's words, not its output joined up.
    assert!(!message.contains(" | "), "{}", run.report());
}

#[test]
fn the_default_runtime_is_the_first_that_works_here() {
    if !require_tool("runc") {
        return;
    }
    // A `runc` first in PATH that cannot run anything, and a `crun` that is the real runc:
    // the default must skip the first after trying it.
    let real_runc = which("runc");
    let bin = skiff_testkit::tempfile::tempdir().unwrap();
    script(&bin.path().join("runc"), "echo broken runtime >&2; exit 1");
    script(
        &bin.path().join("crun"),
        &format!("exec {} \"$@\"", real_runc.display()),
    );
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let p = Project::new();
    p.dockerfile(RUN_ONE);
    let (run, image) = p.build_image_env(&[], &[("PATH", &path)]);
    assert_eq!(image.fs.read_string("/ran"), "ran\n", "{}", run.report());

    // Naming the broken one fails, saying it failed and what works instead.
    let run = p.build_env(&["--no-cache", "--runtime", "runc"], &[("PATH", &path)]);
    assert!(!run.success(), "{}", run.report());
    let err = run.stderr();
    assert!(
        err.contains(&format!(
            "OCI runtime {} fails here: a trivial container exited with 1: broken runtime",
            bin.path().join("runc").display()
        )) && err.contains("--runtime crun (at "),
        "{}",
        run.report()
    );
}
