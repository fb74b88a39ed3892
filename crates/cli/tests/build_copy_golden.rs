//! The bytes of COPY layers, pinned: a fixed context (fixed modes, times to the nanosecond,
//! symlinks, hard links, a fifo, an xattr) copied by a chain of COPY/ADD steps onto busybox,
//! and every layer's diff ID (the sha256 of its uncompressed tar) compared with the value
//! `main` produced before COPY learnt to write outside the overlay mount. A change to how a
//! COPY writes its files (through overlayfs, or straight into a directory stacked as the
//! layer) must not change one byte of what it produces.
//!
//! The steps cover what the rootfs underneath decides: files copied into directories of the
//! base (which then appear with the base's metadata), a file replacing a file of a lower layer,
//! a directory replacing a file (an opaque directory), destinations through symlinks of a
//! lower layer (relative, absolute, climbing out of the root and clamped), a copy into a
//! directory a lower COPY made with times older than the layer clamp, `--chown`/`--chmod`,
//! `--link`, ADD of a plain file and a heredoc.

use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
use skiff_testkit::project::Project;

/// The diff IDs of the layers above busybox's, as `main` (c86b51e) made them.
const GOLDEN: [&str; 13] = [
    "sha256:5a810771425eabbaef10a976921caf6b857d4284a6f0960c17603dddabb10cf2",
    "sha256:790eee4d17ab95644b056860da25cbbca47068c263aeeb1a0813d7a053f76595",
    "sha256:f08a9d76f6a2b5539ccb67916b9a2433fc48c3163b8252e89809070f566fe200",
    "sha256:bd404304148dd72acc07e5816d6da2621ddb51609b62d3dee2bd2cc70f1f381e",
    "sha256:99183a961b2199a4cb8e2c79bfae382d31bb2d3a55c2e9de43323b9618178f7b",
    "sha256:35f1966f6cb2946aa1d985ae0013aea80e0f3a4ae9edcaf5432b65b3d0d51201",
    "sha256:ad405a306d308051788c2ae0df51384b532d952baef953e23c65a1a51a988d47",
    "sha256:344d61f53e5a8c13a56e8fca91e73a09011b1916072131c849a0580293114b51",
    "sha256:7b7ba156eda0ef6cb8810f097ad593f40efda87e593156e63887b46314b3dc94",
    "sha256:108e215f32c82edfda3cb8a920a1814b1e564b94619619923ed8f58a2dc7b115",
    "sha256:3b888b3b1ea7f3ccb8b0c75ba92db7a6e98057e0fc6907adacefb467acd7f6fe",
    "sha256:9eea896f475e700ec24c2a69eee47b714c0c8d0cc355a6a4e6e369ce5a5b1b42",
    "sha256:d4c12bdcd6f93d3cf1eeb93496f568788004bbd2b25386b26cac27e321258be6",
];

const DOCKERFILE: &str = "FROM busybox\n\
COPY tree /opt/tree/\n\
COPY tree/sub /opt/tree/sub2/\n\
COPY over.txt /etc/group\n\
COPY links/ /\n\
COPY one.txt /optlink/via-link.txt\n\
COPY one.txt /up/escaped.txt\n\
COPY one.txt /opt/tree/link-rel\n\
COPY one.txt /opt/tree/empty/inside/\n\
COPY --chown=1000:1000 --chmod=0640 one.txt tree/a.txt /home/user/\n\
COPY --chmod=u+x,go-w tree /srv/\n\
COPY --link tree/sub /linked/\n\
ADD one.txt /added/\n\
COPY <<EOF /etc/heredoc\n\
from a heredoc\n\
EOF\n";

/// Sets `rel`'s access and modification times (symlinks not followed).
fn set_time(p: &Project, rel: &str, sec: i64, nsec: i64) {
    let ts = Timespec {
        tv_sec: sec,
        tv_nsec: nsec as _,
    };
    let times = Timestamps {
        last_access: ts,
        last_modification: ts,
    };
    utimensat(CWD, &p.path(rel), &times, AtFlags::SYMLINK_NOFOLLOW)
        .unwrap_or_else(|e| panic!("setting the times of {rel}: {e}"));
}

