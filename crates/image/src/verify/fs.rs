//! Reading paths of an image's root filesystem from the outside: symbolic links are followed
//! as the image's own processes would see them (absolute targets start at the image's root),
//! never out of it.

use std::path::{Component, Path, PathBuf};

/// How many links a lookup follows before giving up (Linux's own limit).
const MAX_LINKS: usize = 40;

/// The host path of `path` (absolute inside the image) with every link resolved; `None` when
/// it does not exist in the image or loops.
pub(super) fn resolve(root: &Path, path: &str) -> Option<PathBuf> {
    let mut todo: Vec<String> = components(path).into_iter().rev().collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let host = host_path(root, &done).join(&part);
        let meta = std::fs::symlink_metadata(&host).ok()?;
        if meta.file_type().is_symlink() {
            links += 1;
            if links > MAX_LINKS {
                return None;
            }
            let target = std::fs::read_link(&host).ok()?;
            let target = target.to_string_lossy();
            if target.starts_with('/') {
                done.clear();
            }
            todo.extend(components(&target).into_iter().rev());
        } else {
            done.push(part);
        }
    }
    Some(host_path(root, &done))
}

/// Whether `path` (inside the image) is a regular file, after links.
pub(super) fn is_file(root: &Path, path: &str) -> bool {
    resolve(root, path).is_some_and(|p| p.is_file())
}

/// Reads a text file of the image, if it is there.
pub(super) fn read_text(root: &Path, path: &str) -> Option<String> {
    std::fs::read_to_string(resolve(root, path)?).ok()
}

fn components(path: &str) -> Vec<String> {
    Path::new(path)
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

fn host_path(root: &Path, parts: &[String]) -> PathBuf {
    let mut p = root.to_path_buf();
    p.extend(parts);
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("usr/lib")).unwrap();
        std::fs::write(root.join("usr/lib/libc.so"), "x").unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::os::unix::fs::symlink("/../../lib/libc.so", root.join("usr/lib/abs")).unwrap();
        assert!(is_file(root, "/lib/libc.so"));
        assert!(is_file(root, "/usr/lib/abs"));
        assert!(!is_file(root, "/lib/missing.so"));
        std::os::unix::fs::symlink("loop", root.join("loop")).unwrap();
        assert_eq!(resolve(root, "/loop"), None);
    }
}
