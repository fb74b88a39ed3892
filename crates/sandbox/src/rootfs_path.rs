//! Resolving container paths to host paths under a rootfs without ever leaving it.
//!
//! Symlinks are followed the way the container would see them: an absolute link target
//! restarts at the rootfs, `..` stops at the rootfs. This is what `securejoin` does for runc.

use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow before it is declared a loop (Linux's limit).
const MAX_SYMLINKS: usize = 40;

/// Resolves `path` (as seen inside the container) to the host path under `rootfs` it names,
/// following symlinks inside the rootfs and never escaping it. Missing components are kept
/// literally, so the result is also where a new file at `path` would be created.
pub fn resolve_in_rootfs(rootfs: &Path, path: &str) -> Result<PathBuf> {
    let mut pending: VecDeque<OsString> = components(Path::new(path)).collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut followed = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let candidate = join(rootfs, &resolved).join(&part);
        match std::fs::symlink_metadata(&candidate) {
            Ok(meta) if meta.file_type().is_symlink() => {
                followed += 1;
                if followed > MAX_SYMLINKS {
                    bail!(
                        "too many levels of symbolic links resolving {path} in {}",
                        rootfs.display()
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
    Ok(join(rootfs, &resolved))
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
    let target = resolve_in_rootfs(rootfs, path)?;
    let mut created = Vec::new();
    let relative = target.strip_prefix(rootfs).unwrap_or(Path::new(""));
    let mut current = rootfs.to_path_buf();
    for part in relative.components() {
        current.push(part);
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => bail!(
                "cannot create directory {path} in the rootfs: {} exists and is not a directory",
                current.display()
            ),
            Err(_) => {
                std::fs::DirBuilder::new()
                    .mode(0o755)
                    .create(&current)
                    .with_context(|| format!("creating directory {}", current.display()))?;
                // The umask may have narrowed the mode; Docker's directories are 0755.
                std::fs::set_permissions(&current, std::fs::Permissions::from_mode(0o755))?;
                std::os::unix::fs::chown(&current, Some(uid), Some(gid))
                    .with_context(|| format!("changing the owner of {}", current.display()))?;
                created.push(current.clone());
            }
        }
    }
    Ok(created)
}

fn components(path: &Path) -> impl Iterator<Item = OsString> + '_ {
    path.components().filter_map(|c| match c {
        Component::Normal(name) => Some(name.to_os_string()),
        Component::ParentDir => Some(OsString::from("..")),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

fn join(rootfs: &Path, parts: &[OsString]) -> PathBuf {
    let mut path = rootfs.to_path_buf();
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
