//! `RUN --mount`: planned as pure values while the step's key is computed, materialized
//! (locks taken, directories copied or created, secret files written, ssh relays started)
//! only when the step actually runs, after the cache lookup missed. A cached `RUN` has no
//! side effect from its mounts.
//!
//! - `bind`: a directory or file of the context, a stage or an image; read-only unless
//!   `rw`, and then writes go to a throwaway copy (made when the step runs).
//! - `cache`: a directory in the store (`cache-mounts/`) that persists across builds, empty
//!   at first or a copy of `from`/`source`; its contents never enter a layer or the key.
//!   `sharing=locked` holds its lock while the step runs; `private` uses it when it is free
//!   and a throwaway directory when it is not.
//! - `tmpfs`: an empty tmpfs.
//! - `secret`: a `--secret` as a file (default `/run/secrets/<id>`, kept in `/dev/shm` while
//!   the step runs) and/or an environment variable; the value never enters a layer, the
//!   history or the key. A `required` secret that was not given fails the step when it runs.
//! - `ssh`: a `--ssh` agent as a socket (default `/run/buildkit/ssh_agent.N`, mode 0600) through
//!   a proxy of its own (see [`crate::ssh`]); the first one is `$SSH_AUTH_SOCK`. The host's
//!   socket path never enters the key, the history or a layer.

mod host;

use crate::inputs::{FromSource, FromUse, Inputs};
use crate::spec::{CacheSeed, CacheSharing, MountSpec, Origin};
use crate::ssh::{SocketAccess, SshAgent};
use crate::state::ImageState;
use crate::workspace::Workspace;
use anyhow::{anyhow, bail, Result};
use sha2::{Digest as _, Sha256};
use skiff_frontend::ast::Heredoc;
use skiff_frontend::instructions::{heredoc_text, Mount as TypedMount, MountType, Sharing};
use skiff_image::Store;

pub use host::Materialized;
use host::{CacheDir, FileAccess, HostSource};

/// Where a heredoc script with a shebang is mounted for execution (as BuildKit does).
pub const HEREDOC_DIR: &str = "/dev/pipes/";

/// The mounts of one RUN, planned: what the key covers, and what to do when it runs.
pub struct MountPlan {
    /// The mounts as the cache key covers them, in order.
    pub specs: Vec<MountSpec>,
    /// Extra environment (`type=secret,env=NAME`, `SSH_AUTH_SOCK`): passed to the process,
    /// never keyed (the secret's value) or keyed through its spec.
    pub env: Vec<String>,
    actions: Vec<Action>,
}

impl MountPlan {
    /// Notes the step's cache mounts for `--cache-to …,cache-mounts=true`, whether the step
    /// runs or comes from the cache: a fully cached build exports the same cache mounts as
    /// the build that ran the steps.
    pub fn note_cache_mounts(&self, store: &skiff_image::Store) {
        for action in &self.actions {
            if let Action::Cache { dir, .. } = action {
                crate::remote_cache::cache_mount_used(
                    store,
                    crate::remote_cache::CacheMountUse {
                        name: dir.name.clone(),
                        id: dir.id.clone(),
                        uid: dir.access.uid,
                        gid: dir.access.gid,
                        mode: dir.access.mode,
                    },
                );
            }
        }
    }
}

/// One thing to set up when the step runs.
enum Action {
    Bind {
        target: String,
        source: HostSource,
        display: String,
        rw: bool,
    },
    Cache {
        target: String,
        dir: CacheDir,
        /// Where a new cache's files come from, and the source as written.
        seed: Option<(HostSource, String)>,
    },
    Tmpfs {
        target: String,
        size: Option<u64>,
    },
    Secret {
        id: String,
        /// The file's target and value; `None` with `env` alone.
        file: Option<(String, Vec<u8>)>,
        given: bool,
        required: bool,
        mode: u32,
        uid: u32,
        gid: u32,
    },
    Ssh {
        id: String,
        agent: Option<SshAgent>,
        access: SocketAccess,
        target: String,
        required: bool,
    },
    Heredoc {
        target: String,
        name: String,
        body: String,
    },
}

