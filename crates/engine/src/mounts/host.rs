//! Materializing planned `RUN --mount`s on the host, when the step runs: each function
//! does one side effect and keeps what backs the mount alive in [`Materialized`].

use crate::scratch::WorkDir;
use crate::ssh::{AgentProxy, SocketAccess, SshAgent};
use crate::view::View;
use anyhow::{bail, Context as _, Result};
use oci_spec::image::Descriptor;
use skiff_frontend::instructions::Sharing;
use skiff_image::Store;
use skiff_sandbox::{Mount, MountKind};
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Files a mount reads, on the host.
#[derive(Clone, Debug)]
pub(super) enum HostSource {
    /// A path in the context or a named context.
    Path(PathBuf),
    /// A path in a stage's or an image's layers (mounted when the step runs).
    Layers {
        layers: Vec<Descriptor>,
        path: String,
    },
}

/// Owner and permission bits of something a mount creates.
#[derive(Clone, Copy, Debug)]
pub(super) struct FileAccess {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A cache mount's directory under the store's `cache-mounts/`.
#[derive(Clone, Debug)]
pub(super) struct CacheDir {
    /// Its name (a hash of the id and the seed's identity).
    pub name: String,
    /// The mount's id (for the shared cache's records).
    pub id: String,
    pub sharing: Sharing,
    pub readonly: bool,
    /// Of a new, empty cache directory.
    pub access: FileAccess,
}

/// The mounts of a RUN that is about to run, and what backs them (views, copies, locks,
/// secret files, ssh relays), released when this is dropped after the step.
#[derive(Default)]
pub struct Materialized {
    /// The sandbox mounts, in order.
    pub mounts: Vec<Mount>,
    _views: Vec<View>,
    _dirs: Vec<WorkDir>,
    _locks: Vec<File>,
    _relays: Vec<AgentProxy>,
}

impl Materialized {
    /// The host path of `source`, mounting a stage's or an image's layers when needed.
    pub(super) fn host_path(&mut self, store: &Store, source: &HostSource) -> Result<PathBuf> {
        match source {
            HostSource::Path(path) => Ok(path.clone()),
            HostSource::Layers { layers, path } => {
                let view = View::mount(store, layers)?;
                let resolved = crate::rootpath::resolve(view.root(), path, true)?;
                self._views.push(view);
                Ok(resolved)
            }
        }
    }

    /// A bind mount of `path`; with `rw`, of a throwaway copy of it (as in BuildKit).
    pub(super) fn bind(
        &mut self,
        store: &Store,
        target: &str,
        path: PathBuf,
        rw: bool,
    ) -> Result<()> {
        let source = if rw {
            let dir = WorkDir::new(store, "bind-rw-")?;
            let copy = dir.path().join("data");
            copy_tree(&path, &copy)?;
            self._dirs.push(dir);
            copy
        } else {
            path
        };
        self.mounts.push(Mount {
            destination: target.to_string(),
            kind: MountKind::Bind {
                source,
                readonly: !rw,
            },
        });
        Ok(())
    }

    /// A cache mount: created on first use (empty with its mode and owner, or as a copy of
    /// `seed`), locked as its `sharing` says while the step runs.
    pub(super) fn cache(
        &mut self,
        store: &Store,
        target: &str,
        cache: &CacheDir,
        seed: Option<&Path>,
    ) -> Result<()> {
        let base = store.cache_mounts_dir();
        let name = &cache.name;
        let dir = base.join(name);
        let lock = File::create(base.join(format!("{name}.lock")))?;
        let dir = match cache.sharing {
            Sharing::Shared => dir,
            Sharing::Locked => {
                rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
                self._locks.push(lock);
                dir
            }
            Sharing::Private => {
                if rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                    .is_ok()
                {
                    self._locks.push(lock);
                    dir
                } else {
                    let tmp = WorkDir::new(store, "cache-private-")?;
                    let d = tmp.path().join("data");
                    self._dirs.push(tmp);
                    d
                }
            }
        };
        if !dir.exists() {
            let seeding = store.temp_dir("cache-mount")?;
            let tmp = seeding.path().join("data");
            match seed {
                Some(source) => copy_tree(source, &tmp)?,
                None if crate::remote_cache::seed_cache_mount(store, name, &tmp) => {}
                None => {
                    let a = cache.access;
                    fs::create_dir_all(&tmp)?;
                    fs::set_permissions(&tmp, fs::Permissions::from_mode(a.mode))?;
                    std::os::unix::fs::chown(&tmp, Some(a.uid), Some(a.gid))?;
                }
            }
            if fs::rename(&tmp, &dir).is_err() {
                // Another build created it meanwhile: use theirs.
                let _ = fs::remove_dir_all(&tmp);
            }
        }
        self.mounts.push(Mount {
            destination: target.to_string(),
            kind: MountKind::Bind {
                source: dir,
                readonly: cache.readonly,
            },
        });
        Ok(())
    }

