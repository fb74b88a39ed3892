//! `--ssh` and `RUN --mount=type=ssh`: SSH agents forwarded into RUN steps, as BuildKit's
//! `session/sshforward` does.
//!
//! A RUN never sees the host's agent socket itself: each ssh mount gets a proxy socket of its
//! own (in a private host directory, with the mount's `mode`/`uid`/`gid`) that relays every
//! connection to the agent. `--ssh ID=KEY_FILE[,KEY_FILE…]` has no agent to relay to, so one is
//! started from the host's `ssh-agent` for the step, loaded with `ssh-add`, and stopped after it.

use crate::scratch::WorkDir;
use anyhow::{anyhow, bail, Context as _, Result};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The id a `--ssh` or an ssh mount has when none is written.
pub const DEFAULT_ID: &str = "default";

/// One `--ssh` of the build: the id `RUN --mount=type=ssh,id=…` names and its agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshAgent {
    /// The id (`default` unless given).
    pub id: String,
    /// Where the agent is.
    pub source: SshSource,
}

/// What a `--ssh` forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SshSource {
    /// A running agent's socket.
    Socket(PathBuf),
    /// Private key files: an agent holding them is started for each step that mounts them.
    Keys(Vec<PathBuf>),
}

impl SshAgent {
    /// Parses `default|ID[=SOCKET|KEY_FILE[,KEY_FILE…]]` as `docker build --ssh` does, with
    /// `$SSH_AUTH_SOCK` as the socket when no path is given, and checks the paths now so that a
    /// wrong one fails the build before any step.
    pub fn parse(spec: &str) -> Result<SshAgent> {
        let (id, paths) = spec.split_once('=').unwrap_or((spec, ""));
        if id.is_empty() {
            bail!("--ssh {spec}: the id is empty; use --ssh default or --ssh ID=SOCKET|KEY_FILE");
        }
        let paths: Vec<PathBuf> = paths
            .split(',')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
        let paths = if paths.is_empty() {
            match std::env::var_os("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
                Some(sock) => vec![PathBuf::from(sock)],
                None => bail!(
                    "--ssh {spec}: no socket given and $SSH_AUTH_SOCK is not set: start an agent \
                     (eval $(ssh-agent) && ssh-add) or give --ssh {id}=/path/to/agent.sock or \
                     --ssh {id}=/path/to/key"
                ),
            }
        } else {
            paths
        };
        let mut sockets = 0;
        for path in &paths {
            let meta = std::fs::metadata(path).with_context(|| {
                format!(
                    "--ssh {id}: {} does not exist or cannot be read: give an agent socket or \
                     a private key file",
                    path.display()
                )
            })?;
            if meta.file_type().is_socket() {
                sockets += 1;
            } else if !meta.is_file() {
                bail!(
                    "--ssh {id}: {} is neither an agent socket nor a key file",
                    path.display()
                );
            }
        }
        let source = match (sockets, paths.len()) {
            (0, _) => {
                skiff_sandbox::find_binary("ssh-agent")
                    .and(skiff_sandbox::find_binary("ssh-add"))
                    .ok_or_else(|| {
                        anyhow!(
                            "--ssh {id}: key files need the host's ssh-agent and ssh-add (package \
                         openssh-client), which are not on PATH: install them or pass the socket \
                         of a running agent (--ssh {id}=$SSH_AUTH_SOCK)"
                        )
                    })?;
                SshSource::Keys(paths)
            }
            (1, 1) => SshSource::Socket(paths.into_iter().next().unwrap_or_default()),
            _ => bail!(
                "--ssh {id}: give either one agent socket or key files, not several sockets or a \
                 mix"
            ),
        };
        Ok(SshAgent {
            id: id.to_string(),
            source,
        })
    }
}

/// How the socket an ssh mount shows must look inside the container.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketAccess {
    /// Permission bits (BuildKit's default 0600).
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// A proxy socket that relays to one agent while a step runs; stops (and removes its socket
/// and any agent started for it) on drop.
pub struct AgentProxy {
    socket: PathBuf,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    // Dropped after the thread has stopped, in this order: the key agent, then the directory.
    _keys: Option<KeyAgent>,
    _dir: WorkDir,
}

impl AgentProxy {
    /// Starts a proxy for `agent`, its socket made with `access`.
    pub fn start(agent: &SshAgent, access: SocketAccess) -> Result<AgentProxy> {
        let dir = WorkDir::new_in(&std::env::temp_dir(), "skiff-ssh-")?;
        let (upstream, keys) = match &agent.source {
            SshSource::Socket(path) => (path.clone(), None),
            SshSource::Keys(files) => {
                let keys = KeyAgent::start(&agent.id, dir.path(), files)?;
                (keys.socket.clone(), Some(keys))
            }
        };
        let socket = dir.path().join("proxy.sock");
        let listener = UnixListener::bind(&socket).with_context(|| {
            format!(
                "making the ssh proxy socket {} (set TMPDIR to a shorter path if it is too long)",
                socket.display()
            )
        })?;
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(access.mode))?;
        std::os::unix::fs::chown(&socket, Some(access.uid), Some(access.gid))?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            std::thread::spawn(move || accept_loop(&listener, &upstream, &stop))
        };
        Ok(AgentProxy {
            socket,
            stop,
            thread: Some(thread),
            _keys: keys,
            _dir: dir,
        })
    }

    /// The proxy socket on the host: what is bound at the mount's target.
    pub fn socket(&self) -> &Path {
        &self.socket
    }
}

