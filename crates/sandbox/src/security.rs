//! What `RUN --security=insecure` grants, as BuildKit's `security.WithInsecureSpec`
//! (`util/entitlements/security/security_linux.go`): every capability the builder has, added to
//! every set; and, unless the builder runs in a user namespace, the host's kmsg, cuse, fuse, kvm,
//! tun, loop-control and loop devices. The rest of that mode (no seccomp, nothing masked or
//! read-only, all devices allowed by the cgroup, a writable `/sys`) is in `bundle.rs`.

use anyhow::{Context, Result};
use oci_spec::runtime::{
    Capabilities, Capability, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceType,
};
use std::path::Path;

/// Capabilities by bit number (`include/uapi/linux/capability.h`).
const CAPABILITY_BITS: [Capability; 41] = [
    Capability::Chown,
    Capability::DacOverride,
    Capability::DacReadSearch,
    Capability::Fowner,
    Capability::Fsetid,
    Capability::Kill,
    Capability::Setgid,
    Capability::Setuid,
    Capability::Setpcap,
    Capability::LinuxImmutable,
    Capability::NetBindService,
    Capability::NetBroadcast,
    Capability::NetAdmin,
    Capability::NetRaw,
    Capability::IpcLock,
    Capability::IpcOwner,
    Capability::SysModule,
    Capability::SysRawio,
    Capability::SysChroot,
    Capability::SysPtrace,
    Capability::SysPacct,
    Capability::SysAdmin,
    Capability::SysBoot,
    Capability::SysNice,
    Capability::SysResource,
    Capability::SysTime,
    Capability::SysTtyConfig,
    Capability::Mknod,
    Capability::Lease,
    Capability::AuditWrite,
    Capability::AuditControl,
    Capability::Setfcap,
    Capability::MacOverride,
    Capability::MacAdmin,
    Capability::Syslog,
    Capability::WakeAlarm,
    Capability::BlockSuspend,
    Capability::AuditRead,
    Capability::Perfmon,
    Capability::Bpf,
    Capability::CheckpointRestore,
];

/// The capabilities of this process's effective set that have a name (containerd's
/// `cap.Current()`, which BuildKit grants to an insecure step).
pub(crate) fn current_capabilities() -> Result<Capabilities> {
    let status =
        std::fs::read_to_string("/proc/self/status").context("reading /proc/self/status")?;
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .context("no CapEff line in /proc/self/status")?;
    let bits = u64::from_str_radix(hex.trim(), 16)
        .with_context(|| format!("CapEff {:?} is not hexadecimal", hex.trim()))?;
    Ok(capabilities_of(bits))
}

fn capabilities_of(bits: u64) -> Capabilities {
    CAPABILITY_BITS
        .iter()
        .enumerate()
        .filter(|(bit, _)| bits & (1 << bit) != 0)
        .map(|(_, cap)| *cap)
        .collect()
}

/// Whether this process runs in a user namespace (moby's `userns.RunningInUserNS`): its uid map
/// is not the initial namespace's identity map of every id.
fn running_in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        }
        Err(_) => false,
    }
}

/// The first loop device no file is bound to, as `LOOP_CTL_GET_FREE` answers (a number not yet
/// created counts as free: the kernel creates it on demand). Read from sysfs, which lists
/// `loop/` only under bound devices; 0 when there is no loop support, as BuildKit falls back.
fn first_free_loop() -> i64 {
    if !Path::new("/dev/loop-control").exists() {
        return 0;
    }
    (0..4096)
        .find(|n| !Path::new(&format!("/sys/block/loop{n}/loop")).exists())
        .unwrap_or(0)
}

/// The device nodes an insecure step gets (none when skiff runs in a user namespace, where it
/// could not create them).
pub(crate) fn insecure_devices() -> Result<Vec<LinuxDevice>> {
    if running_in_user_namespace() {
        return Ok(Vec::new());
    }
    let char_device = |path: &str, major: i64, minor: i64| {
        LinuxDeviceBuilder::default()
            .path(path)
            .typ(LinuxDeviceType::C)
            .major(major)
            .minor(minor)
            .build()
    };
    let mut devices = vec![
        // printk output and the kernel log (dmesg).
        char_device("/dev/kmsg", 1, 11)?,
        // Character devices in user space.
        char_device("/dev/cuse", 10, 203)?,
        // Filesystems in user space.
        char_device("/dev/fuse", 10, 229)?,
        // Hardware virtualisation.
        char_device("/dev/kvm", 10, 232)?,
        // TAP/TUN network devices.
        char_device("/dev/net/tun", 10, 200)?,
        // Loop device control.
        char_device("/dev/loop-control", 10, 237)?,
    ];
    for n in 0..=first_free_loop() + 7 {
        devices.push(
            LinuxDeviceBuilder::default()
                .path(format!("/dev/loop{n}"))
                .typ(LinuxDeviceType::B)
                .major(7)
                .minor(n)
                .build()?,
        );
    }
    Ok(devices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_bits_map_to_their_names() {
        assert_eq!(capabilities_of(0), Capabilities::new());
        let some = capabilities_of(1 | (1 << 21) | (1 << 40));
        assert_eq!(
            some,
            [
                Capability::Chown,
                Capability::SysAdmin,
                Capability::CheckpointRestore
            ]
            .into_iter()
            .collect()
        );
        // Bits the table does not know are left out (as containerd's "known caps").
        assert_eq!(capabilities_of(u64::MAX).len(), 41);
    }

    #[test]
    fn root_here_has_sys_admin() {
        if !rustix::process::geteuid().is_root() {
            eprintln!("skipped: not root");
            return;
        }
        assert!(current_capabilities()
            .unwrap()
            .contains(&Capability::SysAdmin));
    }

    #[test]
    fn insecure_devices_include_fuse_and_eight_loops_past_the_free_one() {
        if running_in_user_namespace() {
            assert!(insecure_devices().unwrap().is_empty());
            return;
        }
        let devices = insecure_devices().unwrap();
        let paths: Vec<String> = devices
            .iter()
            .map(|d| d.path().display().to_string())
            .collect();
        assert!(paths.contains(&"/dev/fuse".to_string()));
        let loops = paths.iter().filter(|p| p.starts_with("/dev/loop")).count();
        assert_eq!(loops as i64, 1 + first_free_loop() + 8);
    }
}
