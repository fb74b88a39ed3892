//! Making layers: round trip through apply, determinism, whiteout conversion.

use oci_spec::image::MediaType;
use sha2::{Digest as _, Sha256};
use skiff_image::layer::{self, ApplyMode, Compression, CreateOptions};
use skiff_image::Store;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Everything a layer must carry about a tree, path → description.
fn describe(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut inodes: BTreeMap<u64, String> = BTreeMap::new();
    describe_into(root, root, &mut out, &mut inodes);
    out
}

fn describe_into(
    root: &Path,
    dir: &Path,
    out: &mut BTreeMap<String, String>,
    inodes: &mut BTreeMap<u64, String>,
) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let m = fs::symlink_metadata(&p).unwrap();
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            "dir".to_string()
        } else if ft.is_symlink() {
            format!("symlink->{}", fs::read_link(&p).unwrap().display())
        } else if ft.is_file() {
            let content = hex::encode(Sha256::digest(fs::read(&p).unwrap()));
            // hardlinks: every path of an inode names the first one seen
            let first = inodes.entry(m.ino()).or_insert_with(|| rel.clone()).clone();
            format!("file:{content}:links={}:group={first}", m.nlink())
        } else if ft.is_fifo() {
            "fifo".into()
        } else {
            format!("dev:{}", m.rdev())
        };
        let mtime = if ft.is_symlink() { 0 } else { m.mtime() };
        let xattrs: Vec<String> = xattr_names(&p)
            .into_iter()
            .map(|n| {
                let mut v = vec![0u8; 256];
                let len = rustix::fs::lgetxattr(&p, n.as_str(), &mut v[..]).unwrap();
                format!("{n}={}", hex::encode(&v[..len]))
            })
            .collect();
        out.insert(
            rel,
            format!(
                "{kind} mode={:o} owner={}:{} mtime={mtime} xattrs={xattrs:?}",
                m.mode() & 0o7777,
                m.uid(),
                m.gid()
            ),
        );
        if ft.is_dir() {
            describe_into(root, &p, out, inodes);
        }
    }
}

fn xattr_names(p: &Path) -> Vec<String> {
    let mut buf = vec![0u8; 4096];
    let n = rustix::fs::llistxattr(p, &mut buf[..]).unwrap_or(0);
    let mut names: Vec<String> = buf[..n]
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .filter(|s| !s.starts_with("security.selinux"))
        .collect();
    names.sort();
    names
}

fn set_mtime(p: &Path, secs: i64) {
    let t = rustix::fs::Timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        p,
        &rustix::fs::Timestamps {
            last_access: t,
            last_modification: t,
        },
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .unwrap();
}

