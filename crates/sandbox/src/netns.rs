//! RUN's own network ([`Network::Isolated`](crate::Network::Isolated)): a network namespace
//! per step, connected to the outside through slirp4netns, a user-mode TCP/IP stack (what
//! rootless podman and buildah use), with the host's loopback unreachable.
//!
//! Per step: a *holder* process (`unshare --net sh`) makes the namespace and keeps it alive;
//! slirp4netns attaches to it, creates `tap0` (10.0.2.100/24, gateway 10.0.2.2, DNS forwarder
//! 10.0.2.3, MTU 65520, `lo` up) and relays its traffic through ordinary sockets of the host,
//! refusing the gateway's mapping of the host's 127.0.0.1 (`--disable-host-loopback`); the
//! container joins the namespace by path. Neither needs root of itself: a later rootless skiff
//! runs both inside its user namespace.
//!
//! Cleanup: both read their standard input from a *lifeline* pipe whose only writer is this
//! process. Dropping [`OwnNetwork`] closes it; so does this process's death, even by SIGKILL.
//! Either way the holder's `read` and slirp4netns's `--exit-fd` see end-of-file and they exit,
//! and the namespace goes with its last process.

use anyhow::{anyhow, bail, Context, Result};
use rustix::fd::OwnedFd;
use std::io::Read;
use std::net::IpAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// The helper's program name.
pub const HELPER: &str = "slirp4netns";

/// The Debian package that has it.
pub const HELPER_PACKAGE: &str = "slirp4netns";

/// The DNS forwarder slirp4netns answers on inside the step (its default `--cidr`).
pub const HELPER_DNS: &str = "10.0.2.3";

/// The environment variable every helper process of a step carries, holding the skiff
/// process's pid: what the leftovers checks of the tests look for.
pub const OWNER_VAR: &str = "SKIFF_STEP_OF";

/// slirp4netns, found on this machine.
#[derive(Clone, Debug)]
pub struct NetworkHelper {
    /// Path to the binary.
    pub path: PathBuf,
}

impl NetworkHelper {
    /// slirp4netns from `PATH` (or `/usr/sbin`, `/sbin`), looked up once per process.
    pub fn find() -> Option<NetworkHelper> {
        static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
        FOUND
            .get_or_init(|| crate::runtime_select::find_binary(HELPER))
            .clone()
            .map(|path| NetworkHelper { path })
    }

    /// [`NetworkHelper::find`], or the error a step that needs its own network fails with.
    pub fn required() -> Result<NetworkHelper> {
        NetworkHelper::find().ok_or_else(|| anyhow!("{}", missing_helper()))
    }

    /// Its version (`1.2.0`), as it reports it.
    pub fn version(&self) -> Option<String> {
        let out = Command::new(&self.path).arg("--version").output().ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let first = text.lines().next()?;
        Some(first.rsplit(' ').next().unwrap_or(first).to_string())
    }
}

/// What to do when no helper is installed.
pub fn missing_helper() -> String {
    format!(
        "RUN gets a network namespace of its own, connected through {HELPER}, which is not \
         installed: install Debian's {HELPER_PACKAGE} package (`apt-get install \
         {HELPER_PACKAGE}`); or give the steps the host's network with `skiff build \
         --network=host --allow network.host`, or none with `RUN --network=none`"
    )
}

/// A step's network namespace and its helper; both end when this is dropped.
pub(crate) struct OwnNetwork {
    /// `unshare --net sh`, the namespace's first process.
    holder: Option<Child>,
    /// slirp4netns.
    helper: Option<Child>,
    /// The write end of the lifeline; closing it ends both processes.
    lifeline: Option<OwnedFd>,
    /// `/proc/PID/ns/net` of the holder.
    path: PathBuf,
}

