//! The busybox base image every test builds on, made from Debian's `busybox-static` package:
//! `/bin/busybox` plus its applet symlinks (`busybox --install -s` semantics), `/etc/passwd`
//! and `/etc/group` with root and nobody, `/tmp` (1777) and `/root`.
//!
//! The OCI layout is cached on disk (`$SKIFF_TESTKIT_CACHE`, default `/var/tmp/skiff-testkit`),
//! keyed by the busybox binary's digest, so only the first run of a machine builds it.

use crate::cache::cache_dir;
use crate::layout::{self, Layer, FIXED_MTIME};
use crate::push::{push_layout, ImageRef};
use crate::registry::Registry;
use anyhow::{Context, Result};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where `busybox-static` installs the static binary.
pub const BUSYBOX_BIN: &str = "/bin/busybox";

/// The repository and tag the fixture is pushed under in a test registry.
pub const BUSYBOX_REPOSITORY_TAG: &str = "testkit/busybox:latest";

/// Bumped whenever the recipe changes so that old cached layouts are not reused.
const RECIPE_VERSION: u32 = 1;

/// The tag inside the cached OCI layout (`oci:DIR:TAG`).
pub const LAYOUT_TAG: &str = "latest";

const PASSWD: &str =
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP: &str = "root:x:0:\nnobody:x:65534:\n";

/// Builds (or reuses) the busybox image and pushes it to `registry` as
/// `ADDR/testkit/busybox:latest`. The returned digest is the manifest's, unchanged by the push.
pub fn busybox_image(registry: &Registry) -> Result<ImageRef> {
    let dir = busybox_layout()?;
    push_layout(registry, &dir, LAYOUT_TAG, BUSYBOX_REPOSITORY_TAG)
}

/// The cached OCI layout of the busybox image (built on first use).
pub fn busybox_layout() -> Result<PathBuf> {
    let busybox = std::fs::read(BUSYBOX_BIN).with_context(|| {
        format!("reading {BUSYBOX_BIN} (install it: apt-get install busybox-static)")
    })?;
    let key = &layout::sha256_digest(&busybox)["sha256:".len()..][..16];
    let cache = cache_dir();
    let dir = cache.join(format!("busybox-v{RECIPE_VERSION}-{key}"));
    if dir.join("index.json").exists() {
        return Ok(dir);
    }
    std::fs::create_dir_all(&cache).with_context(|| {
        format!(
            "creating the testkit cache {} (set SKIFF_TESTKIT_CACHE to a writable directory)",
            cache.display()
        )
    })?;
    // Build beside the final place and rename: concurrent builders each finish their own copy
    // and the first rename wins; the layout is never seen half-written.
    let scratch = tempfile::Builder::new()
        .prefix(".busybox-build-")
        .tempdir_in(&cache)?;
    let tar = rootfs_tar(&busybox)?;
    layout::write_layout(
        scratch.path(),
        LAYOUT_TAG,
        &[Layer { tar, gzip: true }],
        container_config(),
    )?;
    let built = scratch.keep();
    if std::fs::rename(&built, &dir).is_err() {
        // Someone else finished first; theirs is identical.
        let _ = std::fs::remove_dir_all(&built);
    }
    Ok(dir)
}

/// The busybox image's `config` object.
pub(crate) fn container_config() -> serde_json::Value {
    json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    })
}

/// The applets' install paths (`usr/bin/wget`, `bin/sh`, …), as `busybox --list-full` gives them.
pub(crate) fn applet_paths() -> Result<Vec<String>> {
    let output = Command::new(BUSYBOX_BIN)
        .arg("--list-full")
        .output()
        .with_context(|| format!("running {BUSYBOX_BIN} --list-full"))?;
    anyhow::ensure!(
        output.status.success(),
        "{BUSYBOX_BIN} --list-full failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?
        .lines()
        .map(|l| l.trim().trim_start_matches('/').to_string())
        .filter(|l| !l.is_empty() && l != "bin/busybox")
        .collect())
}

/// The busybox root filesystem around the binary `busybox` (of any architecture; the applet
/// list is the host busybox's, the same Debian version).
pub(crate) fn rootfs_tar(busybox: &[u8]) -> Result<Vec<u8>> {
    let applets = applet_paths()?;
    // Sorted by path, so every directory comes before what it contains.
    let mut dirs: BTreeMap<String, u32> = [
        ("bin", 0o755),
        ("dev", 0o755),
        ("etc", 0o755),
        ("home", 0o755),
        ("proc", 0o755),
        ("root", 0o700),
        ("sys", 0o755),
        ("tmp", 0o1777),
        ("usr", 0o755),
        ("var", 0o755),
    ]
    .into_iter()
    .map(|(d, m)| (d.to_string(), m))
    .collect();
    for applet in &applets {
        for dir in Path::new(applet).ancestors().skip(1) {
            if !dir.as_os_str().is_empty() {
                dirs.entry(dir.to_string_lossy().into_owned())
                    .or_insert(0o755);
            }
        }
    }
    let mut builder = tar::Builder::new(Vec::new());
    for (dir, mode) in &dirs {
        let mut h = header(tar::EntryType::Directory, *mode, 0);
        builder.append_data(&mut h, format!("{dir}/"), std::io::empty())?;
    }
    let mut h = header(tar::EntryType::Regular, 0o755, busybox.len() as u64);
    builder.append_data(&mut h, "bin/busybox", busybox)?;
    for (path, contents) in [("etc/passwd", PASSWD), ("etc/group", GROUP)] {
        let mut h = header(tar::EntryType::Regular, 0o644, contents.len() as u64);
        builder.append_data(&mut h, path, contents.as_bytes())?;
    }
    for applet in &applets {
        let mut h = header(tar::EntryType::Symlink, 0o777, 0);
        builder.append_link(&mut h, applet, "/bin/busybox")?;
    }
    Ok(builder.into_inner()?)
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(FIXED_MTIME);
    h
}
