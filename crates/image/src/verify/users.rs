//! `USER name[:group]` against the image's `/etc/passwd` and `/etc/group`, as runc resolves it
//! when the container starts (numeric ids need no entry).

use super::facts::Problem;
use super::fs::read_text;
use std::path::Path;

/// The problem with the image's `USER`, if its user or group is not in the image.
pub(super) fn check(root: &Path, user: &str) -> Option<Problem> {
    let (name, group) = match user.split_once(':') {
        Some((n, g)) => (n, Some(g)),
        None => (user, None),
    };
    let missing = |file: &str, name: &str| {
        !name.is_empty()
            && name.parse::<u32>().is_err()
            && !read_text(root, file).is_some_and(|text| has_entry(&text, name))
    };
    let (kind, file, wanted) = if missing("/etc/passwd", name) {
        ("user", "/etc/passwd", name)
    } else if group.is_some_and(|g| missing("/etc/group", g)) {
        ("group", "/etc/group", group.unwrap_or_default())
    } else {
        return None;
    };
    Some(Problem {
        rule: "UnknownUser".into(),
        message: format!(
            "USER {user}: the {kind} `{wanted}` is not in the image's {file}; the container will not start (`unable to find {kind} {wanted}`)"
        ),
        hint: format!(
            "create it in the final stage (`adduser`/`useradd`, or copy {file} from the builder), or use a numeric id (`USER 65532:65532`)"
        ),
    })
}

/// Whether a passwd/group file has an entry named `name`.
fn has_entry(text: &str, name: &str) -> bool {
    text.lines().any(|l| l.split(':').next() == Some(name))
}
