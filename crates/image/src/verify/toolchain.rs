//! A compiler left in the final image: what a multi-stage build would drop (the image is
//! hundreds of megabytes larger, and the scanner flags the toolchain's vulnerabilities).

use super::facts::Problem;
use super::fs::{is_file, resolve};
use std::path::Path;

/// Where the usual compilers live, by the name people know them by.
const COMPILERS: &[(&str, &str)] = &[
    ("/usr/local/go/bin/go", "Go"),
    ("/usr/lib/go/bin/go", "Go"),
    ("/usr/bin/go", "Go"),
    ("/usr/local/cargo/bin/rustc", "Rust"),
    ("/usr/bin/rustc", "Rust"),
    ("/usr/bin/gcc", "gcc"),
    ("/usr/bin/javac", "a JDK"),
    ("/usr/bin/mvn", "Maven"),
];

/// The problem when the image holds a compiler.
pub(super) fn check(root: &Path) -> Option<Problem> {
    let mut found: Vec<&str> = COMPILERS
        .iter()
        .filter(|(path, _)| is_file(root, path))
        .map(|(path, _)| *path)
        .collect();
    found.extend(versioned_go(root));
    let first = found.first()?;
    let name = COMPILERS
        .iter()
        .find(|(path, _)| path == first)
        .map_or("Go", |(_, name)| *name);
    Some(Problem {
        rule: "CompilerInImage".into(),
        message: format!(
            "the final image holds a compiler ({name}: {}): it ships the toolchain to production",
            found.join(", ")
        ),
        hint: "build in a stage of its own and `COPY --from=` only its output into a small runtime image".into(),
    })
}

/// Debian's Go (`/usr/lib/go-1.19/bin/go`).
fn versioned_go(root: &Path) -> Option<&'static str> {
    let lib = resolve(root, "/usr/lib")?;
    let has = std::fs::read_dir(lib).ok()?.flatten().any(|e| {
        e.file_name().to_string_lossy().starts_with("go-") && e.path().join("bin/go").is_file()
    });
    has.then_some("/usr/lib/go-*/bin/go")
}
