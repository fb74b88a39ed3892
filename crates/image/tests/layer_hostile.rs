//! Hostile layer tarballs: every escape attempt is refused with an error naming
//! the entry, and nothing appears or changes outside the extraction root.
//! Each case runs in both apply modes (overlay mode needs root).

use skiff_image::layer::{apply, ApplyMode};
use std::path::Path;

enum E<'a> {
    File(&'a [u8], &'a [u8]),
    Dir(&'a [u8]),
    Symlink(&'a [u8], &'a [u8]),
    Hardlink(&'a [u8], &'a [u8]),
}

/// A tar written with raw header fields, so names the `tar` crate would
/// normally refuse (absolute, `..`) go in as they are.
fn tarball(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_ustar();
        let (name, kind, link, data): (&[u8], _, &[u8], &[u8]) = match e {
            E::File(n, d) => (n, tar::EntryType::Regular, b"", d),
            E::Dir(n) => (n, tar::EntryType::Directory, b"", b""),
            E::Symlink(n, t) => (n, tar::EntryType::Symlink, t, b""),
            E::Hardlink(n, t) => (n, tar::EntryType::Link, t, b""),
        };
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name);
        old.linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_mode(if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        });
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, data).unwrap();
    }
    b.into_inner().unwrap()
}

struct Arena {
    _tmp: tempfile::TempDir,
    base: std::path::PathBuf,
}

impl Arena {
    fn new() -> Arena {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().to_path_buf();
        std::fs::create_dir_all(base.join("deep/er/root")).unwrap();
        std::fs::create_dir(base.join("sentinel")).unwrap();
        std::fs::write(base.join("sentinel/victim"), b"original").unwrap();
        Arena { _tmp: tmp, base }
    }
    fn root(&self) -> std::path::PathBuf {
        self.base.join("deep/er/root")
    }
    fn sentinel(&self) -> String {
        self.base.join("sentinel").to_string_lossy().into_owned()
    }
    /// Nothing was created or changed outside the root.
    fn assert_untouched(&self) {
        let names = |p: &Path| {
            let mut v: Vec<_> = std::fs::read_dir(p)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(names(&self.base), ["deep", "sentinel"]);
        assert_eq!(names(&self.base.join("deep")), ["er"]);
        assert_eq!(names(&self.base.join("deep/er")), ["root"]);
        assert_eq!(names(&self.base.join("sentinel")), ["victim"]);
        assert_eq!(
            std::fs::read(self.base.join("sentinel/victim")).unwrap(),
            b"original"
        );
    }
}

fn modes() -> Vec<ApplyMode> {
    if rustix::process::geteuid().is_root() {
        vec![ApplyMode::Flat, ApplyMode::Overlay]
    } else {
        eprintln!("note: not root, overlay mode is not exercised");
        vec![ApplyMode::Flat]
    }
}

/// Applies `layers` in order; the last must be refused naming `entry`.
fn refused(make: impl Fn(&Arena) -> Vec<Vec<u8>>, entry: &str) {
    for mode in modes() {
        let arena = Arena::new();
        let layers = make(&arena);
        let (last, earlier) = layers.split_last().unwrap();
        for l in earlier {
            apply(&l[..], &arena.root(), mode).unwrap();
        }
        let err = apply(&last[..], &arena.root(), mode).expect_err("a hostile layer was accepted");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("{entry:?}")) && msg.contains("refused"),
            "{mode:?}: error does not name {entry:?}: {msg}"
        );
        arena.assert_untouched();
    }
}

#[test]
fn dotdot_entries_are_refused() {
    refused(
        |_| vec![tarball(&[E::File(b"../../../escape", b"x")])],
        "../../../escape",
    );
    refused(
        |_| vec![tarball(&[E::File(b"a/../../../../escape", b"x")])],
        "a/../../../../escape",
    );
    refused(
        |_| vec![tarball(&[E::Dir(b"../../../escape/")])],
        "../../../escape/",
    );
}

#[test]
fn absolute_paths_are_refused() {
    for mode in modes() {
        let arena = Arena::new();
        let path = format!("{}/victim", arena.sentinel());
        let layer = tarball(&[E::File(path.as_bytes(), b"pwned")]);
        let err = apply(&layer[..], &arena.root(), mode).expect_err("absolute path accepted");
        let msg = format!("{err:#}");
        assert!(
            msg.contains(&format!("{path:?}: refused")),
            "{mode:?}: {msg}"
        );
        arena.assert_untouched();
    }
}

