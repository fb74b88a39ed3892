//! Shared fixtures: a busybox rootfs and the checks that decide whether real-runtime tests run.

#![allow(dead_code)] // each test binary uses a different part of this module

use skiff_sandbox::{RunOutcome, RunSpec, Runtime};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The host's static busybox (Debian's busybox-static).
pub const BUSYBOX: &str = "/bin/busybox";

/// Whether tests must not skip (`CI=true`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returning false, with the reason printed) or, in CI, panics.
pub fn skip(reason: &str) -> bool {
    if in_ci() {
        panic!("CI=true but this test cannot run: {reason}");
    }
    eprintln!("SKIPPED: {reason}");
    false
}

/// True when running as root (needed for mounts and namespaces).
pub fn have_root() -> bool {
    rustix::process::geteuid().is_root() || skip("needs root (mounts and namespaces)")
}

/// The runtime to test with, or `None` (after printing why) when this machine cannot run steps.
pub fn runtime() -> Option<Runtime> {
    if !have_root() {
        return None;
    }
    if !Path::new(BUSYBOX).is_file() {
        skip("needs /bin/busybox (apt-get install busybox-static)");
        return None;
    }
    match Runtime::detect(None) {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            skip(&format!("{e:#}"));
            None
        }
    }
}

/// Fills `root` with busybox, its applet links in /bin, and passwd/group files:
/// `appuser` (1000:1000, also in `extra` 2000 and `more` 3000) and `nogroups` (1001:1001).
pub fn busybox_rootfs(root: &Path) {
    let bin = root.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(BUSYBOX, bin.join("busybox")).unwrap();
    let list = Command::new(BUSYBOX).arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", bin.join(applet)).unwrap();
        }
    }
    let etc = root.join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    std::fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/app:/bin/sh\nnogroups:x:1001:1001::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        "root:x:0:\napp:x:1000:\nextra:x:2000:appuser\nmore:x:3000:other,appuser\n",
    )
    .unwrap();
    std::fs::create_dir_all(root.join("tmp")).unwrap();
}

/// A spec running `script` with busybox's sh in `rootfs`.
pub fn sh(rootfs: &Path, script: &str) -> RunSpec {
    RunSpec {
        rootfs: rootfs.to_path_buf(),
        args: vec!["/bin/sh".into(), "-c".into(), script.into()],
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        hostname: "skiff-test".into(),
        ..RunSpec::default()
    }
}

/// Runs `spec`, returning the outcome and all output as text.
pub fn run(runtime: &Runtime, spec: &RunSpec) -> (RunOutcome, String) {
    let mut output = Vec::new();
    let outcome = runtime
        .run(spec, &mut |chunk| output.extend_from_slice(chunk))
        .expect("running the step");
    (outcome, String::from_utf8_lossy(&output).into_owned())
}

/// Every path under `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.symlink_metadata().unwrap().is_dir() {
                stack.push(path.clone());
            }
            out.push(path.strip_prefix(dir).unwrap().to_path_buf());
        }
    }
    out.sort();
    out
}

/// Polls (up to 10 s) until a `/bin/sh` process whose command line contains `marker` exists
/// (`present`) or is gone (`!present`); returns its pid while present.
pub fn wait_for_process(marker: &str, present: bool) -> Option<i32> {
    let find = || {
        std::fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .find_map(|entry| {
                let pid = entry.file_name().to_string_lossy().parse::<i32>().ok()?;
                let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
                (cmdline.starts_with(b"/bin/sh\0")
                    && String::from_utf8_lossy(&cmdline).contains(marker))
                .then_some(pid)
            })
    };
    for _ in 0..200 {
        let found = find();
        if found.is_some() == present {
            return found;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    find()
}