/// What mounts are planned from: the options (secrets, ssh agents) and the build's inputs
/// (a mount's `from`).
struct MountEnv<'a> {
    workspace: &'a Workspace,
    inputs: &'a Inputs<'a>,
}

/// Plans `mounts` (already expanded) for a RUN on top of `state`: reads what the key needs
/// (the checksum of a context source, the key of a `from` stage or image), changes nothing.
pub fn plan(
    workspace: &Workspace,
    inputs: &Inputs,
    state: &ImageState,
    mounts: &[TypedMount],
    heredocs: &[Heredoc],
) -> Result<MountPlan> {
    let mut p = MountPlan {
        specs: Vec::new(),
        env: Vec::new(),
        actions: Vec::new(),
    };
    let cx = &MountEnv { workspace, inputs };
    let mut ssh_index = 0;
    for m in mounts {
        let target = m
            .target
            .as_ref()
            .map(|w| skiff_image::image_path::absolute(&state.config.config.working_dir, &w.value));
        match m.kind {
            MountType::Bind => bind(cx, &mut p, m, target)?,
            MountType::Cache => cache(cx, &mut p, m, target)?,
            MountType::Tmpfs => {
                let target = target.ok_or_else(|| anyhow!("--mount=type=tmpfs needs a target"))?;
                p.specs.push(MountSpec::Tmpfs {
                    target: target.clone(),
                    size: m.size,
                });
                p.actions.push(Action::Tmpfs {
                    target,
                    size: m.size,
                });
            }
            MountType::Secret => secret(cx, &mut p, m, target)?,
            MountType::Ssh => {
                ssh(cx, state, &mut p, m, target, ssh_index);
                ssh_index += 1;
            }
        }
    }
    if let [doc] = heredocs {
        let body = heredoc_text(doc);
        if body.starts_with("#!") {
            p.specs.push(MountSpec::Heredoc {
                target: HEREDOC_DIR.trim_end_matches('/').to_string(),
                name: doc.name.clone(),
                content: body.clone(),
            });
            p.actions.push(Action::Heredoc {
                target: HEREDOC_DIR.trim_end_matches('/').to_string(),
                name: doc.name.clone(),
                body,
            });
        }
    }
    Ok(p)
}

impl MountPlan {
    /// Sets the mounts up for a step that is about to run: takes cache locks, creates cache
    /// directories, copies `rw` bind sources, writes secret files, mounts `from` layers and
    /// starts ssh relays. What it returns must live until the step ends. Fails when a
    /// `required` secret or ssh agent was not given.
    pub fn materialize(&self, store: &Store) -> Result<Materialized> {
        let mut out = Materialized::default();
        for action in &self.actions {
            match action {
                Action::Bind {
                    target,
                    source,
                    display,
                    rw,
                } => {
                    let path = out.host_path(store, source)?;
                    if !path.exists() {
                        bail!("--mount source \"{display}\" does not exist");
                    }
                    out.bind(store, target, path, *rw)?;
                }
                Action::Cache { target, dir, seed } => {
                    let seed = match seed {
                        Some((source, display)) => {
                            let path = out.host_path(store, source)?;
                            if !path.is_dir() {
                                bail!(
                                    "--mount=type=cache source \"{display}\" is not a directory \
                                     in the from source"
                                );
                            }
                            Some(path)
                        }
                        None => None,
                    };
                    out.cache(store, target, dir, seed.as_deref())?;
                }
                Action::Tmpfs { target, size } => out.tmpfs(target, *size),
                Action::Secret {
                    id,
                    file,
                    given,
                    required,
                    mode,
                    uid,
                    gid,
                } => {
                    if !given {
                        if *required {
                            bail!("secret \"{id}\" is required but was not given: pass --secret id={id},src=FILE (or env=VAR)");
                        }
                        continue;
                    }
                    if let Some((target, value)) = file {
                        let access = FileAccess {
                            mode: *mode,
                            uid: *uid,
                            gid: *gid,
                        };
                        out.secret_file(store, target, value, access)?;
                    }
                }
                Action::Ssh {
                    id,
                    agent,
                    access,
                    target,
                    required,
                } => {
                    let Some(agent) = agent else {
                        if *required {
                            bail!(
                                "ssh agent \"{id}\" is required by RUN --mount=type=ssh but was \
                                 not given: pass --ssh {id}=SOCKET (or --ssh {id}=KEY_FILE; \
                                 --ssh default forwards $SSH_AUTH_SOCK)"
                            );
                        }
                        continue;
                    };
                    out.ssh(agent, *access, target)?;
                }
                Action::Heredoc { target, name, body } => out.heredoc(store, target, name, body)?,
            }
        }
        Ok(out)
    }
}

