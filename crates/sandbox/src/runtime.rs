//! Finding a working OCI runtime and running one step with it.

use crate::bundle::{self, HostFiles};
use crate::rootfs_path::create_dir_all_in_rootfs;
use crate::stubs::MountStubs;
use crate::tail::Tail;
use crate::{Mount, MountKind, RunOutcome, RunSpec, Runtime};
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

/// Runtimes tried, in order, when none is named.
const CANDIDATES: [&str; 2] = ["runc", "crun"];

/// Per-process verdicts of [`probe`], keyed by the runtime's path: `Err` holds why it fails.
static VERDICTS: OnceLock<Mutex<HashMap<PathBuf, Result<(), String>>>> = OnceLock::new();

impl Runtime {
    /// The runtime named (`runc`, `crun`, or a path), or the first that works here when `None`
    /// (runc, then crun). Each candidate must run a trivial container; the verdict is cached
    /// for the life of the process.
    pub fn detect(preferred: Option<&str>) -> Result<Runtime> {
        let names: Vec<&str> = match preferred {
            Some(name) => vec![name],
            None => CANDIDATES.to_vec(),
        };
        let mut failures = Vec::new();
        for name in names {
            let Some(path) = find_binary(name) else {
                failures.push(format!("{name}: not found in PATH, /usr/sbin or /sbin"));
                continue;
            };
            let mut verdicts = VERDICTS
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let verdict = verdicts
                .entry(path.clone())
                .or_insert_with(|| probe(&path).map_err(|e| format!("{e:#}")));
            match verdict {
                Ok(()) => return Ok(Runtime { path }),
                Err(why) => failures.push(format!("{} fails here: {why}", path.display())),
            }
        }
        Err(anyhow!(
            "no working OCI runtime to run RUN steps: tried {}; install runc (`apt-get install runc`) \
             or name a working runtime with --runtime NAME|PATH (crun 1.8 does not support cgroup v1 hybrid setups)",
            failures.join("; ")
        ))
    }

    /// Runs `spec` to completion; each chunk of combined output is passed to `output` as it comes.
    ///
    /// The container gets its own mount, pid, uts and ipc namespaces (and a network namespace
    /// with only `lo` for [`crate::Network::None`]), `/proc`, a minimal `/dev`, read-only `/sys`,
    /// the host's `/etc/resolv.conf` and a generated `/etc/hosts` (both read-only), then
    /// `spec.mounts` in order. Mount points missing from the rootfs are created and removed again
    /// afterwards (see the `stubs` module). The working directory is created if missing, owned by
    /// the user, and stays.
    ///
    /// Output: runc copies the step's stdout and stderr through two pipes of its own (as for
    /// BuildKit), so each stream keeps its order but their interleaving is not exact.
    ///
    /// Cleanup: `runc delete -f` runs when this returns, errs or unwinds. If the whole process
    /// dies (even by SIGKILL), a watchdog `sh` in its own process group sees its stdin pipe close
    /// and runs `runc delete -f`, which kills the container's init and so, through the pid
    /// namespace, every process of the step; it then removes the bundle dir.
    pub fn run(&self, spec: &RunSpec, output: &mut dyn FnMut(&[u8])) -> Result<RunOutcome> {
        let rootfs = std::fs::canonicalize(&spec.rootfs)
            .with_context(|| format!("rootfs {} is not accessible", spec.rootfs.display()))?;
        if !rootfs.is_dir() {
            bail!("rootfs {} is not a directory", rootfs.display());
        }
        let bundle_dir = tempfile::Builder::new()
            .prefix("skiff-bundle-")
            .tempdir()
            .context("creating a temporary directory for the OCI bundle")?;
        let files = host_files(bundle_dir.path(), &spec.hostname)?;
        let config = bundle::config(spec, &rootfs, &files)?;
        create_dir_all_in_rootfs(&rootfs, &spec.cwd, spec.user.uid, spec.user.gid)
            .with_context(|| format!("creating the working directory {}", spec.cwd))?;
        let mut stubs = MountStubs::default();
        for (destination, kind) in bundle::mount_points(spec) {
            stubs.ensure(&rootfs, &destination, kind)?;
        }
        config
            .save(bundle_dir.path().join("config.json"))
            .context("writing the bundle's config.json")?;

        let id = container_id();
        // Declared after `stubs`: dropped (container deleted) before the stubs are removed.
        let _container = ContainerGuard::start(&self.path, &id, bundle_dir.path())?;
        let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .context("creating the output pipe")?;
        let mut child = Command::new(&self.path)
            .args(["run", "--bundle"])
            .arg(bundle_dir.path())
            .arg(&id)
            .stdin(Stdio::null())
            .stdout(Stdio::from(writer.try_clone()?))
            .stderr(Stdio::from(writer))
            .spawn()
            .with_context(|| format!("starting {}", self.path.display()))?;
        let mut tail = Tail::default();
        let read_result = pump(reader, |chunk| {
            tail.push(chunk);
            output(chunk);
        });
        let status = child.wait().context("waiting for the OCI runtime")?;
        read_result.context("reading the step's output")?;
        let exit_code = match (status.code(), status.signal()) {
            (Some(code), _) => code,
            (None, Some(signal)) => 128 + signal,
            (None, None) => bail!(
                "{} ended with an unknown status {status}",
                self.path.display()
            ),
        };
        Ok(RunOutcome {
            exit_code,
            tail: tail.finish(),
        })
    }
}