impl OwnNetwork {
    /// Makes the namespace and connects it; slirp4netns logs to `log` (read when it fails).
    pub(crate) fn start(helper: &NetworkHelper, log: &Path) -> Result<OwnNetwork> {
        let (life_read, life_write) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("creating a pipe")?;
        let unshare = crate::runtime_select::find_binary("unshare").context(
            "`unshare` (Debian's util-linux package) is needed to give RUN its own network",
        )?;
        let mut holder = helper_command(&unshare)
            .args(["--net", "--", "/bin/sh", "-c", "echo; read -r _"])
            .stdin(Stdio::from(life_read.try_clone()?))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {}", unshare.display()))?;
        let mut network = OwnNetwork {
            path: PathBuf::from(format!("/proc/{}/ns/net", holder.id())),
            holder: None,
            helper: None,
            lifeline: Some(life_write),
        };
        // One line once the namespace exists (end-of-file if unshare failed).
        if !read_one_byte(holder.stdout.take()) {
            let mut why = String::new();
            if let Some(mut err) = holder.stderr.take() {
                let _ = err.read_to_string(&mut why);
            }
            network.holder = Some(holder);
            bail!(
                "creating the step's network namespace failed: {}",
                why.trim()
            );
        }
        let pid = holder.id();
        network.holder = Some(holder);
        let log_file = std::fs::File::create(log).context("creating the helper's log")?;
        // Readiness on a pipe of its own: slirp4netns also chats on stdout ("sent tapfd=…"),
        // before it is ready and even when its child then fails (no /dev/net/tun access).
        let (ready_read, ready_write) =
            rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).context("creating a pipe")?;
        let mut command = helper_command(&helper.path);
        command
            .args([
                "--configure",
                "--mtu=65520",
                "--disable-host-loopback",
                "--enable-sandbox",
                "--enable-seccomp",
                "--exit-fd=0",
                "--ready-fd=3",
            ])
            .arg(pid.to_string())
            .arg("tap0")
            .stdin(Stdio::from(life_read))
            .stdout(Stdio::from(log_file.try_clone()?))
            .stderr(Stdio::from(log_file));
        pass_as_fd3(&mut command, &ready_write);
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", helper.path.display()))?;
        drop(ready_write);
        let ready = read_one_byte(Some(std::fs::File::from(ready_read)));
        network.helper = Some(child);
        if !ready {
            drop(network);
            let said = std::fs::read_to_string(log).unwrap_or_default();
            let last: Vec<&str> = said.lines().filter(|l| !l.trim().is_empty()).collect();
            bail!(
                "{HELPER} could not connect the step's network namespace: {}{}",
                last[last.len().saturating_sub(5)..].join(" | "),
                tun_hint(&said)
            );
        }
        Ok(network)
    }

    /// The namespace, for the container to join.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

