//! Resolving a path inside a root directory the way a container sees it: symlinks are
//! followed, but every absolute or `..`-climbing target is clamped to the root, so nothing
//! a build reads or writes can end up outside its context or rootfs.

use anyhow::{bail, Result};
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow before it is called a loop (as Linux's ELOOP).
const MAX_SYMLINKS: usize = 40;

/// Resolves `path` (absolute or relative, always taken as relative to `root`) inside `root`.
///
/// Every symlink met on the way is followed with its target clamped to `root`; with
/// `follow_final == false` a symlink in the last component is left as it is (for
/// operations on the link itself). Missing components are fine: the rest of the path is
/// appended as written (after `..` clamping), so the result can be used to create it.
pub fn resolve(root: &Path, path: &str, follow_final: bool) -> Result<PathBuf> {
    let mut pending: Vec<String> = components(path);
    pending.reverse();
    let mut resolved: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        let is_last = pending.is_empty();
        let candidate = join(root, &resolved).join(&part);
        let meta = std::fs::symlink_metadata(&candidate);
        match meta {
            Ok(m) if m.file_type().is_symlink() && (follow_final || !is_last) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    bail!("too many levels of symbolic links resolving {path}");
                }
                let target = std::fs::read_link(&candidate)?;
                let target = target.to_string_lossy().into_owned();
                if target.starts_with('/') {
                    resolved.clear();
                }
                let mut more = components(&target);
                more.reverse();
                pending.extend(more);
            }
            _ => resolved.push(part),
        }
    }
    Ok(join(root, &resolved))
}

/// The path relative to `root` that [`resolve`] returned (for messages and tar names).
pub fn relative(root: &Path, resolved: &Path) -> String {
    resolved
        .strip_prefix(root)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".to_string()),
            _ => None,
        })
        .collect()
}

fn join(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    for part in parts {
        p.push(part);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn absolute_and_climbing_links_stay_inside() {
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
    }

    #[test]
    fn loops_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        symlink("b", dir.path().join("a")).unwrap();
        symlink("a", dir.path().join("b")).unwrap();
        let err = resolve(dir.path(), "a/x", true).unwrap_err();
        assert!(err.to_string().contains("too many levels"), "{err}");
    }
}
