//! Running one step with an OCI runtime (see `runtime_select` for choosing it).

use crate::bundle::{self, HostFiles};
use crate::netns::{self, NetworkHelper, OwnNetwork};
use crate::rootfs_path::create_dir_all_in_rootfs;
use crate::spec::{Network, RunOutcome, RunSpec, Runtime};
use crate::stubs::MountStubs;
use crate::tail::Tail;
use anyhow::{bail, Context, Result};
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

impl Runtime {
    /// Runs `spec` to completion; each chunk of combined output is passed to `output` as it comes.
    ///
    /// The container gets its own mount, pid, uts and ipc namespaces, and a network namespace:
    /// its own connected through slirp4netns for [`Network::Isolated`] (see the `netns`
    /// module), one with only `lo` for [`Network::None`], the host's for [`Network::Host`].
    /// Then `/proc`, a minimal `/dev`, read-only `/sys`, an `/etc/resolv.conf` (the host's, or
    /// for its own network the host's without the resolvers it cannot reach) and a generated
    /// `/etc/hosts` with `spec.extra_hosts` (both read-only), then `spec.mounts` in order. Mount points missing from the rootfs are created and removed again
    /// afterwards (see the `stubs` module). The working directory is created if missing, owned by
    /// the user, and stays.
    ///
    /// Output: runc copies the step's stdout and stderr through two pipes of its own (as for
    /// BuildKit), so each stream keeps its order but their interleaving is not exact.
    ///
    /// Cleanup: `runc delete -f` runs when this returns, errs or unwinds. If the whole process
    /// dies (even by SIGKILL), a watchdog `sh` in its own process group sees its stdin pipe close
    /// and runs `runc delete -f`, which kills the container's init and so, through the pid
    /// namespace, every process of the step; it then removes the bundle dir. The network
    /// namespace's processes end with this process too (see the `netns` module).
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
        // Declared before the container guard: dropped (the namespace ended) after it.
        let network = match spec.network {
            Network::Isolated => Some(OwnNetwork::start(
                &NetworkHelper::required()?,
                &bundle_dir.path().join("slirp4netns.log"),
            )?),
            Network::None | Network::Host => None,
        };
        let files = host_files(
            bundle_dir.path(),
            spec,
            network.as_ref().map(|n| n.path().to_path_buf()),
        )?;
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
            .arg("--root")
            .arg(state_root(bundle_dir.path()))
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

/// Writes `/etc/hosts` into the bundle and picks the step's resolv.conf: the host's (or an
/// empty one), or for its own network one written from the host's.
fn host_files(bundle: &Path, spec: &RunSpec, netns: Option<PathBuf>) -> Result<HostFiles> {
    let hosts = bundle.join("hosts");
    std::fs::write(
        &hosts,
        bundle::hosts_file(&spec.hostname, &spec.extra_hosts),
    )
    .context("writing the step's /etc/hosts")?;
    let written = |text: &str| -> Result<PathBuf> {
        let path = bundle.join("resolv.conf");
        std::fs::write(&path, text).context("writing the step's resolv.conf")?;
        Ok(path)
    };
    let resolv_conf = match (spec.network, std::fs::canonicalize("/etc/resolv.conf")) {
        (Network::Isolated, _) => written(&netns::isolated_resolv_conf(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
        ))?,
        (_, Ok(path)) if path.is_file() => path,
        _ => written("")?,
    };
    Ok(HostFiles {
        resolv_conf,
        hosts,
        netns,
    })
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

/// The runtime's state directory for the container of `bundle`: inside the bundle, so that
/// it needs no system directory (`/run/runc` is root's; a rootless skiff cannot write there),
/// and goes with the bundle, even after a SIGKILL (the watchdog removes both).
fn state_root(bundle: &Path) -> PathBuf {
    bundle.join("state")
}

/// The containers this process runs now: runtime, state directory, id.
static RUNNING: Mutex<Vec<(PathBuf, PathBuf, String)>> = Mutex::new(Vec::new());

/// `kill -9` of every step container this process runs (a build being stopped: Ctrl-C, or a
/// step failing while others run); each step then ends as killed and cleans up as usual.
pub fn kill_running_steps() {
    let running = RUNNING.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for (runtime, root, id) in running {
        let _ = Command::new(runtime)
            .arg("--root")
            .arg(root)
            .args(["kill", &id, "KILL"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Deletes the container when dropped; a watchdog does it if this process dies first.
struct ContainerGuard {
    runtime: PathBuf,
    root: PathBuf,
    id: String,
    watchdog: Child,
}

impl ContainerGuard {
    fn start(runtime: &Path, id: &str, bundle: &Path) -> Result<ContainerGuard> {
        let root = state_root(bundle);
        std::fs::create_dir_all(&root)
            .with_context(|| format!("creating the runtime's state dir {}", root.display()))?;
        let watchdog = Command::new("/bin/sh")
            .args([
                "-c",
                r#"read -r _; "$0" --root "$2/state" delete -f "$1"; rm -rf -- "$2""#,
            ])
            .arg(runtime)
            .arg(id)
            .arg(bundle)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .env(netns::OWNER_VAR, std::process::id().to_string())
            // Its own process group: a terminal's Ctrl-C must not kill it before it cleans up.
            .process_group(0)
            .spawn()
            .context("starting the container cleanup watchdog (/bin/sh)")?;
        let guard = (runtime.to_path_buf(), root, id.to_owned());
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(guard.clone());
        Ok(ContainerGuard {
            runtime: guard.0,
            root: guard.1,
            id: guard.2,
            watchdog,
        })
    }
}

impl Drop for ContainerGuard {
    fn drop(&mut self) {
        // Nothing to report to from a destructor: a container that is already gone is fine.
        RUNNING
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|(_, _, id)| *id != self.id);
        let _ = Command::new(&self.runtime)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "-f", &self.id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.watchdog.kill();
        let _ = self.watchdog.wait();
    }
}