/// How long the holder and slirp4netns may take to say they are ready.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Whether a byte came before end-of-file (and before [`READY_TIMEOUT`]: a helper that hangs
/// fails the step instead of hanging the build).
fn read_one_byte(pipe: Option<impl Read + std::os::fd::AsFd>) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let Some(mut pipe) = pipe else { return false };
    let deadline = std::time::Instant::now() + READY_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let timeout = Timespec {
            tv_sec: left.as_secs().try_into().unwrap_or(10),
            tv_nsec: left.subsec_nanos().into(),
        };
        let mut fds = [PollFd::new(&pipe, PollFlags::IN)];
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => return false,
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return false,
        }
    }
    let mut byte = [0u8; 1];
    loop {
        match pipe.read(&mut byte) {
            Ok(n) => return n == 1,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
}

impl Drop for OwnNetwork {
    fn drop(&mut self) {
        // End-of-file on both processes' stdin: they exit by themselves. slirp4netns takes
        // tens of milliseconds to (the kernel tears its tap device down), so they are waited
        // for on a thread of their own, not on the step's.
        self.lifeline.take();
        let children: Vec<Child> = [self.holder.take(), self.helper.take()]
            .into_iter()
            .flatten()
            .collect();
        let reap = move || {
            for mut child in children {
                let _ = child.wait();
            }
        };
        // Without a thread to be had, the children stay unreaped until skiff exits.
        let _ = std::thread::Builder::new()
            .name("skiff-netns-reaper".into())
            .spawn(reap);
    }
}

/// A helper process: its own process group (a terminal's Ctrl-C reaches skiff, which then
/// ends it in order), marked with [`OWNER_VAR`].
/// What to do when slirp4netns could not open `/dev/net/tun` (a rootless skiff on a machine
/// where it is not the usual mode 0666).
fn tun_hint(log: &str) -> String {
    if !log.contains("/dev/net/tun") {
        return String::new();
    }
    let mode = std::fs::metadata("/dev/net/tun")
        .map(|m| {
            format!(
                "{:o}",
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777
            )
        })
        .unwrap_or_else(|_| "missing".into());
    format!(
        ". RUN's own network needs /dev/net/tun open to this user (mode here: {mode}; Debian's \
         default is 0666): as root, `chmod 0666 /dev/net/tun` (and `modprobe tun` if it is \
         missing), or give the step --network=none, or --network=host with \
         --allow network.host"
    )
}

/// Makes `fd` the child's descriptor 3 (inherited across exec).
fn pass_as_fd3(command: &mut Command, fd: &OwnedFd) {
    use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd};
    let raw = fd.as_raw_fd();
    // SAFETY: between fork and exec only dup2/fcntl run (async-signal-safe, no allocation);
    // the OwnedFd made for descriptor 3 is forgotten, never closed here.
    unsafe {
        command.pre_exec(move || {
            let source = BorrowedFd::borrow_raw(raw);
            if raw == 3 {
                return rustix::io::fcntl_setfd(source, rustix::io::FdFlags::empty())
                    .map_err(std::io::Error::from);
            }
            let mut target = OwnedFd::from_raw_fd(3);
            let result = rustix::io::dup2(source, &mut target);
            std::mem::forget(target);
            result.map_err(std::io::Error::from)
        });
    }
}

fn helper_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .env(OWNER_VAR, std::process::id().to_string())
        .process_group(0);
    command
}

/// The `/etc/resolv.conf` a step in its own network sees, from the host's `host` (as BuildKit
/// and podman do): the host's file without its loopback nameservers (unreachable from the
/// step) and its IPv6 ones (the step has no IPv6); when no nameserver is left, slirp4netns's
/// forwarder [`HELPER_DNS`], which asks the host's resolvers in its place.
pub(crate) fn isolated_resolv_conf(host: &str) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        if let Some(addr) = nameserver(line) {
            match addr.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) if !v4.is_loopback() => servers += 1,
                _ => continue,
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    if servers == 0 {
        out.push_str(&format!("nameserver {HELPER_DNS}\n"));
    }
    out
}

/// The nameservers a step in its own network is given, from the host's `/etc/resolv.conf`
/// (for `skiff info`).
pub fn isolated_nameservers() -> Vec<String> {
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    isolated_resolv_conf(&host)
        .lines()
        .filter_map(nameserver)
        .map(str::to_string)
        .collect()
}

/// The address of a `nameserver ADDR` line.
fn nameserver(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    (words.next()? == "nameserver")
        .then(|| words.next())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_ipv6_nameservers_give_way_to_the_forwarder() {
        let host = "# generated\nnameserver 127.0.0.53\noptions edns0\nsearch example.test\n";
        assert_eq!(
            isolated_resolv_conf(host),
            "# generated\noptions edns0\nsearch example.test\nnameserver 10.0.2.3\n"
        );
        let mixed = "nameserver 127.0.0.1\nnameserver 192.0.2.53\nnameserver fd00::53\n";
        assert_eq!(isolated_resolv_conf(mixed), "nameserver 192.0.2.53\n");
        assert_eq!(isolated_resolv_conf(""), "nameserver 10.0.2.3\n");
    }

    #[test]
    fn a_missing_helper_names_the_package_and_the_way_out() {
        let text = missing_helper();
        assert!(text.contains("apt-get install slirp4netns"), "{text}");
        assert!(
            text.contains("--network=host --allow network.host"),
            "{text}"
        );
    }
}