/// The fixed context. Returns false when its filesystem cannot hold the fixture (no user
/// xattrs), which would make other bytes.
fn write_context(p: &Project) -> bool {
    p.write("tree/a.txt", "a\n")
        .write_mode("tree/run.sh", "#!/bin/sh\necho run\n", 0o755)
        .write_mode("tree/secret", "s3cret\n", 0o600)
        .write_mode("tree/sub/deep/f", "deep\n", 0o640)
        .write("tree/sub/g", "g\n")
        .write("tree/hard1", "linked\n")
        .write("tree/empty", "")
        .write("over.txt", "root:x:0:\nover:x:7:\n")
        .write("one.txt", "one\n");
    std::fs::hard_link(p.path("tree/hard1"), p.path("tree/hard2")).unwrap();
    std::os::unix::fs::symlink("a.txt", p.path("tree/link-rel")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", p.path("tree/link-abs")).unwrap();
    std::fs::create_dir(p.path("links")).unwrap();
    std::os::unix::fs::symlink("/opt/tree/sub", p.path("links/optlink")).unwrap();
    std::os::unix::fs::symlink("../../../..", p.path("links/up")).unwrap();
    rustix::fs::mknodat(
        CWD,
        &p.path("tree/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    p.chmod("tree/fifo", 0o640).chmod("tree/sub", 0o750);
    if rustix::fs::lsetxattr(
        &p.path("tree/a.txt"),
        "user.skiff-golden",
        b"value",
        rustix::fs::XattrFlags::empty(),
    )
    .is_err()
    {
        return false;
    }
    // Times before the layer clamp (2000-01-01 plus the layers below) stay, later ones are
    // clamped; directories last, after their contents are in place.
    let times: [(&str, i64, i64); 17] = [
        ("tree/a.txt", 800_000_000, 123_456_789),
        ("tree/run.sh", 1_600_000_000, 5),
        ("tree/secret", 700_000_000, 0),
        ("tree/sub/deep/f", 600_000_000, 999_999_999),
        ("tree/sub/g", 650_000_000, 1),
        ("tree/hard1", 660_000_000, 0),
        ("tree/empty", 670_000_000, 42),
        ("tree/link-rel", 680_000_000, 7),
        ("tree/link-abs", 1_700_000_000, 0),
        ("tree/fifo", 690_000_000, 0),
        ("over.txt", 710_000_000, 0),
        ("one.txt", 720_000_000, 300),
        ("links/optlink", 730_000_000, 0),
        ("links/up", 740_000_000, 0),
        ("tree/sub/deep", 610_000_000, 11),
        ("tree/sub", 620_000_000, 12),
        ("tree", 630_000_000, 13),
    ];
    for (rel, sec, nsec) in times {
        set_time(p, rel, sec, nsec);
    }
    set_time(p, "links", 750_000_000, 0);
    true
}

fn diff_ids(config: &skiff_testkit::serde_json::Value) -> Vec<String> {
    config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn copy_layers_are_byte_for_byte_the_golden_ones() {
    let p = Project::new();
    p.dockerfile(DOCKERFILE);
    if !write_context(&p) {
        let reason = "the test context's filesystem has no user xattrs";
        assert!(!skiff_testkit::tools::in_ci(), "CI must not skip tests: {reason}");
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let (_, image) = p.build_image(&[]);
    let ids = diff_ids(&image.config);
    let ours = &ids[ids.len() - GOLDEN.len()..];
    assert_eq!(
        ours,
        GOLDEN,
        "the COPY layers changed; their entries:\n{}",
        describe(&image)
    );
    // The same again in a fresh store with the context written anew: nothing depends on
    // inodes, the store or the time of the build.
    let q = Project::new();
    q.dockerfile(DOCKERFILE);
    assert!(write_context(&q));
    let (_, again) = q.build_image(&["--no-cache"]);
    assert_eq!(diff_ids(&again.config), ids);
}

/// Each layer's entries, for the failure message.
fn describe(image: &skiff_testkit::project::BuiltImage) -> String {
    let mut out = String::new();
    for (i, layer) in image.layers.iter().enumerate().skip(1) {
        out.push_str(&format!("layer {i}:\n"));
        for (path, entry) in &layer.tree.entries {
            out.push_str(&format!(
                "  {path} {:?} {:o} {}:{} {}\n",
                entry.kind, entry.mode, entry.uid, entry.gid, entry.mtime
            ));
        }
    }
    out
}
