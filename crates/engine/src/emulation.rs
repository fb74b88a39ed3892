//! RUN steps of a foreign architecture, through QEMU user emulation registered with the
//! kernel's binfmt_misc (Debian's `qemu-user-static` registers `qemu-<arch>` handlers with
//! the `F` flag). With `F` the kernel opened the emulator when it was registered, so a
//! foreign binary inside the step's root filesystem runs through it although the emulator is
//! not in that filesystem: runc starts the step's process as usual and the kernel does the
//! rest. Without a handler there is nothing skiff can do but say what to install.

use anyhow::{bail, Result};
use skiff_image::registry::Platform;
use std::path::PathBuf;

/// Where binfmt_misc handlers are listed; `SKIFF_BINFMT_MISC_DIR` overrides it (tests use it
/// to see the message of a machine without emulators).
fn binfmt_dir() -> PathBuf {
    std::env::var_os("SKIFF_BINFMT_MISC_DIR")
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("/proc/sys/fs/binfmt_misc"), PathBuf::from)
}

/// Whether the host runs `platform`'s binaries itself (its own architecture, and 386 on amd64).
pub fn is_native(platform: &Platform) -> bool {
    let host = Platform::host();
    platform.architecture.is_empty()
        || platform.architecture == host.architecture
        || (host.architecture == "amd64" && platform.architecture == "386")
}

/// QEMU's name for an architecture (the `qemu-<name>` binfmt handler).
fn qemu_name(architecture: &str) -> &str {
    match architecture {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        "386" => "i386",
        "mips64le" => "mips64el",
        "mipsle" => "mipsel",
        "loong64" => "loongarch64",
        other => other,
    }
}

/// The state of the handler for one architecture.
#[derive(Debug, PartialEq, Eq)]
pub enum Handler {
    /// Registered, enabled, with `F`: RUN works.
    Usable,
    /// binfmt_misc is not mounted.
    NoBinfmtMisc,
    /// No `qemu-<arch>` handler.
    Missing,
    /// Registered but disabled.
    Disabled,
    /// Registered without `F` (the emulator would be looked up inside the root filesystem).
    NoFixBinary,
}

/// What the host's binfmt_misc has for `platform`'s architecture.
pub fn handler(platform: &Platform) -> Handler {
    let dir = binfmt_dir();
    if !dir.join("register").exists() && !dir.join("status").exists() {
        return Handler::NoBinfmtMisc;
    }
    let path = dir.join(format!("qemu-{}", qemu_name(&platform.architecture)));
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Handler::Missing;
    };
    if text.lines().next() != Some("enabled") {
        return Handler::Disabled;
    }
    let flags = text.lines().find_map(|l| l.strip_prefix("flags:"));
    if !flags.is_some_and(|f| f.contains('F')) {
        return Handler::NoFixBinary;
    }
    Handler::Usable
}

/// The foreign platforms the host can run steps of (emulators registered with `F`).
pub fn emulated_platforms() -> Vec<Platform> {
    [
        "arm64", "arm", "amd64", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64",
    ]
    .into_iter()
    .map(|a| Platform::new("linux", a, None))
    .filter(|p| !is_native(p) && handler(p) == Handler::Usable)
    .collect()
}

/// Fails unless a RUN step for `platform` can run here: natively, or through an emulator.
pub fn require(platform: &Platform) -> Result<()> {
    if is_native(platform) {
        return Ok(());
    }
    let name = qemu_name(&platform.architecture);
    let path = binfmt_dir().join(format!("qemu-{name}"));
    let host = Platform::host();
    let why = match handler(platform) {
        Handler::Usable => return Ok(()),
        Handler::NoBinfmtMisc => format!(
            "binfmt_misc is not mounted at {} (mount -t binfmt_misc binfmt_misc {}), and \
             qemu-user-static registers its emulators there",
            binfmt_dir().display(),
            binfmt_dir().display()
        ),
        Handler::Missing => format!("no emulator for {name} is registered ({})", path.display()),
        Handler::Disabled => format!(
            "the emulator for {name} is registered but disabled (update-binfmts --enable qemu-{name})"
        ),
        Handler::NoFixBinary => format!(
            "the emulator for {name} is registered without the F flag ({}), so the kernel \
             would look for it inside the build's root filesystem; Debian's qemu-user-static \
             registers it with F",
            path.display()
        ),
    };
    bail!(
        "RUN for {platform} on this {host} machine needs QEMU user emulation: {why}. Install \
         the package qemu-user-static (apt-get install qemu-user-static), or build for {host}"
    )
}
