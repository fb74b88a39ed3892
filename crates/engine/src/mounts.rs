//! `RUN --mount`: turning each typed mount into something the sandbox can mount, plus what
//! it contributes to the step's cache key.
//!
//! - `bind`: a directory or file of the context, a stage or an image; read-only unless
//!   `rw`, and then writes go to a throwaway copy.
//! - `cache`: a directory in the store (`cache-mounts/`) that persists across builds, empty
//!   at first or a copy of `from`/`source`; its contents never enter a layer or the key.
//! - `tmpfs`: an empty tmpfs.
//! - `secret`: a `--secret` as a file (default `/run/secrets/<id>`, kept in `/dev/shm` while
//!   the step runs) and/or an environment variable; the value never enters a layer, the
//!   history or the key.
//! - `ssh`: a `--ssh` agent as a socket (default `/run/buildkit/ssh_agent.N`, mode 0600) through
//!   a proxy of its own (see [`crate::ssh`]); the first one is `$SSH_AUTH_SOCK`. The host's
//!   socket path never enters the key, the history or a layer. The relay is started only
//!   when the step runs ([`Prepared::start_ssh`]): a cached step needs no agent.

use crate::build::Shared;
use crate::rootfs::WorkDir;
use crate::sources::SourceTree;
use crate::ssh::{AgentProxy, SocketAccess, SshAgent};
use crate::state::ImageState;
use crate::view::View;
use anyhow::{anyhow, bail, Context as _, Result};
use sha2::{Digest as _, Sha256};
use skiff_frontend::ast::Heredoc;
use skiff_frontend::graph::Source;
use skiff_frontend::instructions::{heredoc_text, Mount as TypedMount, MountType, Sharing};
use skiff_sandbox::{Mount, MountKind};
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Where a heredoc script with a shebang is mounted for execution (as BuildKit does).
pub const HEREDOC_DIR: &str = "/dev/pipes/";

/// The mounts of one RUN, ready for the sandbox; keeps what backs them alive.
pub struct Prepared {
    /// The sandbox mounts, in order.
    pub mounts: Vec<Mount>,
    /// Extra environment (`type=secret,env=NAME`): passed to the process, never keyed.
    pub env: Vec<String>,
    /// What the mounts add to the cache key.
    pub key_parts: Vec<String>,
    _views: Vec<View>,
    _dirs: Vec<WorkDir>,
    _locks: Vec<File>,
    /// The ssh mounts, started by [`Prepared::start_ssh`] only when the step runs.
    ssh: Vec<PendingSsh>,
}

/// An ssh mount whose agent relay is not started yet: a cached step needs no agent (as in
/// BuildKit, where a cache hit never asks the client's session for one).
struct PendingSsh {
    id: String,
    agent: Option<SshAgent>,
    access: SocketAccess,
    target: String,
    required: bool,
}

impl Prepared {
    /// Starts the relays of this RUN's ssh mounts, for a step that is about to run: the mounts
    /// to add to the sandbox's, and the relays, which must live until the step ends. Fails when
    /// a `required` mount's agent was not given with `--ssh`.
    pub fn start_ssh(&self) -> Result<(Vec<Mount>, Vec<AgentProxy>)> {
        let (mut mounts, mut relays) = (Vec::new(), Vec::new());
        for pending in &self.ssh {
            let Some(agent) = &pending.agent else {
                if pending.required {
                    let id = &pending.id;
                    bail!(
                        "ssh agent \"{id}\" is required by RUN --mount=type=ssh but was not \
                         given: pass --ssh {id}=SOCKET (or --ssh {id}=KEY_FILE; --ssh default \
                         forwards $SSH_AUTH_SOCK)"
                    );
                }
                continue;
            };
            let proxy = AgentProxy::start(agent, pending.access)?;
            mounts.push(Mount {
                destination: pending.target.clone(),
                kind: MountKind::Bind {
                    source: proxy.socket().to_path_buf(),
                    readonly: true,
                },
            });
            relays.push(proxy);
        }
        Ok((mounts, relays))
    }
}