/// A tree with every kind of entry this user can make.
fn sample_tree(root: &Path) {
    fs::create_dir_all(root.join("a/b")).unwrap();
    fs::write(root.join("a/file"), b"hello\n").unwrap();
    fs::write(root.join("a/exec"), b"#!/bin/sh\n").unwrap();
    fs::set_permissions(root.join("a/exec"), fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(root.join("suid"), b"x").unwrap();
    fs::set_permissions(root.join("suid"), fs::Permissions::from_mode(0o4755)).unwrap();
    fs::hard_link(root.join("a/file"), root.join("hard")).unwrap();
    symlink("a/file", root.join("rel-link")).unwrap();
    symlink("/etc/passwd", root.join("abs-link")).unwrap();
    fs::create_dir(root.join("empty")).unwrap();
    fs::set_permissions(root.join("empty"), fs::Permissions::from_mode(0o700)).unwrap();
    let long = root.join("l".repeat(80)).join("m".repeat(80));
    fs::create_dir_all(&long).unwrap();
    fs::write(long.join("n".repeat(90)), b"deep").unwrap();
    fs::write(root.join("ünïcödé"), b"u").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    let _ = rustix::fs::setxattr(
        root.join("a/file"),
        "user.note",
        b"kept",
        rustix::fs::XattrFlags::empty(),
    ); // where the filesystem has user xattrs
    if is_root() {
        fs::write(root.join("owned"), b"o").unwrap();
        rustix::fs::chownat(
            rustix::fs::CWD,
            root.join("owned"),
            Some(rustix::fs::Uid::from_raw(1000)),
            Some(rustix::fs::Gid::from_raw(2000)),
            rustix::fs::AtFlags::empty(),
        )
        .unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.join("null"),
            rustix::fs::FileType::CharacterDevice,
            rustix::fs::Mode::from_raw_mode(0o666),
            rustix::fs::makedev(1, 3),
        )
        .unwrap();
        // cap_net_bind_service=ep (VFS_CAP_REVISION_2)
        let cap: [u8; 20] = [1, 0, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        fs::write(root.join("capped"), b"c").unwrap();
        rustix::fs::setxattr(
            root.join("capped"),
            "security.capability",
            &cap,
            rustix::fs::XattrFlags::empty(),
        )
        .unwrap();
    }
    fs::create_dir(root.join("ro")).unwrap();
    fs::write(root.join("ro/inside"), b"r").unwrap();
    fs::set_permissions(root.join("ro"), fs::Permissions::from_mode(0o555)).unwrap();
    set_mtime(&root.join("a/file"), 1_600_000_000);
    set_mtime(&root.join("ro"), 1_500_000_000);
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store")).unwrap();
    (dir, store)
}

#[test]
fn round_trip_keeps_the_tree() {
    let (tmp, store) = store();
    let src = tmp.path().join("src");
    sample_tree(&src);
    for compression in [
        Compression::Gzip,
        Compression::Zstd,
        Compression::Uncompressed,
    ] {
        let opts = CreateOptions {
            compression,
            source_date_epoch: None,
        };
        let made = layer::create(&store, &src, &opts)
            .unwrap()
            .expect("a layer");
        let expected_type = match compression {
            Compression::Gzip => MediaType::ImageLayerGzip,
            Compression::Zstd => MediaType::ImageLayerZstd,
            Compression::Uncompressed => MediaType::ImageLayer,
        };
        assert_eq!(made.descriptor.media_type(), &expected_type);
        let blob = store.read_blob(made.descriptor.digest()).unwrap();
        assert_eq!(blob.len() as u64, made.descriptor.size());

        let dst = tmp.path().join(format!("dst-{compression:?}"));
        fs::create_dir(&dst).unwrap();
        let diff_id = layer::apply_flat(&blob[..], &dst).unwrap();
        assert_eq!(diff_id, made.diff_id);
        // Everything but the user xattr: a layer records only security.capability (as
        // BuildKit's layers do), so `user.note` is dropped and `capped` keeps its capability.
        let mut expected = describe(&src);
        for line in expected.values_mut() {
            *line = line.replace(
                &format!("{:?}", format!("user.note={}", hex::encode("kept"))),
                "",
            );
        }
        assert_eq!(describe(&dst), expected, "{compression:?}");
        assert!(xattr_names(&dst.join("a/file")).is_empty());
        if is_root() {
            assert_eq!(xattr_names(&dst.join("capped")), ["security.capability"]);
        }
    }
}

#[test]
fn diff_id_is_the_uncompressed_tar() {
    let (tmp, store) = store();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let made = layer::create(&store, &src, &CreateOptions::default())
        .unwrap()
        .unwrap();
    let mut tar = Vec::new();
    let n = layer::write_tar(&src, &mut tar, None).unwrap();
    assert!(n > 10);
    assert_eq!(
        made.diff_id.to_string(),
        format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
    );
    // headers: no uname/gname, USTAR magic, names relative, dirs with a slash
    let mut archive = tar::Archive::new(&tar[..]);
    let mut names = Vec::new();
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.username_bytes(), Some(&b""[..]));
        assert_eq!(h.groupname_bytes(), Some(&b""[..]));
        assert!(h.as_ustar().is_some());
        names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
    }
    assert_eq!(names[0], "a/");
    assert!(names.contains(&"a/b/".to_string()));
    assert!(!names
        .iter()
        .any(|n| n.starts_with('/') || n.starts_with("./")));
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| {
        n.trim_end_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    assert_eq!(names, sorted, "entries are in sorted walk order");
}

#[test]
fn same_tree_same_digest_and_source_date_epoch_clamps() {
    let (tmp, store) = store();
    let src = tmp.path().join("src");
    sample_tree(&src);
    let digest = |sde: Option<i64>, c: Compression| {
        let opts = CreateOptions {
            compression: c,
            source_date_epoch: sde,
        };
        layer::create(&store, &src, &opts)
            .unwrap()
            .unwrap()
            .descriptor
            .digest()
            .clone()
    };
    for c in [Compression::Gzip, Compression::Zstd] {
        assert_eq!(digest(None, c), digest(None, c), "{c:?}");
    }
    let before = digest(Some(1_000_000), Compression::Gzip);
    let plain_before = digest(None, Compression::Gzip);
    // touch everything to other (later) times
    for p in ["a/file", "a/exec", "suid", "empty", "a", "fifo"] {
        set_mtime(&src.join(p), 1_700_000_000);
    }
    assert_eq!(digest(Some(1_000_000), Compression::Gzip), before);
    assert_ne!(digest(None, Compression::Gzip), plain_before);
}

