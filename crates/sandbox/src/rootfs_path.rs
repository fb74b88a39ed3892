//! Paths inside a root directory — a container's rootfs, a build context, a stage's
//! files — resolved the way the container would see them, and directories made there.
//!
//! Symlinks are followed, but an absolute link target restarts at the root and `..` stops
//! at it, so nothing resolved here is ever outside the root. This is what `securejoin`
//! does for runc.
//!
//! This is the workspace's one path-in-root resolver and its one `mkdir_all`: the sandbox
//! needs them itself (the `RUN` working directory, `/etc/passwd` of `USER`, mount-point
//! stubs) on paths that only exist once the step's rootfs is mounted, so it cannot take
//! them ready-made from the engine; the engine, which depends on the sandbox, uses the
//! same functions for `COPY`/`ADD`/`WORKDIR` and for reading build contexts. The image
//! crate has no use for them: layer extraction must not follow symlinks at all, and
//! walks with `openat(O_NOFOLLOW)` instead (`skiff_image::layer`).

use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow before it is declared a loop (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// Resolves `path` (absolute or relative, always taken as relative to `root`) inside `root`.
///
/// Every symlink met on the way is followed with its target clamped to `root`; with
/// `follow_final == false` a symlink in the last component is left as it is (for
/// operations on the link itself). Missing components are kept literally (after `..`
/// clamping), so the result is also where a new file at `path` would be created.
pub fn resolve(root: &Path, path: &str, follow_final: bool) -> Result<PathBuf> {
    let mut pending: VecDeque<OsString> = components(Path::new(path)).collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut followed = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let is_last = pending.is_empty();
        let candidate = join(root, &resolved).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() && (follow_final || !is_last) => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    bail!(
                        "too many levels of symbolic links resolving {path} in {}",
                        root.display()
                    );
                }
                let target = std::fs::read_link(&candidate)
                    .with_context(|| format!("reading symlink {}", candidate.display()))?;
                if target.is_absolute() {
                    resolved.clear();
                }
                for (i, c) in components(&target).enumerate() {
                    pending.insert(i, c);
                }
            }
            _ => resolved.push(part),
        }
    }
    Ok(join(root, &resolved))
}

/// Resolves `path` as seen inside the container to the host path under `rootfs`
/// ([`resolve`], following a final symlink too).
pub fn resolve_in_rootfs(rootfs: &Path, path: &str) -> Result<PathBuf> {
    resolve(rootfs, path, true)
}

/// The path relative to `root` that [`resolve`] returned (for messages and tar names).
pub fn relative(root: &Path, resolved: &Path) -> String {
    resolved
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What [`mkdir_all`] does when something that is not a directory stands where a
/// directory must be made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InTheWay {
    /// An error naming it (Docker's `WORKDIR` and the `RUN` working directory).
    Fail,
    /// It is removed and the directory made (skiff's `COPY`/`ADD` destinations).
    Replace,
}

/// Creates the directory `dir` (a host path under `root`, already [`resolve`]d) and its
/// missing parents below `root`, each with mode 0755 and owned by `owner` (root when
/// `None`), as Docker does; inside a setgid directory they keep what mkdir(2) gives them, the
/// setgid bit and (without `owner`) the directory's group. Returns the created directories, outermost first. A `dir`
/// outside `root` is left alone.
pub fn mkdir_all(
    root: &Path,
    dir: &Path,
    owner: Option<(u32, u32)>,
    in_the_way: InTheWay,
) -> Result<Vec<PathBuf>> {
    let mut created = Vec::new();
    let Ok(relative) = dir.strip_prefix(root) else {
        return Ok(created);
    };
    let mut current = root.to_path_buf();
    for part in relative.components() {
        current.push(part);
        if current.is_dir() {
            continue;
        }
        if let Ok(meta) = std::fs::symlink_metadata(&current) {
            match in_the_way {
                InTheWay::Fail => bail!(
                    "cannot create directory {}: {} exists and is not a directory",
                    dir.display(),
                    current.display()
                ),
                InTheWay::Replace => std::fs::remove_file(&current).with_context(|| {
                    format!(
                        "removing {} ({:?}) to make a directory",
                        current.display(),
                        meta.file_type()
                    )
                })?,
            }
        }
        std::fs::DirBuilder::new()
            .mode(0o755)
            .create(&current)
            .with_context(|| format!("creating directory {}", current.display()))?;
        // The umask may have narrowed the mode; Docker's directories are 0755. In a setgid
        // directory mkdir(2) gave the new one the setgid bit (and the group): it stays.
        let setgid = std::fs::metadata(&current)?.permissions().mode() & 0o2000;
        std::fs::set_permissions(&current, std::fs::Permissions::from_mode(0o755 | setgid))?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::lchown(&current, Some(uid), Some(gid))
                .with_context(|| format!("changing the owner of {}", current.display()))?;
        }
        created.push(current.clone());
    }
    Ok(created)
}

