//! Real overlayfs mounts, and steps run on them.

mod common;

use common::{busybox_rootfs, have_root, run, runtime, sh, tree};
use skiff_sandbox::{Mount, MountKind, Overlay};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

struct Dirs {
    _tmp: tempfile::TempDir,
    upper: PathBuf,
    work: PathBuf,
    merged: PathBuf,
}

fn dirs() -> Dirs {
    let tmp = tempfile::tempdir().unwrap();
    let [upper, work, merged] = ["upper", "work", "merged"].map(|d| tmp.path().join(d));
    for d in [&upper, &work, &merged] {
        std::fs::create_dir(d).unwrap();
    }
    Dirs {
        _tmp: tmp,
        upper,
        work,
        merged,
    }
}

fn layer(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn is_mounted(path: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let path = path.to_str().unwrap();
    mounts.lines().any(|l| l.split(' ').nth(4) == Some(path))
}

#[test]
fn lowers_are_stacked_lowest_first_and_writes_land_in_upper() {
    if !have_root() {
        return;
    }
    let base = layer(&[("a", "base"), ("b", "base"), ("gone", "x")]);
    let top = layer(&[("b", "top")]);
    let d = dirs();
    let overlay = Overlay::mount(
        &[base.path().into(), top.path().into()],
        &d.upper,
        &d.work,
        &d.merged,
    )
    .unwrap();
    assert!(is_mounted(&d.merged));
    let read = |p: &str| std::fs::read_to_string(d.merged.join(p)).unwrap();
    assert_eq!((read("a"), read("b")), ("base".into(), "top".into()));
    std::fs::write(d.merged.join("new"), "new").unwrap();
    std::fs::write(d.merged.join("a"), "changed").unwrap();
    std::fs::remove_file(d.merged.join("gone")).unwrap();
    overlay.unmount().unwrap();
    assert!(!is_mounted(&d.merged));

    assert_eq!(std::fs::read_to_string(d.upper.join("new")).unwrap(), "new");
    assert_eq!(
        std::fs::read_to_string(d.upper.join("a")).unwrap(),
        "changed"
    );
    assert_eq!(
        std::fs::read_to_string(base.path().join("a")).unwrap(),
        "base"
    );
    assert!(base.path().join("gone").exists());
    let whiteout = std::fs::symlink_metadata(d.upper.join("gone")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
}

#[test]
fn no_lowers_binds_the_upper_dir_and_drop_unmounts() {
    if !have_root() {
        return;
    }
    let d = dirs();
    {
        let _overlay = Overlay::mount(&[], &d.upper, &d.work, &d.merged).unwrap();
        std::fs::write(d.merged.join("f"), "x").unwrap();
        assert!(is_mounted(&d.merged));
    }
    assert!(!is_mounted(&d.merged));
    assert_eq!(std::fs::read_to_string(d.upper.join("f")).unwrap(), "x");
}

#[test]
fn a_busy_overlay_is_detached_on_drop() {
    if !have_root() {
        return;
    }
    let base = layer(&[("a", "base")]);
    let d = dirs();
    let overlay = Overlay::mount(&[base.path().into()], &d.upper, &d.work, &d.merged).unwrap();
    let open_file = std::fs::File::open(d.merged.join("a")).unwrap();
    drop(overlay);
    assert!(!is_mounted(&d.merged), "still mounted while a file is open");
    drop(open_file);
}

#[test]
fn many_and_oddly_named_lowers_mount_through_fd_paths() {
    if !have_root() {
        return;
    }
    let parent = tempfile::tempdir().unwrap();
    // 150 lowers with long names: far over one page of options as absolute paths.
    let lowers: Vec<PathBuf> = (0..150)
        .map(|i| {
            let dir = parent
                .path()
                .join(format!("layer,with:odd-name-{i:03}-{}", "x".repeat(40)));
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join(format!("f{i}")), i.to_string()).unwrap();
            std::fs::write(dir.join("top"), i.to_string()).unwrap();
            dir
        })
        .collect();
    let d = dirs();
    let overlay = Overlay::mount(&lowers, &d.upper, &d.work, &d.merged).unwrap();
    assert_eq!(std::fs::read_to_string(d.merged.join("f0")).unwrap(), "0");
    assert_eq!(
        std::fs::read_to_string(d.merged.join("top")).unwrap(),
        "149"
    );
    overlay.unmount().unwrap();

    // Distinct dirs: a repeated one is mounted once, at its highest place. 300 long names
    // are far over a page even as /proc/self/fd/N paths; as descriptor numbers they fit.
    let many: Vec<PathBuf> = (0..501)
        .map(|i| {
            let dir = parent
                .path()
                .join(format!("more-{i:03}-{}", "y".repeat(60)));
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("top"), i.to_string()).unwrap();
            dir
        })
        .collect();
    let overlay = Overlay::mount(&many[..300], &d.upper, &d.work, &d.merged).unwrap();
    assert_eq!(
        std::fs::read_to_string(d.merged.join("top")).unwrap(),
        "299"
    );
    overlay.unmount().unwrap();
    let err = Overlay::mount(&many, &d.upper, &d.work, &d.merged)
        .err()
        .expect("over overlayfs's 500");
    assert!(err.is::<skiff_sandbox::TooManyLayers>(), "{err:#}");
    assert!(format!("{err:#}").contains("501 layers"), "{err:#}");
}

