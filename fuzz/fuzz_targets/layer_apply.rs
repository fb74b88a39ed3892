//! Any bytes as a layer (plain tar, or gzip/zstd/… as the sniffer detects it) applied with
//! `skiff_image::layer::apply` into a fresh directory, in each mode (the first byte picks
//! overlay, flat or `ADD` extract): no panic, and nothing written outside the directory — its
//! parent holds the root and an empty sibling `outside/` before, and exactly that after
//! (symlinks inside the root may point anywhere; applying must not follow them out).
//! The roots live in /dev/shm (tmpfs) and are removed after every input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skiff_image::layer::{apply, unpacked_size, ApplyMode};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const MODES: [ApplyMode; 3] = [ApplyMode::Overlay, ApplyMode::Flat, ApplyMode::Extract];

/// This process's own parent directory (one per fuzzing process, so runs with `-fork` or
/// `-jobs` do not share it).
fn parent() -> &'static Path {
    static PARENT: OnceLock<PathBuf> = OnceLock::new();
    PARENT.get_or_init(|| {
        let base = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let dir = PathBuf::from(base).join(format!("skiff-fuzz-layer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("outside")).expect("creating the fuzz parent dir");
        dir
    })
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("listing the fuzz parent dir")
        .map(|e| {
            e.expect("a dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, layer)) = data.split_first() else {
        return;
    };
    let mode = MODES[usize::from(selector) % MODES.len()];
    let parent = parent();
    let root = parent.join("root");
    std::fs::create_dir(&root).expect("creating the fuzz root");
    let _ = apply(layer, &root, mode);
    let _ = unpacked_size(layer);
    assert_eq!(
        entries(parent),
        ["outside", "root"],
        "written beside the root ({mode:?})"
    );
    assert!(
        entries(&parent.join("outside")).is_empty(),
        "written outside the root ({mode:?})"
    );
    std::fs::remove_dir_all(&root).expect("removing the fuzz root");
});