fn pump(reader: std::os::fd::OwnedFd, mut sink: impl FnMut(&[u8])) -> std::io::Result<()> {
    let mut reader = std::fs::File::from(reader);
    let mut buf = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => sink(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes `/etc/hosts` into the bundle and picks the host's resolv.conf (or an empty one).
fn host_files(bundle: &Path, hostname: &str) -> Result<HostFiles> {
    let hosts = bundle.join("hosts");
    std::fs::write(&hosts, bundle::hosts_file(hostname))
        .context("writing the step's /etc/hosts")?;
    let resolv_conf = match std::fs::canonicalize("/etc/resolv.conf") {
        Ok(path) if path.is_file() => path,
        _ => {
            let empty = bundle.join("resolv.conf");
            std::fs::write(&empty, "").context("writing an empty resolv.conf")?;
            empty
        }
    };
    Ok(HostFiles { resolv_conf, hosts })
}

/// A container id unique on this host: pid, a per-process counter and the time.
fn container_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "skiff-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Deletes the container when dropped; a watchdog does it if this process dies first.
struct ContainerGuard {
    runtime: PathBuf,
    id: String,
    watchdog: Child,
}

impl ContainerGuard {
    fn start(runtime: &Path, id: &str, bundle: &Path) -> Result<ContainerGuard> {
        let watchdog = Command::new("/bin/sh")
            .args(["-c", r#"read -r _; "$0" delete -f "$1"; rm -rf -- "$2""#])
            .arg(runtime)
            .arg(id)
            .arg(bundle)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group: a terminal's Ctrl-C must not kill it before it cleans up.
            .process_group(0)
            .spawn()
            .context("starting the container cleanup watchdog (/bin/sh)")?;
        Ok(ContainerGuard {
            runtime: runtime.to_path_buf(),
            id: id.to_owned(),
            watchdog,
        })
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        // Nothing to report to from a destructor: a container that is already gone is fine.
        let _ = Command::new(&self.runtime)
            .args(["delete", "-f", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}

/// `name` itself when it is a path, else the first match in `PATH`, `/usr/sbin`, `/sbin`.
fn find_binary(name: &str) -> Option<PathBuf> {
    if name.contains('/') {
        let path = PathBuf::from(name);
        return path.is_file().then_some(path);
    }
    let path_var = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path_var)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// Runs `true` from the host's `/usr` in an otherwise empty rootfs, through the same bundle
/// code as real steps, so a runtime that cannot run containers here is found up front.
fn probe(path: &Path) -> Result<()> {
    let rootfs = tempfile::Builder::new().prefix("skiff-probe-").tempdir()?;
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
        args: vec!["true".into()],
        env: vec!["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()],
        cwd: "/".into(),
        mounts,
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
            outcome.tail.join(" | ")
        );
    }
    Ok(())
}