#[test]
fn entries_under_a_symlinked_parent_are_refused() {
    refused(
        |a| {
            vec![tarball(&[
                E::Symlink(b"a", a.sentinel().as_bytes()),
                E::File(b"a/victim", b"pwned"),
            ])]
        },
        "a/victim",
    );
    refused(
        |_| {
            vec![tarball(&[
                E::Symlink(b"up", b"../../.."),
                E::File(b"up/escape", b"pwned"),
            ])]
        },
        "up/escape",
    );
    // the symlink planted by an earlier layer
    refused(
        |a| {
            vec![
                tarball(&[E::Symlink(b"etc", a.sentinel().as_bytes())]),
                tarball(&[E::File(b"etc/victim", b"pwned")]),
            ]
        },
        "etc/victim",
    );
    // a directory entry below the symlink
    refused(
        |a| {
            vec![tarball(&[
                E::Symlink(b"a", a.sentinel().as_bytes()),
                E::Dir(b"a/sub/"),
            ])]
        },
        "a/sub/",
    );
}

#[test]
fn hardlinks_pointing_out_are_refused() {
    refused(
        |_| vec![tarball(&[E::Hardlink(b"h", b"../../../sentinel/victim")])],
        "h",
    );
    refused(
        |a| {
            let t = format!("{}/victim", a.sentinel());
            vec![tarball(&[E::Hardlink(b"h", t.as_bytes())])]
        },
        "h",
    );
    refused(
        |a| {
            vec![tarball(&[
                E::Symlink(b"s", a.sentinel().as_bytes()),
                E::Hardlink(b"h", b"s/victim"),
            ])]
        },
        "h",
    );
}

#[test]
fn whiteouts_through_symlinks_are_refused() {
    // only flat mode deletes, but both modes must refuse the path
    refused(
        |a| {
            vec![tarball(&[
                E::Symlink(b"a", a.sentinel().as_bytes()),
                E::File(b"a/.wh.victim", b""),
            ])]
        },
        "a/.wh.victim",
    );
    refused(
        |a| {
            vec![tarball(&[
                E::Symlink(b"a", a.sentinel().as_bytes()),
                E::File(b"a/.wh..wh..opq", b""),
            ])]
        },
        "a/.wh..wh..opq",
    );
    refused(|_| vec![tarball(&[E::File(b".wh...", b"")])], ".wh...");
}

#[test]
fn overwriting_a_symlink_replaces_it_instead_of_writing_through() {
    for mode in modes() {
        let arena = Arena::new();
        let target = format!("{}/victim", arena.sentinel());
        let layer = tarball(&[
            E::Symlink(b"f", target.as_bytes()),
            E::File(b"f", b"pwned"),
            E::Symlink(b"d", arena.sentinel().as_bytes()),
            E::Dir(b"d/"),
            E::File(b"d/x", b"inside"),
            // a hardlink to a symlink links the symlink itself, then gets overwritten
            E::Symlink(b"l", target.as_bytes()),
            E::Hardlink(b"h", b"l"),
            E::File(b"h", b"pwned too"),
        ]);
        apply(&layer[..], &arena.root(), mode).unwrap();
        arena.assert_untouched();
        let root = arena.root();
        assert_eq!(std::fs::read(root.join("f")).unwrap(), b"pwned");
        assert!(std::fs::symlink_metadata(root.join("f")).unwrap().is_file());
        assert!(std::fs::symlink_metadata(root.join("d")).unwrap().is_dir());
        assert_eq!(std::fs::read(root.join("d/x")).unwrap(), b"inside");
        assert!(std::fs::symlink_metadata(root.join("l"))
            .unwrap()
            .is_symlink());
        assert_eq!(std::fs::read(root.join("h")).unwrap(), b"pwned too");
    }
}

#[test]
fn garbage_is_a_clear_error() {
    let arena = Arena::new();
    let err = apply(
        &b"definitely not a tar archive, just some bytes"[..],
        &arena.root(),
        ApplyMode::Flat,
    )
    .expect_err("garbage accepted");
    assert!(format!("{err:#}").contains("tar"), "{err:#}");
    arena.assert_untouched();
}
