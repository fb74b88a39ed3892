//! Paths inside the image as instructions and configs write them: relative ones are taken
//! against the `WORKDIR`, and cleaned as BuildKit cleans a `WORKDIR` (the engine places
//! files with these; the verification names the programs it checks with them).

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

#[cfg(test)]
mod tests {
    use super::{absolute, clean_path};

    #[test]
    fn relative_paths_are_taken_against_the_workdir_and_cleaned() {
        assert_eq!(
            clean_path(&absolute("/home/appuser", "./app")),
            "/home/appuser/app"
        );
        assert_eq!(clean_path(&absolute("", "a/../b/")), "/b");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(absolute("/w", "/abs"), "/abs");
    }
}
