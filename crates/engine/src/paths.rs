//! Paths inside the image as instructions write them: relative ones are taken against the
//! `WORKDIR`, and a `WORKDIR` is cleaned as BuildKit cleans it.

/// `path` made absolute against `workdir` (`WORKDIR rel`, relative COPY destinations and
/// mount targets).
pub fn absolute(workdir: &str, path: &str) -> String {
    if path.starts_with('/') {
        return path.to_string();
    }
    let base = if workdir.is_empty() { "/" } else { workdir };
    format!("{}/{}", base.trim_end_matches('/'), path)
}

/// An absolute path cleaned as Go's `path.Clean` does (`/a/./b/../c/` → `/a/c`), as BuildKit
/// normalizes a WORKDIR.
pub fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}