/// Creates the directory `path` (inside the container) and its missing parents, each with mode
/// 0755 and owned by `uid:gid`, as Docker does for `WORKDIR`. Returns the created host paths,
/// outermost first.
pub fn create_dir_all_in_rootfs(
    rootfs: &Path,
    path: &str,
    uid: u32,
    gid: u32,
) -> Result<Vec<PathBuf>> {
    let target = resolve(rootfs, path, true)?;
    mkdir_all(rootfs, &target, Some((uid, gid)), InTheWay::Fail)
        .with_context(|| format!("cannot create directory {path} in the rootfs"))
}

fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn join(root: &Path, parts: &[OsString]) -> PathBuf {
    let mut path = root.to_path_buf();
    path.extend(parts);
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_and_dotdot_symlinks_stay_inside() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir_all(r.join("real/etc")).unwrap();
        symlink("/real/etc", r.join("etc")).unwrap();
        symlink("../../../../outside", r.join("real/escape")).unwrap();
        assert_eq!(
            resolve_in_rootfs(r, "/etc/passwd").unwrap(),
            r.join("real/etc/passwd")
        );
        assert_eq!(
            resolve_in_rootfs(r, "/real/escape/x").unwrap(),
            r.join("outside/x")
        );
        assert_eq!(resolve_in_rootfs(r, "../../a/./b").unwrap(), r.join("a/b"));
    }

    #[test]
    fn symlink_loops_are_reported() {
        let root = tempfile::tempdir().unwrap();
        symlink("/a", root.path().join("b")).unwrap();
        symlink("/b", root.path().join("a")).unwrap();
        let err = resolve_in_rootfs(root.path(), "/a/x").unwrap_err();
        assert!(err.to_string().contains("too many levels"), "{err}");
    }

    #[test]
    fn absolute_and_climbing_links_stay_inside_and_a_final_link_can_be_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        symlink("/etc", root.join("abs")).unwrap();
        symlink("../../../../..", root.join("usr/up")).unwrap();
        symlink("usr/lib", root.join("lib")).unwrap();
        assert_eq!(
            resolve(root, "/abs/passwd", true).unwrap(),
            root.join("etc/passwd")
        );
        assert_eq!(resolve(root, "usr/up/etc", true).unwrap(), root.join("etc"));
        assert_eq!(
            resolve(root, "/lib/x.so", true).unwrap(),
            root.join("usr/lib/x.so")
        );
        assert_eq!(resolve(root, "../../x", true).unwrap(), root.join("x"));
        assert_eq!(resolve(root, "lib", false).unwrap(), root.join("lib"));
        assert_eq!(relative(root, &root.join("usr/lib")), "usr/lib");
    }

    #[test]
    fn mkdir_all_replaces_or_refuses_what_is_in_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let r = dir.path();
        std::fs::write(r.join("file"), "").unwrap();
        assert!(mkdir_all(r, &r.join("file/x"), None, InTheWay::Fail).is_err());
        let created = mkdir_all(r, &r.join("file/x"), None, InTheWay::Replace).unwrap();
        assert_eq!(created, vec![r.join("file"), r.join("file/x")]);
        assert!(r.join("file/x").is_dir());
        assert_eq!(
            mkdir_all(r, Path::new("/elsewhere"), None, InTheWay::Replace).unwrap(),
            Vec::<PathBuf>::new()
        );
    }

    #[test]
    fn creates_missing_directories_through_symlinks() {
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("data")).unwrap();
        symlink("/data", r.join("work")).unwrap();
        let created = create_dir_all_in_rootfs(r, "/work/a/b", 0, 0).unwrap();
        assert_eq!(created, vec![r.join("data/a"), r.join("data/a/b")]);
        assert!(r.join("data/a/b").is_dir());
        std::fs::write(r.join("file"), "").unwrap();
        assert!(create_dir_all_in_rootfs(r, "/file/x", 0, 0).is_err());
    }
}