#[test]
fn empty_change_makes_no_layer() {
    let (tmp, store) = store();
    let src = tmp.path().join("src");
    fs::create_dir(&src).unwrap();
    assert!(layer::create(&store, &src, &CreateOptions::default())
        .unwrap()
        .is_none());
    assert_eq!(
        fs::read_dir(store.root().join("blobs/sha256"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(fs::read_dir(store.root().join("tmp")).unwrap().count(), 0);
}

#[test]
fn whiteouts_convert_both_ways() {
    if !is_root() {
        eprintln!("SKIP whiteouts_convert_both_ways: overlay whiteouts need root");
        return;
    }
    let (tmp, store) = store();
    // an overlay upper dir: "gone" deleted, "opq" made opaque with one new file
    let upper = tmp.path().join("upper");
    fs::create_dir_all(upper.join("opq")).unwrap();
    fs::write(upper.join("opq/new"), b"new").unwrap();
    rustix::fs::setxattr(
        upper.join("opq"),
        "trusted.overlay.opaque",
        b"y",
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        upper.join("gone"),
        rustix::fs::FileType::CharacterDevice,
        rustix::fs::Mode::empty(),
        rustix::fs::makedev(0, 0),
    )
    .unwrap();
    let made = layer::create(&store, &upper, &CreateOptions::default())
        .unwrap()
        .unwrap();
    let blob = store.read_blob(made.descriptor.digest()).unwrap();

    let mut names = Vec::new();
    let mut archive = tar::Archive::new(layer::decompressed(&blob[..]).unwrap());
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let xattrs: Vec<String> = e
            .pax_extensions()
            .unwrap()
            .map(|p| p.map(|x| x.unwrap().key().unwrap().to_string()).collect())
            .unwrap_or_default();
        assert!(
            !xattrs.iter().any(|k| k.contains("overlay")),
            "overlay xattrs leak into the layer: {xattrs:?}"
        );
        names.push(String::from_utf8_lossy(&e.path_bytes()).into_owned());
    }
    assert_eq!(names, [".wh.gone", "opq/", "opq/.wh..wh..opq", "opq/new"]);

    // OCI → overlay
    let snap = tmp.path().join("snap");
    fs::create_dir(&snap).unwrap();
    layer::apply(&blob[..], &snap, ApplyMode::Overlay).unwrap();
    let wh = fs::symlink_metadata(snap.join("gone")).unwrap();
    assert!(wh.file_type().is_char_device() && wh.rdev() == 0);
    let mut v = [0u8; 4];
    let n = rustix::fs::getxattr(snap.join("opq"), "trusted.overlay.opaque", &mut v[..]).unwrap();
    assert_eq!(&v[..n], b"y");
    // and back: the snapshot makes the same layer
    let again = layer::create(&store, &snap, &CreateOptions::default())
        .unwrap()
        .unwrap();
    assert_eq!(again.diff_id, made.diff_id);

    // OCI → flat: whiteouts delete
    let flat = tmp.path().join("flat");
    fs::create_dir_all(flat.join("opq/old-dir")).unwrap();
    fs::write(flat.join("opq/old"), b"old").unwrap();
    fs::write(flat.join("gone"), b"bye").unwrap();
    fs::write(flat.join("stays"), b"s").unwrap();
    layer::apply_flat(&blob[..], &flat).unwrap();
    let mut left: Vec<_> = describe(&flat).into_keys().collect();
    left.sort();
    assert_eq!(left, ["opq", "opq/new", "stays"]);
}

#[test]
fn opaque_keeps_what_the_same_layer_wrote_before_the_marker() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    fs::create_dir_all(root.join("d/sub")).unwrap();
    fs::write(root.join("d/sub/lower"), b"l").unwrap();
    fs::write(root.join("d/lower"), b"l").unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind) in [
        ("d/", tar::EntryType::Directory),
        ("d/sub/mine", tar::EntryType::Regular),
        ("d/.wh..wh..opq", tar::EntryType::Regular),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_path(path).unwrap();
        h.set_entry_type(kind);
        h.set_mode(0o755);
        h.set_size(0);
        h.set_cksum();
        b.append(&h, std::io::empty()).unwrap();
    }
    let tar = b.into_inner().unwrap();
    layer::apply_flat(&tar[..], root).unwrap();
    let left: Vec<_> = describe(root).into_keys().collect();
    assert_eq!(left, ["d", "d/sub", "d/sub/mine"]);
}