impl Drop for AgentProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so that the loop sees `stop`.
        let _ = UnixStream::connect(&self.socket);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Relays each connection to `upstream` until `stop`; a connection the agent refuses is closed.
fn accept_loop(listener: &UnixListener, upstream: &Path, stop: &AtomicBool) {
    for client in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let client = match client {
            Ok(client) => client,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // A lasting error (out of file descriptors) must not spin a core.
            Err(_) => {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let Ok(agent) = UnixStream::connect(upstream) else {
            continue;
        };
        let (Ok(client2), Ok(agent2)) = (client.try_clone(), agent.try_clone()) else {
            continue;
        };
        std::thread::spawn(move || relay(client, agent));
        std::thread::spawn(move || relay(agent2, client2));
    }
}

/// Copies `from` to `to` until `from` ends, then ends `to`'s writing side.
fn relay(mut from: UnixStream, mut to: UnixStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = from.shutdown(Shutdown::Read);
}

/// An `ssh-agent` of the host holding `--ssh ID=KEY_FILE…` keys; killed on drop.
struct KeyAgent {
    child: Child,
    socket: PathBuf,
}

impl KeyAgent {
    /// Starts `ssh-agent -D` with its socket in `dir` and adds `files` with `ssh-add`.
    fn start(id: &str, dir: &Path, files: &[PathBuf]) -> Result<KeyAgent> {
        let socket = dir.join("agent.sock");
        let mut command = Command::new("ssh-agent");
        command
            .arg("-D")
            .arg("-a")
            .arg(&socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The agent holds decrypted keys: it must not outlive skiff, even after `kill -9`.
        // It is started and dropped by the same step thread, so the thread-scoped
        // parent-death signal fires only when skiff (or that thread) is gone.
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                rustix::process::set_parent_process_death_signal(Some(
                    rustix::process::Signal::KILL,
                ))
                .map_err(std::io::Error::from)
            });
        }
        let child = command
            .spawn()
            .with_context(|| format!("--ssh {id}: starting ssh-agent for the key files"))?;
        let mut agent = KeyAgent { child, socket };
        let deadline = Instant::now() + Duration::from_secs(10);
        while UnixStream::connect(&agent.socket).is_err() {
            if Instant::now() > deadline || agent.child.try_wait()?.is_some() {
                bail!("--ssh {id}: ssh-agent did not start (its socket never appeared)");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let out = Command::new("ssh-add")
            .args(files)
            .env("SSH_AUTH_SOCK", &agent.socket)
            .env("SSH_ASKPASS_REQUIRE", "never")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("--ssh {id}: running ssh-add"))?;
        if !out.status.success() {
            let _ = agent.child.kill();
            bail!(
                "--ssh {id}: ssh-add could not load the key files ({}): a key with a passphrase \
                 must be added to a running agent instead (ssh-add KEY, then --ssh {id}=$SSH_AUTH_SOCK)",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(agent)
    }
}

impl Drop for KeyAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_path_is_refused_with_the_id() {
        let err = SshAgent::parse("foo=/nonexistent/agent.sock").unwrap_err();
        let text = format!("{err:#}");
        assert!(text.contains("--ssh foo"), "{text}");
        assert!(text.contains("/nonexistent/agent.sock"), "{text}");
    }

    #[test]
    fn a_socket_is_forwarded_and_a_file_is_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("a.sock");
        let _listener = UnixListener::bind(&sock).unwrap();
        let agent = SshAgent::parse(&format!("git={}", sock.display())).unwrap();
        assert_eq!(agent.id, "git");
        assert_eq!(agent.source, SshSource::Socket(sock.clone()));
        let key = dir.path().join("id");
        std::fs::write(&key, "k").unwrap();
        let mixed = SshAgent::parse(&format!("x={},{}", sock.display(), key.display()));
        assert!(mixed.is_err());
        if skiff_sandbox::find_binary("ssh-agent").is_some()
            && skiff_sandbox::find_binary("ssh-add").is_some()
        {
            let keys = SshAgent::parse(&format!("x={}", key.display())).unwrap();
            assert_eq!(keys.source, SshSource::Keys(vec![key]));
        }
    }

    #[test]
    fn the_proxy_relays_both_ways_with_the_asked_mode() {
        let dir = tempfile::tempdir().unwrap();
        let upstream = dir.path().join("up.sock");
        let listener = UnixListener::bind(&upstream).unwrap();
        let echo = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        });
        let agent = SshAgent {
            id: "t".into(),
            source: SshSource::Socket(upstream),
        };
        let owner = std::fs::metadata(dir.path()).unwrap();
        let access = SocketAccess {
            mode: 0o640,
            uid: std::os::unix::fs::MetadataExt::uid(&owner),
            gid: std::os::unix::fs::MetadataExt::gid(&owner),
        };
        let proxy = AgentProxy::start(&agent, access).unwrap();
        let meta = std::fs::metadata(proxy.socket()).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o777, 0o640);
        let mut c = UnixStream::connect(proxy.socket()).unwrap();
        c.write_all(b"hello").unwrap();
        let mut back = [0u8; 5];
        c.read_exact(&mut back).unwrap();
        assert_eq!(&back, b"hello");
        echo.join().unwrap();
        let path = proxy.socket().to_path_buf();
        drop(proxy);
        assert!(!path.exists());
    }
}
