//! Docker's default seccomp profile for RUN, as BuildKit applies it to every step that is not
//! `--security=insecure` (`executor/oci/spec_linux.go`: `seccomp.GetDefaultProfile(spec)` after the
//! capabilities are set). The rules are moby's `profiles/seccomp/default.json`, kept as data in
//! `profile.rs`; this module selects them as moby's `setupSeccomp` does.
//!
//! Which architectures: moby (so BuildKit) filters on the architecture the builder runs on, not
//! the target platform's, and so does this module. Steps of a foreign platform run under
//! qemu-user, so the syscalls that reach the kernel are the emulator's, in the host's ABI; and
//! the platforms the host kernel runs natively (386 and x32 on amd64, arm on arm64) are the
//! host's sub-architectures, which the filter lists. Evaluating the rules' `arches` conditions
//! for a target instead would be wrong for those syscalls (the s390 `clone` rule compares the
//! second argument, which on the host is the child's stack).

mod profile;
mod rules;

use oci_spec::runtime::{
    Arch, Capabilities, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompBuilder,
};
use rules::Facts;

/// libseccomp's name for the architecture this binary runs on (moby's `goToNative`).
fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        "powerpc64" => "ppc64",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        "loongarch64" => "loongarch64",
        "mips64" if cfg!(target_endian = "little") => "mipsel64",
        "mips64" => "mips64",
        other => other,
    }
}

/// The seccomp architecture of a libseccomp native name (moby's `nativeToSeccomp`).
fn seccomp_arch(native: &str) -> Option<Arch> {
    Some(match native {
        "x86" => Arch::ScmpArchX86,
        "amd64" => Arch::ScmpArchX86_64,
        "arm" => Arch::ScmpArchArm,
        "arm64" => Arch::ScmpArchAarch64,
        "loongarch64" => Arch::ScmpArchLoongarch64,
        "mips64" => Arch::ScmpArchMips64,
        "mipsel64" => Arch::ScmpArchMipsel64,
        "ppc64" => Arch::ScmpArchPpc64,
        "ppc64le" => Arch::ScmpArchPpc64le,
        "riscv64" => Arch::ScmpArchRiscv64,
        "s390x" => Arch::ScmpArchS390x,
        _ => return None,
    })
}

/// The architectures filtered for `native`: its own and its sub-architectures (`archMap`).
/// Empty when the profile has no entry; the runtime then filters the native one only.
fn architectures(native: &str) -> Vec<Arch> {
    let Some(arch) = seccomp_arch(native) else {
        return Vec::new();
    };
    profile::ARCH_MAP
        .iter()
        .find(|(main, _)| *main == arch)
        .map(|(main, subs)| std::iter::once(*main).chain(subs.iter().copied()).collect())
        .unwrap_or_default()
}

/// The running kernel's (major, minor), as moby's `kernelGreaterEqualThan` reads it.
fn kernel_version() -> Option<(u32, u32)> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    parse_kernel_version(&release)
}

fn parse_kernel_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.trim().split(['.', '-', '+']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// Docker's default profile for a step whose bounding capability set is `bounding`: every
/// syscall the profile does not allow fails with EPERM; rules that depend on a capability are
/// in only when the step has it (`CAP_SYS_ADMIN` would allow `mount`, `unshare`, `setns`, …),
/// and without `CAP_SYS_ADMIN` `clone` may not create namespaces and `clone3` fails with ENOSYS
/// (so that libcs fall back to `clone`, whose flags can be checked).
pub(crate) fn default_profile(
    bounding: &Capabilities,
) -> Result<LinuxSeccomp, oci_spec::OciSpecError> {
    profile_for(bounding, host_arch(), kernel_version())
}

fn profile_for(
    bounding: &Capabilities,
    arch: &str,
    kernel: Option<(u32, u32)>,
) -> Result<LinuxSeccomp, oci_spec::OciSpecError> {
    let facts = Facts {
        arch,
        caps: bounding,
        kernel,
    };
    let syscalls = profile::RULES
        .iter()
        .filter(|rule| rule.applies(&facts))
        .map(|rule| rule.to_oci())
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = LinuxSeccompBuilder::default()
        .default_action(LinuxSeccompAction::ScmpActErrno)
        .default_errno_ret(profile::DEFAULT_ERRNO)
        .syscalls(syscalls);
    let arches = architectures(arch);
    if !arches.is_empty() {
        builder = builder.architectures(arches);
    }
    builder.build()
}

#[cfg(test)]
mod tests;
