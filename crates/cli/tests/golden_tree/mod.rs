//! The fixed context and Dockerfile of the golden COPY layers (`build_copy_golden.rs`),
//! also built by `build_snapshots.rs` to check the snapshots a build keeps.
#![allow(dead_code)]

use rustix::fs::{utimensat, AtFlags, Timespec, Timestamps, CWD};
use skiff_testkit::project::Project;

/// The COPY/ADD chain, one layer a line after `FROM busybox`.
pub const DOCKERFILE: &str = "FROM busybox\n\
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
    utimensat(CWD, p.path(rel), &times, AtFlags::SYMLINK_NOFOLLOW)
        .unwrap_or_else(|e| panic!("setting the times of {rel}: {e}"));
}

/// The fixed context. Returns false when its filesystem cannot hold the fixture (no user
/// xattrs), which would make other bytes.
pub fn write_context(p: &Project) -> bool {
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
        p.path("tree/fifo"),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o640),
        0,
    )
    .unwrap();
    p.chmod("tree/fifo", 0o640).chmod("tree/sub", 0o750);
    if rustix::fs::lsetxattr(
        p.path("tree/a.txt"),
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
