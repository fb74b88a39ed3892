//! Where an `ADD` archive's member goes: its parent directories are resolved through the
//! symlinks already there (the archive's own, or the image's), with the extraction directory
//! as `/`, so that an absolute link stays inside it and `..` stops at it — clamped, never
//! refused, as BuildKit's extraction does.

use super::entry_path::display;
use anyhow::{bail, Context, Result};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Symlinks followed for one member before it is an error (Linux's own limit is 40).
const MAX_LINKS: usize = 255;

/// `comps` (a member's parent directories, below `root`) with every symlink resolved inside
/// `root`: the components of a real path below it (missing ones kept as written).
pub(crate) fn resolve_beneath(root: &Path, comps: &[OsString]) -> Result<Vec<OsString>> {
    let mut pending: VecDeque<OsString> = comps.iter().cloned().collect();
    let mut resolved: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(part) = pending.pop_front() {
        if part == ".." {
            resolved.pop();
            continue;
        }
        if part.is_empty() || part == "." {
            continue;
        }
        let path = root
            .join(resolved.iter().collect::<std::path::PathBuf>())
            .join(&part);
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        if !is_link {
            resolved.push(part);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            bail!("too many symbolic links below {}", display(comps));
        }
        let target = std::fs::read_link(&path)
            .with_context(|| format!("cannot read the symlink {}", path.display()))?;
        let target = target.as_os_str().as_bytes();
        if target.starts_with(b"/") {
            resolved.clear();
        }
        for c in target.split(|b| *b == b'/').rev().filter(|c| !c.is_empty()) {
            pending.push_front(OsStr::from_bytes(c).to_os_string());
        }
    }
    Ok(resolved)
}

#[cfg(test)]
mod tests {
    use super::resolve_beneath;
    use std::ffi::OsString;
    use std::os::unix::fs::symlink;

    fn comps(path: &str) -> Vec<OsString> {
        path.split('/').map(OsString::from).collect()
    }

    #[test]
    fn links_resolve_inside_the_root_and_are_clamped() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("real")).unwrap();
        symlink("/real", root.path().join("abs")).unwrap();
        symlink("../../..", root.path().join("up")).unwrap();
        symlink("real/missing", root.path().join("rel")).unwrap();
        let resolve = |p: &str| resolve_beneath(root.path(), &comps(p)).unwrap();
        assert_eq!(resolve("abs/x"), comps("real/x"));
        assert_eq!(resolve("up/x"), comps("x"));
        assert_eq!(resolve("rel/y"), comps("real/missing/y"));
        symlink("loop", root.path().join("loop")).unwrap();
        assert!(resolve_beneath(root.path(), &comps("loop/z")).is_err());
    }
}
