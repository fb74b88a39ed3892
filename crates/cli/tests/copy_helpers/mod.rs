//! What the COPY tests share: a users file pair and readers of one entry of a built image.
//! Each test file that includes it uses part of it.
#![allow(dead_code)]

use skiff_testkit::project::{BuiltImage, Kind, Project};

/// `passwd` and `group` files for `COPY passwd group /etc/`: root, and `app` (1000) whose
/// primary group is 1001, with a `staff` group (50).
pub fn write_users(p: &Project) -> &Project {
    p.write(
        "passwd",
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n",
    )
    .write("group", "root:x:0:\napp:x:1001:\nstaff:x:50:\n")
}

/// A file of the image: its text, mode, uid and gid.
pub fn file(image: &BuiltImage, path: &str) -> (String, u32, u64, u64) {
    let e = image.fs.entry(path);
    assert_eq!(e.kind, Kind::File, "{path} should be a file");
    (
        String::from_utf8(e.data.clone()).unwrap(),
        e.mode,
        e.uid,
        e.gid,
    )
}

/// A directory of the image: its mode, uid and gid.
pub fn dir(image: &BuiltImage, path: &str) -> (u32, u64, u64) {
    let e = image.fs.entry(path);
    assert_eq!(e.kind, Kind::Dir, "{path} should be a directory");
    (e.mode, e.uid, e.gid)
}
