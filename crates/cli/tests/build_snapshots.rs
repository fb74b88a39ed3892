//! The snapshots a build leaves in the store are exactly what extracting their layer blobs
//! gives. A step's upper dir becomes its layer's snapshot (it is not deleted and the blob
//! extracted again), so it must be brought to the extracted form: entries the layer leaves
//! out removed, overlayfs's own xattrs removed, times as the tar has them. Were it not, a later
//! step would see a different rootfs depending on whether the layer was built here or pulled.
//!
//! The build: the golden COPY chain (`golden_tree`), then `RUN` steps that delete a file of a
//! lower layer (a whiteout), replace a directory (an opaque one), open a file for writing
//! without changing it and change a directory's mode (what overlayfs copies up), and make a
//! mount point stub go away. Every snapshot is compared, entry by entry (type, mode, owner,
//! mtime to the nanosecond, size, contents, link target, device, xattrs, hard links), with
//! the blob extracted afresh.

mod golden_tree;

use golden_tree::{write_context, DOCKERFILE};
use skiff_image::layer::{apply, ApplyMode};
use skiff_testkit::project::Project;
use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

const RUNS: &str = "RUN rm /opt/tree/secret && rm -r /opt/tree/sub2/deep \
    && rm -r /srv/sub && mkdir /srv/sub && echo new > /srv/sub/n\n\
RUN : >> /etc/passwd && chmod 0700 /opt/tree/sub && mkdir -p /made/here && rmdir /made/here \
    && ln /srv/hard1 /srv/hard3 && mkfifo /srv/fifo2\n";

/// One entry of a tree, as much of it as an extraction decides.
#[derive(Debug, PartialEq, Eq)]
struct Entry {
    kind: u32,
    mode: u32,
    owner: (u32, u32),
    mtime: (i64, i64),
    size: u64,
    rdev: u64,
    data: Vec<u8>,
    link: Option<std::path::PathBuf>,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// The first path (in walk order) of its inode among regular files.
    first_link: Option<String>,
}

fn xattrs(path: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut names = vec![0u8; 65536];
    let Ok(n) = rustix::fs::llistxattr(path, &mut names[..]) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in names[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let mut value = vec![0u8; 65536];
        let name_os = <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name);
        let len = rustix::fs::lgetxattr(path, name_os, &mut value[..]).unwrap();
        value.truncate(len);
        out.push((name.to_vec(), value));
    }
    out.sort();
    out
}

fn read_tree(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut inodes = BTreeMap::new();
    walk(root, root, &mut out, &mut inodes);
    out
}

fn walk(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, Entry>,
    inodes: &mut BTreeMap<(u64, u64), String>,
) {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let m = std::fs::symlink_metadata(&path).unwrap();
        let ft = m.file_type();
        // A whiteout (a 0/0 character device) is never seen through the mount: its times,
        // which an extraction does not set, say nothing.
        let whiteout = (m.mode() & 0o170000) == 0o020000 && m.rdev() == 0;
        let first_link = (ft.is_file() && m.nlink() > 1).then(|| {
            inodes
                .entry((m.dev(), m.ino()))
                .or_insert_with(|| rel.clone())
                .clone()
        });
        out.insert(
            rel,
            Entry {
                kind: m.mode() & 0o170000,
                mode: m.mode() & 0o7777,
                owner: (m.uid(), m.gid()),
                mtime: if whiteout {
                    (0, 0)
                } else {
                    (m.mtime(), m.mtime_nsec())
                },
                size: if ft.is_dir() { 0 } else { m.len() },
                rdev: m.rdev(),
                data: if ft.is_file() {
                    std::fs::read(&path).unwrap()
                } else {
                    Vec::new()
                },
                link: ft.is_symlink().then(|| std::fs::read_link(&path).unwrap()),
                xattrs: xattrs(&path),
                first_link,
            },
        );
        if ft.is_dir() {
            walk(root, &path, out, inodes);
        }
    }
}

#[test]
fn every_snapshot_a_build_keeps_is_its_blob_extracted() {
    let Some(p) = Project::needing_runc(&format!("{DOCKERFILE}{RUNS}")) else {
        return;
    };
    if !write_context(&p) {
        let reason = "the test context's filesystem has no user xattrs";
        assert!(
            !skiff_testkit::tools::in_ci(),
            "CI must not skip tests: {reason}"
        );
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let (_, image) = p.build_image(&[]);
    let store = p.store();
    let layers = image.manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 16, "busybox, 13 COPY/ADD, 2 RUN");
    let mut compared = 0;
    for layer in layers {
        let digest = layer["digest"].as_str().unwrap();
        let hex = digest.strip_prefix("sha256:").unwrap();
        let snapshot = store.join("snapshots/sha256").join(hex);
        if !snapshot.is_dir() {
            continue; // the last layer: no step stacked on it
        }
        let fresh = tempfile_in(store);
        let blob = std::fs::File::open(store.join("blobs/sha256").join(hex)).unwrap();
        apply(blob, fresh.path(), ApplyMode::Overlay).unwrap();
        let (kept, extracted) = (read_tree(&snapshot), read_tree(fresh.path()));
        let kept_names: Vec<_> = kept.keys().collect();
        let extracted_names: Vec<_> = extracted.keys().collect();
        assert_eq!(
            kept_names, extracted_names,
            "layer {digest}: the entries differ"
        );
        for (path, entry) in &kept {
            assert_eq!(
                Some(entry),
                extracted.get(path),
                "layer {digest}: {path} differs from the extracted blob"
            );
        }
        compared += 1;
    }
    // Every layer but the last is stacked on by a later step and so has a snapshot.
    assert!(compared >= 14, "only {compared} snapshots compared");
    let unsynced = std::fs::read_dir(store.join("snapshots/unsynced"))
        .unwrap()
        .count();
    assert!(
        unsynced > 0,
        "the snapshots a build made are marked unsynced"
    );
    assert_spread(store);
}

/// The store's `tmp/` and `snapshots/sha256/` carry `FS_TOPDIR_FL`, so that ext4 places the
/// steps' directories and the snapshots away from the store's recently deleted entries
/// (docs/architecture.md, "New directories spread over the disk").
fn assert_spread(store: &Path) {
    use rustix::fs::{ioctl_getflags, IFlags};
    for dir in ["tmp", "snapshots/sha256"] {
        let handle = std::fs::File::open(store.join(dir)).unwrap();
        match ioctl_getflags(&handle) {
            Ok(flags) => assert!(
                flags.contains(IFlags::TOPDIR),
                "{dir} in the store is not marked FS_TOPDIR_FL (chattr +T): {flags:?}"
            ),
            Err(e) => {
                let reason = format!("the store's filesystem has no inode flags ({e})");
                assert!(
                    !skiff_testkit::tools::in_ci(),
                    "CI must not skip tests: {reason}"
                );
                eprintln!("SKIPPED the FS_TOPDIR_FL check: {reason}");
            }
        }
    }
}

/// A temp directory on the store's filesystem (overlay whiteouts need a real filesystem).
fn tempfile_in(store: &Path) -> skiff_testkit::tempfile::TempDir {
    skiff_testkit::tempfile::Builder::new()
        .prefix("extracted-")
        .tempdir_in(store)
        .unwrap()
}