/// A mount's source resolved: where its files are, its origin, and its content identity
/// (the checksum of the selection in a local context, or the stage's or image's key).
/// Nothing is mounted: a stage or an image is only mounted when the step runs.
fn resolve_source(
    cx: &MountEnv,
    m: &TypedMount,
    source: &str,
) -> Result<(HostSource, Origin, String)> {
    let (tree, origin) = match &m.from {
        None => (cx.inputs.context_tree(&[])?, Origin::Context),
        Some(from) => match cx.inputs.resolve_from(&from.value, FromUse::Mount)? {
            FromSource::Dir(tree) => (tree, Origin::NamedContext(from.value.clone())),
            FromSource::Layers { state, .. } => {
                let host = HostSource::Layers {
                    layers: state.layers,
                    path: source.to_string(),
                };
                return Ok((host, Origin::Layers, state.key));
            }
        },
    };
    let sel = tree.select(source)?;
    let content = tree.checksum(&sel)?;
    let path = crate::rootpath::resolve(&tree.root, source, true)?;
    Ok((HostSource::Path(path), origin, content))
}

fn bind(cx: &MountEnv, p: &mut MountPlan, m: &TypedMount, target: Option<String>) -> Result<()> {
    let target = target.ok_or_else(|| anyhow!("--mount=type=bind needs a target"))?;
    let source = m
        .source
        .as_ref()
        .map_or_else(|| "/".to_string(), |w| w.value.clone());
    let (host, origin, content) = resolve_source(cx, m, &source)?;
    if let HostSource::Path(path) = &host {
        if !path.exists() {
            bail!("--mount source \"{source}\" does not exist");
        }
    }
    p.specs.push(MountSpec::Bind {
        target: target.clone(),
        source: source.clone(),
        origin,
        content,
        rw: !m.readonly,
    });
    p.actions.push(Action::Bind {
        target,
        source: host,
        display: source,
        rw: !m.readonly,
    });
    Ok(())
}

