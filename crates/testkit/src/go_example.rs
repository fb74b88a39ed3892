//! The seed story's inputs, for every test that builds `examples/go-server`: its files as a
//! build context, and the `golang:1.19-bookworm` and `debian:bookworm-slim` base images its
//! Dockerfiles name, made by skiff from the Debian root filesystems ([`crate::debian`]:
//! `FROM scratch` + `ADD rootfs.tar /` + ENV/WORKDIR/CMD) and pushed to a test registry.

use crate::debian::{self, DebianBase};
use crate::project::Project;
use crate::Registry;
use std::path::{Path, PathBuf};

/// `examples/go-server` in the repository.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/go-server")
}

/// Writes the example's files (it has no subdirectories) into `p`'s context.
pub fn write_example(p: &Project) {
    for entry in std::fs::read_dir(example_dir()).expect("listing examples/go-server") {
        let entry = entry.expect("an entry of examples/go-server");
        if entry.file_type().expect("its type").is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            p.write(&name, std::fs::read(entry.path()).expect("reading it"));
        }
    }
}

/// Builds `base` from its Debian root filesystem in `p` and pushes it to `registry` under
/// its usual name; returns the reference.
pub fn push_base(base: DebianBase, p: &Project, registry: &Registry) -> String {
    let tar = debian::rootfs_tar(base).unwrap_or_else(|e| panic!("{e:#}"));
    // Never written through: a `rootfs.tar` already there may be a hard link to the other
    // base's cached tarball.
    let dest = p.path("rootfs.tar");
    let _ = std::fs::remove_file(&dest);
    if std::fs::hard_link(&tar, &dest).is_err() {
        std::fs::copy(&tar, &dest).expect("copying the rootfs tarball");
    }
    p.dockerfile(&debian::image_config_for(base).dockerfile("rootfs.tar"));
    let tag = registry.reference(base.reference());
    p.build_ok(&["-t", &tag, "--push"]);
    tag
}