/// Prepares `mounts` (already expanded) for a RUN on top of `state`.
pub fn prepare(
    shared: &Shared,
    state: &ImageState,
    mounts: &[TypedMount],
    heredocs: &[Heredoc],
) -> Result<Prepared> {
    let mut p = Prepared {
        mounts: Vec::new(),
        env: Vec::new(),
        key_parts: Vec::new(),
        _views: Vec::new(),
        _dirs: Vec::new(),
        _locks: Vec::new(),
        ssh: Vec::new(),
    };
    let mut ssh_index = 0;
    for m in mounts {
        let target = m
            .target
            .as_ref()
            .map(|w| crate::stage::absolute(&state.config.config.working_dir, &w.value));
        match m.kind {
            MountType::Bind => bind(shared, &mut p, m, target)?,
            MountType::Cache => cache(shared, &mut p, m, target)?,
            MountType::Tmpfs => {
                let target = target.ok_or_else(|| anyhow!("--mount=type=tmpfs needs a target"))?;
                p.key_parts.push(format!("tmpfs {target} {:?}", m.size));
                p.mounts.push(Mount {
                    destination: target,
                    kind: MountKind::Tmpfs { size: m.size },
                });
            }
            MountType::Secret => secret(shared, &mut p, m, target)?,
            MountType::Ssh => {
                ssh(shared, state, &mut p, m, target, ssh_index)?;
                ssh_index += 1;
            }
        }
    }
    if let [doc] = heredocs {
        let body = heredoc_text(doc);
        if body.starts_with("#!") {
            let dir = WorkDir::new(&shared.store, "heredoc-")?;
            let file = dir.path().join(&doc.name);
            fs::write(&file, body.as_bytes())?;
            fs::set_permissions(&file, fs::Permissions::from_mode(0o755))?;
            p.mounts.push(Mount {
                destination: HEREDOC_DIR.trim_end_matches('/').to_string(),
                kind: MountKind::Bind {
                    source: dir.path().to_path_buf(),
                    readonly: true,
                },
            });
            p._dirs.push(dir);
        }
    }
    Ok(p)
}

/// Where a mount's files come from: the host path of `source` inside the context or a
/// `from` (named context, stage or image), plus what identifies it in the cache key.
/// Mounted views are kept alive in `p`.
fn resolve_source(
    shared: &Shared,
    p: &mut Prepared,
    m: &TypedMount,
    source: &str,
) -> Result<(PathBuf, String)> {
    let tree = match &m.from {
        None => shared.context_tree(&[])?,
        Some(from) => match shared.named_context_dir(&from.value) {
            Some(dir) => SourceTree {
                root: dir,
                ignore: None,
                keep_owner: false,
                label: from.value.clone(),
            },
            None => {
                let state = match shared.plan.source(&from.value, true) {
                    Source::Stage(i) => shared.stage_result(i)?,
                    Source::Image(r) => shared.image_state(&r)?,
                    Source::BadIndex(n) => bail!("invalid stage index {n} in --mount from"),
                };
                let view = View::mount(&shared.store, &state.layers)?;
                let path = crate::rootpath::resolve(view.root(), source, true)?;
                p._views.push(view);
                return Ok((path, format!("{source} from {}", state.key)));
            }
        },
    };
    let sel = tree.select(source)?;
    let key = format!("{source} {}", tree.checksum(&sel)?);
    Ok((crate::rootpath::resolve(&tree.root, source, true)?, key))
}

