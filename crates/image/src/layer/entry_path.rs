//! Turning a tar entry's path into checked components relative to the root.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The path's components, or why it is refused. `.` and empty components are
/// dropped; an absolute path, a `..` component or a NUL byte is refused: no
/// legitimate layer needs them and each is a classic escape.
pub(crate) fn components(raw: &[u8]) -> Result<Vec<OsString>, &'static str> {
    if raw.is_empty() {
        return Err("the path is empty");
    }
    if raw.starts_with(b"/") {
        return Err("the path is absolute (entries must be relative to the layer root)");
    }
    if raw.contains(&0) {
        return Err("the path contains a NUL byte");
    }
    let mut out = Vec::new();
    for comp in raw.split(|b| *b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err("the path has a `..` component (it would escape the layer root)"),
            c => out.push(std::ffi::OsStr::from_bytes(c).to_os_string()),
        }
    }
    Ok(out)
}

/// The components joined with `/`, for messages.
pub(crate) fn display(comps: &[OsString]) -> String {
    let parts: Vec<_> = comps.iter().map(|c| c.to_string_lossy()).collect();
    parts.join("/")
}
