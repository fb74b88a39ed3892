//! Choosing the OCI runtime: the one named (`--runtime runc|crun|PATH`), or the first of
//! runc and crun that actually runs a container here. Installed is not enough: crun 1.8, for
//! one, fails every container on a machine with hybrid cgroups. Each runtime is probed once per
//! process (a trivial container, ~50 ms); failures say what is wrong and what to use instead.

use crate::spec::{Mount, MountKind, Network, RunSpec, Runtime};
use anyhow::{anyhow, bail, Result};
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// The runtimes skiff knows, tried in this order when none is named.
const KNOWN_RUNTIMES: [&str; 2] = ["runc", "crun"];

/// What the probe container prints: a runtime that exits 0 without running it does not work.
const PROBE_WORD: &str = "skiff-runtime-probe";

/// Per-process verdicts of [`probe`], keyed by the runtime's path: `Err` holds why it fails.
static VERDICTS: OnceLock<Mutex<HashMap<PathBuf, Result<(), String>>>> = OnceLock::new();

impl Runtime {
    /// The runtime named (`runc`, `crun`, or a path), or the first that works here when `None`
    /// (runc, then crun). Each candidate must run a trivial container; the verdict is cached
    /// for the life of the process.
    pub fn detect(preferred: Option<&str>) -> Result<Runtime> {
        match preferred {
            Some(name) => named(name),
            None => first_that_works(),
        }
    }

    /// Where the runtime `name` (`runc`, `crun` or a path) is, without running it: cheap, so a
    /// build can reject a wrong `--runtime` before its first step. The error names the
    /// runtimes skiff knows and which of them are installed.
    pub fn locate(name: &str) -> Result<PathBuf> {
        find_binary(name).ok_or_else(|| {
            let looked = if name.contains('/') {
                "no executable file at that path".to_string()
            } else {
                format!("no executable {name} in PATH, /usr/sbin or /sbin")
            };
            anyhow!(
                "OCI runtime {name}: not found ({looked}). skiff knows {}; {}. Name one of \
                 them or the path of an OCI runtime binary with --runtime (or install runc: \
                 `apt-get install runc`), or leave --runtime out to use the first that works \
                 here",
                KNOWN_RUNTIMES.join(" and "),
                installed_runtimes()
            )
        })
    }
}

fn named(name: &str) -> Result<Runtime> {
    let path = Runtime::locate(name)?;
    match verdict(&path) {
        Ok(()) => Ok(Runtime { path }),
        Err(why) => Err(anyhow!(
            "OCI runtime {} fails here: {why}. {}",
            path.display(),
            alternatives(&path)
        )),
    }
}

fn first_that_works() -> Result<Runtime> {
    let mut failures = Vec::new();
    for name in KNOWN_RUNTIMES {
        let Some(path) = find_binary(name) else {
            failures.push(format!("{name}: not installed"));
            continue;
        };
        match verdict(&path) {
            Ok(()) => return Ok(Runtime { path }),
            Err(why) => failures.push(format!("{} fails here: {why}", path.display())),
        }
    }
    Err(anyhow!(
        "no working OCI runtime to run RUN steps: {}. Install runc (`apt-get install runc`) \
         or name a working runtime with --runtime NAME|PATH",
        failures.join("; ")
    ))
}

/// Whether the runtime at `path` runs containers here (probed once per process).
fn verdict(path: &Path) -> Result<(), String> {
    let mut verdicts = VERDICTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    verdicts
        .entry(path.to_path_buf())
        .or_insert_with(|| probe(path).map_err(|e| format!("{e:#}")))
        .clone()
}

/// What to do instead of using the runtime at `failed`: the other known runtimes that work.
fn alternatives(failed: &Path) -> String {
    let working: Vec<String> = KNOWN_RUNTIMES
        .iter()
        .filter_map(|name| Some((name, find_binary(name)?)))
        .filter(|(_, path)| path != failed && verdict(path).is_ok())
        .map(|(name, path)| format!("--runtime {name} (at {}) works here", path.display()))
        .collect();
    if working.is_empty() {
        "Install runc (`apt-get install runc`) or name a working runtime with --runtime NAME|PATH"
            .to_string()
    } else {
        format!(
            "Use another runtime: {}; or leave --runtime out to use the first that works here",
            working.join(", ")
        )
    }
}

/// `installed here: runc (/usr/sbin/runc)`, or how to install one.
fn installed_runtimes() -> String {
    let found: Vec<String> = KNOWN_RUNTIMES
        .iter()
        .filter_map(|name| Some(format!("{name} ({})", find_binary(name)?.display())))
        .collect();
    if found.is_empty() {
        "neither is installed".to_string()
    } else {
        format!("installed here: {}", found.join(", "))
    }
}