fn bind(shared: &Shared, p: &mut Prepared, m: &TypedMount, target: Option<String>) -> Result<()> {
    let target = target.ok_or_else(|| anyhow!("--mount=type=bind needs a target"))?;
    let source = m
        .source
        .as_ref()
        .map(|w| w.value.clone())
        .unwrap_or_else(|| "/".into());
    let (host_path, key) = resolve_source(shared, p, m, &source)?;
    p.key_parts
        .push(format!("bind {target} {key} ro={}", m.readonly));
    if !host_path.exists() {
        bail!("--mount source \"{source}\" does not exist");
    }
    let host_path = if m.readonly {
        host_path
    } else {
        // rw: the RUN may write, but the writes are thrown away (as in BuildKit).
        let dir = WorkDir::new(&shared.store, "bind-rw-")?;
        let copy = dir.path().join("data");
        copy_tree(&host_path, &copy)?;
        p._dirs.push(dir);
        copy
    };
    p.mounts.push(Mount {
        destination: target,
        kind: MountKind::Bind {
            source: host_path,
            readonly: m.readonly,
        },
    });
    Ok(())
}

/// `cp -a SRC DEST` (DEST must not exist): a file or a whole tree with owners, modes, links.
fn copy_tree(src: &std::path::Path, dest: &std::path::Path) -> Result<()> {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dest)
        .status()
        .context("running cp -a to copy a mount source")?;
    if !status.success() {
        bail!(
            "copying the mount source {} to {} failed",
            src.display(),
            dest.display()
        );
    }
    Ok(())
}

/// A cache mount: a directory under the store's `cache-mounts/` named after its id (and its
/// `from` source, like BuildKit, which keys a cache with a base by both). It is created on
/// first use, empty with `mode`/`uid`/`gid`, or as a copy of the `from`/`source` directory; its
/// contents persist across builds and never enter a layer or the cache key.
fn cache(shared: &Shared, p: &mut Prepared, m: &TypedMount, target: Option<String>) -> Result<()> {
    let target = target.ok_or_else(|| anyhow!("--mount=type=cache needs a target"))?;
    let id =
        m.id.as_ref()
            .map(|w| w.value.clone())
            .unwrap_or_else(|| target.clone());
    let seed = match &m.from {
        Some(_) => {
            let source = m
                .source
                .as_ref()
                .map(|w| w.value.clone())
                .unwrap_or_else(|| "/".into());
            let (path, key) = resolve_source(shared, p, m, &source)?;
            if !path.is_dir() {
                bail!(
                    "--mount=type=cache source \"{source}\" is not a directory in the from source"
                );
            }
            Some((path, key))
        }
        None => None,
    };
    let base = shared.store.cache_mounts_dir();
    let naming = match &seed {
        Some((_, key)) => format!("{id}\0{key}"),
        None => id.clone(),
    };
    let name = hex::encode(&Sha256::digest(naming.as_bytes())[..12]);
    let dir = base.join(&name);
    let lock = File::create(base.join(format!("{name}.lock")))?;
    let dir = match m.sharing {
        Sharing::Shared => dir,
        Sharing::Locked => {
            rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
            p._locks.push(lock);
            dir
        }
        Sharing::Private => {
            if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_ok()
            {
                p._locks.push(lock);
                dir
            } else {
                let tmp = WorkDir::new(&shared.store, "cache-private-")?;
                let d = tmp.path().join("data");
                p._dirs.push(tmp);
                d
            }
        }
    };
    if !dir.exists() {
        let seeding = shared.store.temp_dir("cache-mount")?;
        let tmp = seeding.path().join("data");
        match &seed {
            Some((source, _)) => copy_tree(source, &tmp)?,
            None => {
                fs::create_dir_all(&tmp)?;
                fs::set_permissions(&tmp, fs::Permissions::from_mode(m.mode.unwrap_or(0o755)))?;
                std::os::unix::fs::chown(&tmp, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))?;
            }
        }
        if fs::rename(&tmp, &dir).is_err() {
            // Another build created it meanwhile: use theirs.
            let _ = fs::remove_dir_all(&tmp);
        }
    }
    let from_key = seed.map(|(_, key)| key).unwrap_or_default();
    p.key_parts
        .push(format!("cache {target} id={id} from={from_key}"));
    p.mounts.push(Mount {
        destination: target,
        kind: MountKind::Bind {
            source: dir,
            readonly: m.readonly,
        },
    });
    Ok(())
}

