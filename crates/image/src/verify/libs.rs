//! The loader's view of an ELF program in the image: its interpreter must be there, its
//! machine must be the image's, and each `DT_NEEDED` library must be found where the loader
//! looks (`RUNPATH`/`RPATH`, `/etc/ld.so.conf`, the default and multiarch directories).

use super::elf::{libc_of, machine_for, machine_name, ElfInfo};
use super::facts::{ImageFacts, Problem};
use super::fs::{is_file, read_text};
use std::path::Path;

/// The directories every loader searches, multiarch ones included.
const DEFAULT_DIRS: &[&str] = &[
    "/lib",
    "/usr/lib",
    "/lib64",
    "/usr/lib64",
    "/usr/local/lib",
    "/lib/x86_64-linux-gnu",
    "/usr/lib/x86_64-linux-gnu",
    "/lib/aarch64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/lib/i386-linux-gnu",
    "/usr/lib/i386-linux-gnu",
    "/lib/arm-linux-gnueabihf",
    "/usr/lib/arm-linux-gnueabihf",
];

/// Adds the problems of the program at `path` (in the image) to `problems`.
pub(super) fn check_program(
    root: &Path,
    path: &str,
    info: &ElfInfo,
    facts: &ImageFacts,
    problems: &mut Vec<Problem>,
) {
    let built_in = (facts.origin)(path)
        .map(|stage| format!("; it was built in stage {stage}"))
        .unwrap_or_default();
    if let Some(wanted) = machine_for(facts.architecture).filter(|m| *m != info.machine) {
        problems.push(Problem {
            rule: "WrongMachine".into(),
            message: format!(
                "`{path}` is built for {} but the image is for {}{built_in}",
                machine_name(info.machine),
                machine_name(wanted)
            ),
            hint: format!(
                "build it for the target platform (`GOARCH={}`, a cross compiler)",
                facts.architecture
            ),
        });
        return;
    }
    let Some(interpreter) = &info.interpreter else {
        return;
    };
    let libc = libc_of(interpreter);
    if !is_file(root, interpreter) {
        problems.push(Problem {
            rule: "MissingInterpreter".into(),
            message: format!(
                "`{path}` needs `{interpreter}` ({libc}) but the image has none{built_in}"
            ),
            hint: match libc {
                "musl libc" => "build with `CGO_ENABLED=0` (or link statically) or use a musl-based final image (alpine)".into(),
                "glibc" => "build with `CGO_ENABLED=0` (or link statically) or use a glibc-based final image (debian:bookworm-slim, distroless/base)".into(),
                _ => "link it statically or use a final image with its loader".into(),
            },
        });
        return;
    }
    let dirs = search_dirs(root, path, info);
    for lib in &info.needed {
        let found = if lib.contains('/') {
            is_file(root, lib)
        } else {
            dirs.iter().any(|d| is_file(root, &format!("{d}/{lib}")))
        };
        if !found {
            problems.push(Problem {
                rule: "MissingLibrary".into(),
                message: format!(
                    "`{path}` needs `{lib}` but the image does not have it where the loader looks; it will fail with `error while loading shared libraries: {lib}: cannot open shared object file`{built_in}"
                ),
                hint: format!("install or copy `{lib}` into the final image ({libc}), or link the program statically"),
            });
        }
    }
}

/// Where the loader looks for the program's libraries, in order.
fn search_dirs(root: &Path, path: &str, info: &ElfInfo) -> Vec<String> {
    let origin = path.rsplit_once('/').map_or("/", |(dir, _)| dir);
    let mut dirs: Vec<String> = (info.search.iter())
        .map(|d| d.replace("${ORIGIN}", origin).replace("$ORIGIN", origin))
        .collect();
    ld_so_conf(root, "/etc/ld.so.conf", &mut dirs, 0);
    if let Some(interpreter) = &info.interpreter {
        // musl reads its path file next to its name: /etc/ld-musl-<arch>.path.
        if let Some(arch) = interpreter
            .rsplit('/')
            .next()
            .and_then(|n| n.strip_prefix("ld-musl-"))
            .and_then(|n| n.strip_suffix(".so.1"))
        {
            if let Some(text) = read_text(root, &format!("/etc/ld-musl-{arch}.path")) {
                dirs.extend(
                    text.split([':', '\n'])
                        .filter(|d| !d.is_empty())
                        .map(str::to_string),
                );
            }
        }
    }
    dirs.extend(DEFAULT_DIRS.iter().map(|d| d.to_string()));
    dirs
}

/// The directories of an `ld.so.conf` (with its `include` globs of the `*.conf` kind).
fn ld_so_conf(root: &Path, file: &str, dirs: &mut Vec<String>, depth: usize) {
    let Some(text) = read_text(root, file).filter(|_| depth < 4) else {
        return;
    };
    for line in text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
    {
        if let Some(pattern) = line.strip_prefix("include") {
            for included in expand_include(root, pattern.trim()) {
                ld_so_conf(root, &included, dirs, depth + 1);
            }
        } else if line.starts_with('/') {
            dirs.push(line.to_string());
        }
    }
}

/// `include /etc/ld.so.conf.d/*.conf`: the files of that directory ending as the pattern does.
fn expand_include(root: &Path, pattern: &str) -> Vec<String> {
    let Some((dir, name)) = pattern.rsplit_once('/') else {
        return Vec::new();
    };
    let suffix = name.strip_prefix('*').unwrap_or(name);
    let Some(host) = super::fs::resolve(root, dir) else {
        return Vec::new();
    };
    let mut files: Vec<String> = std::fs::read_dir(host)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            if name.starts_with('*') {
                n.ends_with(suffix)
            } else {
                n == name
            }
        })
        .map(|n| format!("{dir}/{n}"))
        .collect();
    files.sort();
    files
}