/// A cache mount: a directory under the store's `cache-mounts/` named after its id (and its
/// `from` source, like BuildKit, which keys a cache with a base by both).
fn cache(cx: &MountEnv, p: &mut MountPlan, m: &TypedMount, target: Option<String>) -> Result<()> {
    let target = target.ok_or_else(|| anyhow!("--mount=type=cache needs a target"))?;
    let id =
        m.id.as_ref()
            .map_or_else(|| target.clone(), |w| w.value.clone());
    let seed = match &m.from {
        Some(_) => {
            let source = m
                .source
                .as_ref()
                .map_or_else(|| "/".to_string(), |w| w.value.clone());
            let (host, origin, content) = resolve_source(cx, m, &source)?;
            Some((host, origin, content, source))
        }
        None => None,
    };
    // The directory's name (not a cache key): the id, and where a seeded cache comes from.
    let naming = match &seed {
        Some((HostSource::Layers { .. }, _, content, source)) => {
            format!("{id}\0{source} from {content}")
        }
        Some((_, _, content, source)) => format!("{id}\0{source} {content}"),
        // BuildKit bases a cache with ownership options on a directory made with them, and
        // keys the cache by that base too: the same id with other options is another cache.
        None if m.uid.is_some() || m.gid.is_some() || m.mode.is_some() => {
            format!("{id}\0uid={:?} gid={:?} mode={:?}", m.uid, m.gid, m.mode)
        }
        None => id.clone(),
    };
    let name = hex::encode(&Sha256::digest(naming.as_bytes())[..12]);
    p.specs.push(MountSpec::Cache {
        target: target.clone(),
        id: id.clone(),
        sharing: match m.sharing {
            Sharing::Shared => CacheSharing::Shared,
            Sharing::Private => CacheSharing::Private,
            Sharing::Locked => CacheSharing::Locked,
        },
        readonly: m.readonly,
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
        seed: seed.as_ref().map(|(_, origin, content, source)| CacheSeed {
            source: source.clone(),
            origin: origin.clone(),
            content: content.clone(),
        }),
    });
    p.actions.push(Action::Cache {
        target,
        dir: CacheDir {
            name,
            id: id.clone(),
            sharing: m.sharing,
            readonly: m.readonly,
            access: FileAccess {
                mode: m.mode.unwrap_or(0o755),
                uid: m.uid.unwrap_or(0),
                gid: m.gid.unwrap_or(0),
            },
        },
        seed: seed.map(|(host, _, _, source)| (host, source)),
    });
    Ok(())
}

fn secret(cx: &MountEnv, p: &mut MountPlan, m: &TypedMount, target: Option<String>) -> Result<()> {
    let id = match (&m.id, &target) {
        (Some(id), _) => id.value.clone(),
        (None, Some(t)) => t.rsplit('/').next().unwrap_or_default().to_string(),
        (None, None) => bail!("--mount=type=secret needs an id or a target"),
    };
    let env_name = m.env.as_ref().map(|w| w.value.clone());
    p.specs.push(MountSpec::Secret {
        id: id.clone(),
        target: target.clone(),
        env: env_name.clone(),
        required: m.required,
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
    });
    let value = cx
        .workspace
        .secrets
        .iter()
        .find(|s| s.id == id)
        .map(|s| s.value.clone());
    if let (Some(name), Some(value)) = (&env_name, &value) {
        p.env
            .push(format!("{name}={}", String::from_utf8_lossy(value)));
    }
    let file = (env_name.is_none() || target.is_some()).then(|| {
        (
            target.unwrap_or_else(|| format!("/run/secrets/{id}")),
            value.clone().unwrap_or_default(),
        )
    });
    p.actions.push(Action::Secret {
        id,
        file,
        given: value.is_some(),
        required: m.required,
        mode: m.mode.unwrap_or(0o400),
        uid: m.uid.unwrap_or(0),
        gid: m.gid.unwrap_or(0),
    });
    Ok(())
}

/// An ssh mount, the `index`-th of the RUN: the `--ssh` agent with the mount's id relayed by a
/// proxy socket bound at the target. As in BuildKit, the first ssh mount's target becomes
/// `$SSH_AUTH_SOCK` unless the image's environment sets it, and an agent that was not given
/// fails the step only when the mount is `required` (otherwise the mount is left out).
fn ssh(
    cx: &MountEnv,
    state: &ImageState,
    p: &mut MountPlan,
    m: &TypedMount,
    target: Option<String>,
    index: usize,
) {
    let id =
        m.id.as_ref()
            .map_or_else(|| crate::ssh::DEFAULT_ID.to_string(), |w| w.value.clone());
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
    p.specs.push(MountSpec::Ssh {
        id: id.clone(),
        target: target.clone(),
        required: m.required,
        uid: access.uid,
        gid: access.gid,
        mode: access.mode,
    });
    p.actions.push(Action::Ssh {
        agent: cx.workspace.ssh.iter().find(|a| a.id == id).cloned(),
        id,
        access,
        target,
        required: m.required,
    });
}