fn secret(shared: &Shared, p: &mut Prepared, m: &TypedMount, target: Option<String>) -> Result<()> {
    let id = match (&m.id, &target) {
        (Some(id), _) => id.value.clone(),
        (None, Some(t)) => t.rsplit('/').next().unwrap_or_default().to_string(),
        (None, None) => bail!("--mount=type=secret needs an id or a target"),
    };
    let Some(secret) = shared.options.secrets.iter().find(|s| s.id == id) else {
        if m.required {
            bail!("secret \"{id}\" is required but was not given: pass --secret id={id},src=FILE (or env=VAR)");
        }
        return Ok(());
    };
    let env_name = m.env.as_ref().map(|w| w.value.clone());
    p.key_parts
        .push(format!("secret {id} target={target:?} env={env_name:?}"));
    if let Some(name) = &env_name {
        p.env
            .push(format!("{name}={}", String::from_utf8_lossy(&secret.value)));
    }
    if env_name.is_none() || target.is_some() {
        let target = target.unwrap_or_else(|| format!("/run/secrets/{id}"));
        let dir = secret_dir(shared)?;
        let file = dir.path().join("secret");
        fs::write(&file, &secret.value)?;
        fs::set_permissions(&file, fs::Permissions::from_mode(m.mode.unwrap_or(0o400)))?;
        std::os::unix::fs::chown(&file, Some(m.uid.unwrap_or(0)), Some(m.gid.unwrap_or(0)))?;
        p.mounts.push(Mount {
            destination: target,
            kind: MountKind::Bind {
                source: file,
                readonly: true,
            },
        });
        p._dirs.push(dir);
    }
    Ok(())
}

/// An ssh mount, the `index`-th of the RUN: the `--ssh` agent with the mount's id relayed by a
/// proxy socket bound at the target. As in BuildKit, the first ssh mount's target becomes
/// `$SSH_AUTH_SOCK` unless the image's environment sets it, and an agent that was not given
/// fails the step only when the mount is `required` (otherwise the mount is left out).
fn ssh(
    shared: &Shared,
    state: &ImageState,
    p: &mut Prepared,
    m: &TypedMount,
    target: Option<String>,
    index: usize,
) -> Result<()> {
    let id =
        m.id.as_ref()
            .map(|w| w.value.clone())
            .unwrap_or_else(|| crate::ssh::DEFAULT_ID.to_string());
    let target = target.unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{index}"));
    let access = SocketAccess {
        mode: m.mode.unwrap_or(0o600),
        uid: m.uid.unwrap_or(0),
        gid: m.gid.unwrap_or(0),
    };
    let env_has_sock = (state.config.config.env.iter()).any(|e| e.starts_with("SSH_AUTH_SOCK="));
    if index == 0 && !env_has_sock {
        p.env.push(format!("SSH_AUTH_SOCK={target}"));
    }
    p.key_parts.push(format!(
        "ssh {target} id={id} mode={:o} uid={} gid={} required={}",
        access.mode, access.uid, access.gid, m.required
    ));
    p.ssh.push(PendingSsh {
        agent: shared.options.ssh.iter().find(|a| a.id == id).cloned(),
        id,
        access,
        target,
        required: m.required,
    });
    Ok(())
}

/// Where a secret file waits while its step runs: in memory (`/dev/shm`, a tmpfs on Linux
/// hosts) when it is there, like BuildKit's tmpfs for secrets, so the value does not touch a
/// disk; else a scratch dir in the store. Removed after the step either way.
fn secret_dir(shared: &Shared) -> Result<WorkDir> {
    match WorkDir::new_in(std::path::Path::new("/dev/shm"), "skiff-secret-") {
        Ok(dir) => Ok(dir),
        Err(_) => WorkDir::new(&shared.store, "secret-"),
    }
}
