//! What a cancelled, failed or killed `skiff build` must not leave behind on the host: its
//! runc containers and its mounts. Tests look for both after the build has ended.

use std::path::Path;
use std::process::Command;

/// The runc containers (`runc list`) of the skiff process `pid`: skiff names them
/// `skiff-<pid>-…`.
pub fn runc_containers_of(pid: u32) -> Vec<String> {
    let out = Command::new("runc")
        .args(["list", "-q"])
        .output()
        .expect("runc list");
    let prefix = format!("skiff-{pid}-");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(&prefix))
        .map(str::to_string)
        .collect()
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
