//! `USER` resolution against a rootfs's own passwd and group files.

use skiff_sandbox::{resolve_user, User};
use std::os::unix::fs::symlink;
use std::path::Path;

fn rootfs() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    std::fs::write(
        etc.join("passwd"),
        "# comment\nroot:x:0:0:root:/root:/bin/sh\nappuser:x:1000:1000::/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        etc.join("group"),
        "root:x:0:\napp:x:1000:\nextra:x:2000:appuser\nmore:x:3000:other,appuser\n",
    )
    .unwrap();
    root
}

fn user(uid: u32, gid: u32, additional_gids: &[u32]) -> User {
    User {
        uid,
        gid,
        additional_gids: additional_gids.to_vec(),
    }
}

/// The primary group is always a supplementary group too (BuildKit's `ensureAdditionalGids`).
#[test]
fn names_and_numbers_resolve_like_buildkit() {
    let root = rootfs();
    let r = |spec: &str| resolve_user(root.path(), spec).unwrap();
    assert_eq!(r(""), user(0, 0, &[0]));
    assert_eq!(r("root"), user(0, 0, &[0]));
    assert_eq!(r("appuser"), user(1000, 1000, &[1000, 2000, 3000]));
    assert_eq!(r("1000"), user(1000, 1000, &[1000, 2000, 3000]));
    assert_eq!(r("appuser:extra"), user(1000, 2000, &[2000]));
    assert_eq!(r("appuser:3000"), user(1000, 3000, &[3000]));
    assert_eq!(r("4242"), user(4242, 0, &[0]));
    assert_eq!(r("4242:4343"), user(4242, 4343, &[4343]));
}

#[test]
fn unknown_names_fail_with_buildkits_messages() {
    let root = rootfs();
    let err = resolve_user(root.path(), "nobody").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find user nobody: no matching entries in passwd file"
    );
    let err = resolve_user(root.path(), "appuser:nogroup").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unable to find group nogroup: no matching entries in group file"
    );
}

#[test]
fn only_the_rootfs_files_are_read() {
    // No files at all: numbers work, names do not (the host's root is not consulted).
    let empty = tempfile::tempdir().unwrap();
    assert_eq!(resolve_user(empty.path(), "0:0").unwrap(), user(0, 0, &[0]));
    assert!(resolve_user(empty.path(), "root").is_err());

    // An absolute symlink resolves inside the rootfs, not on the host.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("real")).unwrap();
    std::fs::write(
        root.path().join("real/passwd"),
        "builder:x:7:8::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::create_dir(root.path().join("etc")).unwrap();
    symlink("/real/passwd", root.path().join("etc/passwd")).unwrap();
    assert_eq!(
        resolve_user(root.path(), "builder").unwrap(),
        user(7, 8, &[8])
    );
    let escape = Path::new("../../../../../../../../etc/shadow-not-here");
    std::fs::remove_file(root.path().join("etc/passwd")).unwrap();
    symlink(escape, root.path().join("etc/passwd")).unwrap();
    assert!(resolve_user(root.path(), "root").is_err());
}