    /// An empty tmpfs.
    pub(super) fn tmpfs(&mut self, target: &str, size: Option<u64>) {
        self.mounts.push(Mount {
            destination: target.to_string(),
            kind: MountKind::Tmpfs { size },
        });
    }

    /// A secret as a read-only file, kept where [`secret_dir`] says while the step runs.
    pub(super) fn secret_file(
        &mut self,
        store: &Store,
        target: &str,
        value: &[u8],
        access: FileAccess,
    ) -> Result<()> {
        let dir = secret_dir(store)?;
        let file = dir.path().join("secret");
        fs::write(&file, value)?;
        fs::set_permissions(&file, fs::Permissions::from_mode(access.mode))?;
        std::os::unix::fs::chown(&file, Some(access.uid), Some(access.gid))?;
        self.mounts.push(Mount {
            destination: target.to_string(),
            kind: MountKind::Bind {
                source: file,
                readonly: true,
            },
        });
        self._dirs.push(dir);
        Ok(())
    }

    /// An ssh agent relayed by a proxy socket bound at `target`.
    pub(super) fn ssh(
        &mut self,
        agent: &SshAgent,
        access: SocketAccess,
        target: &str,
    ) -> Result<()> {
        let proxy = AgentProxy::start(agent, access)?;
        self.mounts.push(Mount {
            destination: target.to_string(),
            kind: MountKind::Bind {
                source: proxy.socket().to_path_buf(),
                readonly: true,
            },
        });
        self._relays.push(proxy);
        Ok(())
    }

    /// A heredoc script with a shebang, as an executable file `name` in the directory
    /// `target`.
    pub(super) fn heredoc(
        &mut self,
        store: &Store,
        target: &str,
        name: &str,
        body: &str,
    ) -> Result<()> {
        let dir = WorkDir::new(store, "heredoc-")?;
        let file = dir.path().join(name);
        fs::write(&file, body.as_bytes())?;
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755))?;
        self.mounts.push(Mount {
            destination: target.to_string(),
            kind: MountKind::Bind {
                source: dir.path().to_path_buf(),
                readonly: true,
            },
        });
        self._dirs.push(dir);
        Ok(())
    }
}

/// `cp -a SRC DEST` (DEST must not exist): a file or a whole tree with owners, modes, links.
fn copy_tree(src: &Path, dest: &Path) -> Result<()> {
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

/// Where a secret file waits while its step runs: `$SKIFF_SECRET_DIR` when set, else in
/// memory (`/dev/shm`, a tmpfs on Linux hosts) when it is there, like BuildKit's tmpfs for
/// secrets, so the value does not touch a disk; else a scratch dir in the store. Removed
/// after the step either way.
fn secret_dir(store: &Store) -> Result<WorkDir> {
    if let Some(dir) = std::env::var_os("SKIFF_SECRET_DIR") {
        return WorkDir::new_in(Path::new(&dir), "skiff-secret-");
    }
    match WorkDir::new_in(Path::new("/dev/shm"), "skiff-secret-") {
        Ok(dir) => Ok(dir),
        Err(_) => WorkDir::new(store, "secret-"),
    }
}