/// `name` itself when it is a path, else the first match in `PATH`, `/usr/sbin`, `/sbin`;
/// only executable files count. Public because the engine looks for host helpers (ssh-agent)
/// the same way it looks for runtimes.
pub fn find_binary(name: &str) -> Option<PathBuf> {
    let executable = |path: &Path| {
        path.metadata()
            .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if name.contains('/') {
        let path = PathBuf::from(name);
        return executable(&path).then_some(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| executable(candidate))
}

/// Removes the probe rootfs of skiff processes that died while probing (a SIGKILL gives
/// no chance to clean up): `skiff-probe-<pid>-…` in the temporary directory, `<pid>` gone.
fn remove_dead_probes() {
    let Ok(dir) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("skiff-probe-")
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(pid, _)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            // Best effort: another process may be removing it too.
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Runs `echo` from the host's `/usr` in an otherwise empty rootfs, through the same bundle
/// code as real steps, so a runtime that cannot run containers here is found up front.
fn probe(path: &Path) -> Result<()> {
    remove_dead_probes();
    let rootfs = tempfile::Builder::new()
        .prefix(&format!("skiff-probe-{}-", std::process::id()))
        .tempdir()?;
    let mut mounts = Vec::new();
    for dir in ["/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64"] {
        let Ok(meta) = std::fs::symlink_metadata(dir) else {
            continue;
        };
        let inside = rootfs.path().join(&dir[1..]);
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(dir)?, inside)?;
        } else if meta.is_dir() {
            mounts.push(Mount {
                destination: dir.to_owned(),
                kind: MountKind::Bind {
                    source: PathBuf::from(dir),
                    readonly: true,
                },
            });
        }
    }
    let spec = RunSpec {
        rootfs: rootfs.path().to_path_buf(),
        args: vec!["echo".into(), PROBE_WORD.into()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
        cwd: "/".into(),
        mounts,
        // The probe reaches nothing: no namespace or helper to set up for it.
        network: Network::Host,
        ..RunSpec::default()
    };
    let runtime = Runtime {
        path: path.to_path_buf(),
    };
    let outcome = runtime.run(&spec, &mut |_| {})?;
    if outcome.exit_code != 0 {
        bail!(
            "a trivial container exited with {}: {}",
            outcome.exit_code,
            explain_output(&outcome.tail)
        );
    }
    if !outcome.tail.iter().any(|line| line.contains(PROBE_WORD)) {
        bail!(
            "a trivial container exited with 0 but did not run its command (is {} an OCI \
             runtime?)",
            path.display()
        );
    }
    Ok(())
}

/// What a failed probe printed, made readable: a cgroup complaint becomes the machine's
/// cgroup setup, the runtime's own words and the fix; anything else is its last lines.
fn explain_output(tail: &[String]) -> String {
    let Some(complaint) = tail.iter().find(|line| line.contains("cgroup")) else {
        return tail.join(" | ");
    };
    // runc logs in logfmt (`level=error msg="…"`): keep the message itself.
    let words = match complaint.split_once("msg=\"") {
        Some((_, rest)) => rest.split('"').next().unwrap_or(rest),
        None => complaint.trim(),
    };
    let setup = cgroup_setup();
    let fix = if words.contains("hybrid") {
        "this runtime does not support hybrid cgroups (to use it, boot the machine with cgroup \
         v2 only: kernel option systemd.unified_cgroup_hierarchy=1)"
    } else {
        "check that the cgroup filesystem is mounted and writable"
    };
    format!(
        "it cannot create a container's cgroup on this machine ({setup}): it says \"{words}\"; \
         {fix}"
    )
}

/// How this machine mounts cgroups, in words.
fn cgroup_setup() -> &'static str {
    let root = Path::new("/sys/fs/cgroup");
    if root.join("cgroup.controllers").exists() {
        "cgroup v2"
    } else if root.join("unified").is_dir() {
        "cgroup v1 with a v2 hierarchy beside it: hybrid mode"
    } else {
        "cgroup v1"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hybrid_cgroup_complaint_is_explained_with_the_fix() {
        let tail =
            ["cgroups in hybrid mode not supported, drop all controllers from cgroupv2".into()];
        let text = explain_output(&tail);
        assert!(
            text.contains("cannot create a container's cgroup on this machine (")
                && text.contains("it says \"cgroups in hybrid mode not supported")
                && text.contains("systemd.unified_cgroup_hierarchy=1"),
            "{text}"
        );
    }

    #[test]
    fn a_logfmt_line_is_reduced_to_its_message() {
        let tail = [
            "time=\"2026-11-27T00:00:00Z\" level=error msg=\"cgroup mountpoint does not exist\" x=1"
                .into(),
        ];
        let text = explain_output(&tail);
        assert!(
            text.contains("it says \"cgroup mountpoint does not exist\"; check that"),
            "{text}"
        );
        assert!(!text.contains("level=error"), "{text}");
    }

    #[test]
    fn other_failures_keep_the_last_lines() {
        let tail = ["exec failed".to_string(), "no such file".to_string()];
        assert_eq!(explain_output(&tail), "exec failed | no such file");
    }

    #[test]
    fn a_missing_runtime_is_named_with_the_known_ones() {
        let err = Runtime::locate("/nonexistent/runtime")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("OCI runtime /nonexistent/runtime: not found (no executable file")
                && err.contains("skiff knows runc and crun;")
                && err.contains("leave --runtime out"),
            "{err}"
        );
        let err = Runtime::locate("no-such-runtime").unwrap_err().to_string();
        assert!(err.contains("in PATH, /usr/sbin or /sbin"), "{err}");
    }
}