#[test]
fn a_step_on_an_overlay_changes_only_the_upper_dir() {
    let Some(rt) = runtime() else { return };
    let base = tempfile::tempdir().unwrap();
    busybox_rootfs(base.path());
    std::fs::write(base.path().join("tmp/old"), "old").unwrap();
    let base_tree = tree(base.path());
    let d = dirs();
    let overlay = Overlay::mount(&[base.path().into()], &d.upper, &d.work, &d.merged).unwrap();
    let bound = tempfile::tempdir().unwrap();
    let mut spec = sh(
        &d.merged,
        "echo hi > /tmp/new && rm /tmp/old && echo b > /bound/b && echo t > /scratch/t && cat /etc/resolv.conf >/dev/null",
    );
    spec.mounts = vec![
        Mount {
            destination: "/bound".into(),
            kind: MountKind::Bind {
                source: bound.path().into(),
                readonly: false,
            },
        },
        Mount {
            destination: "/scratch".into(),
            kind: MountKind::Tmpfs { size: None },
        },
    ];
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    overlay.unmount().unwrap();

    assert_eq!(tree(base.path()), base_tree, "the lower dir changed");
    let upper = tree(&d.upper);
    let names: Vec<&str> = upper.iter().map(|p| p.to_str().unwrap()).collect();
    // /etc and /tmp are copied up (mount stubs, changes); nothing else may appear.
    assert_eq!(
        names,
        ["etc", "tmp", "tmp/new", "tmp/old"],
        "upper dir: {names:?}"
    );
    assert!(std::fs::symlink_metadata(d.upper.join("tmp/old"))
        .unwrap()
        .file_type()
        .is_char_device());
    assert_eq!(
        std::fs::read_to_string(bound.path().join("b")).unwrap(),
        "b\n"
    );
    // The copied-up /etc has the lower's metadata, so a differ can skip it.
    let (lower_etc, upper_etc) = (
        std::fs::metadata(base.path().join("etc")).unwrap(),
        std::fs::metadata(d.upper.join("etc")).unwrap(),
    );
    assert_eq!(
        (
            lower_etc.mode(),
            lower_etc.uid(),
            lower_etc.mtime(),
            lower_etc.mtime_nsec()
        ),
        (
            upper_etc.mode(),
            upper_etc.uid(),
            upper_etc.mtime(),
            upper_etc.mtime_nsec()
        )
    );
}
