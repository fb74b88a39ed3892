//! What a cancelled, failed or killed `skiff build` must not leave behind on the host: its
//! runc containers, its mounts, and its steps' helper processes (network namespace holder,
//! slirp4netns, cleanup watchdog). Tests look for them after the build has ended.

use std::path::Path;
use std::process::Command;

/// The runc containers of the skiff process `pid` (skiff names them `skiff-<pid>-…`): those
/// `runc list` shows in the state directory of each step's bundle (`skiff-bundle-*` in the
/// temporary directory, where skiff keeps runc's state), and in runc's default one.
pub fn runc_containers_of(pid: u32) -> Vec<String> {
    let bundles = std::fs::read_dir(std::env::temp_dir())
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter(|e| e.file_name().to_string_lossy().starts_with("skiff-bundle-"))
                .map(|e| Some(e.path().join("state")))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    let prefix = format!("skiff-{pid}-");
    let mut found = Vec::new();
    for root in bundles.into_iter().chain([None]) {
        let mut runc = Command::new("runc");
        if let Some(root) = &root {
            runc.arg("--root").arg(root);
        }
        let out = runc.args(["list", "-q"]).output().expect("runc list");
        found.extend(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| l.starts_with(&prefix))
                .map(str::to_string),
        );
    }
    found
}

/// Mount points (host view, `/proc/self/mountinfo`) under `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| Path::new(m).starts_with(&dir))
        .collect()
}

/// The helper processes of the skiff process `pid`'s steps that are still alive (the network
/// namespace holder, slirp4netns, the cleanup watchdog): skiff marks each with
/// `SKIFF_STEP_OF=<pid>` in its environment. Zombies (already dead) are not counted. Each is
/// given as `PID COMMAND`.
pub fn step_processes_of(pid: u32) -> Vec<String> {
    let mark = format!("SKIFF_STEP_OF={pid}");
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.parse::<u32>().ok()?;
            let environ = std::fs::read(e.path().join("environ")).ok()?;
            environ
                .split(|b| *b == 0)
                .any(|var| var == mark.as_bytes())
                .then_some(())?;
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some(format!("{name} {}", cmdline.trim()))
        })
        .collect()
}

/// Waits up to `secs` seconds for [`step_processes_of`] `pid` to be empty (a helper takes
/// some milliseconds to exit after its step); returns what is still there then.
pub fn step_processes_after(pid: u32, secs: u64) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let left = step_processes_of(pid);
        if left.is_empty() || std::time::Instant::now() > deadline {
            return left;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
