use super::*;
use oci_spec::runtime::{Capability, LinuxSeccompOperator, LinuxSyscall};

/// The capability set RUN has (Docker's default), as bundle.rs gives it.
fn docker_caps() -> Capabilities {
    crate::bundle::DEFAULT_CAPABILITIES.into_iter().collect()
}

fn rules_for<'a>(profile: &'a LinuxSeccomp, name: &str) -> Vec<&'a LinuxSyscall> {
    profile
        .syscalls()
        .as_ref()
        .unwrap()
        .iter()
        .filter(|s| s.names().iter().any(|n| n == name))
        .collect()
}

fn allowed_unconditionally(profile: &LinuxSeccomp, name: &str) -> bool {
    rules_for(profile, name)
        .iter()
        .any(|s| s.action() == LinuxSeccompAction::ScmpActAllow && s.args().is_none())
}

#[test]
fn default_steps_get_eperm_for_namespace_mount_and_keyring_syscalls() {
    let p = profile_for(&docker_caps(), "amd64", Some((6, 1))).unwrap();
    assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(p.default_errno_ret(), Some(1));
    for denied in [
        "mount",
        "umount2",
        "unshare",
        "setns",
        "keyctl",
        "add_key",
        "request_key",
        "bpf",
        "reboot",
        "init_module",
        "open_by_handle_at",
        "kcmp",
        "clock_settime",
    ] {
        assert!(
            rules_for(&p, denied).is_empty(),
            "{denied} must fall to the default action"
        );
    }
    for allowed in [
        "read",
        "execve",
        "openat",
        "chroot",
        "ptrace",
        "arch_prctl",
        "modify_ldt",
    ] {
        assert!(allowed_unconditionally(&p, allowed), "{allowed} is allowed");
    }
    assert!(
        rules_for(&p, "cacheflush").is_empty(),
        "arm-only syscalls stay out on amd64"
    );
}

#[test]
fn clone_may_not_create_namespaces_and_clone3_gets_enosys_without_sys_admin() {
    let p = profile_for(&docker_caps(), "amd64", Some((6, 1))).unwrap();
    let clone = rules_for(&p, "clone");
    assert_eq!(clone.len(), 1);
    let args = clone[0].args().as_ref().unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].index(), 0);
    assert_eq!(args[0].value(), 0x7E02_0000, "CLONE_NEW* flags masked");
    assert_eq!(args[0].op(), LinuxSeccompOperator::ScmpCmpMaskedEq);
    let clone3 = rules_for(&p, "clone3");
    assert_eq!(clone3.len(), 1);
    assert_eq!(clone3[0].action(), LinuxSeccompAction::ScmpActErrno);
    assert_eq!(clone3[0].errno_ret(), Some(38));
}

#[test]
fn socket_and_personality_are_filtered_on_their_arguments() {
    let p = profile_for(&docker_caps(), "amd64", Some((6, 1))).unwrap();
    let socket: Vec<_> = rules_for(&p, "socket")
        .iter()
        .map(|s| {
            let a = s.args().as_ref().unwrap()[0];
            (a.value(), a.op())
        })
        .collect();
    // Every address family but AF_VSOCK (40).
    assert_eq!(
        socket,
        [
            (38, LinuxSeccompOperator::ScmpCmpLt),
            (39, LinuxSeccompOperator::ScmpCmpEq),
            (40, LinuxSeccompOperator::ScmpCmpGt)
        ]
    );
    let personality: Vec<u64> = rules_for(&p, "personality")
        .iter()
        .map(|s| s.args().as_ref().unwrap()[0].value())
        .collect();
    assert_eq!(personality, [0, 8, 0x20000, 0x20008, 0xffff_ffff]);
}

#[test]
fn capability_rules_follow_the_bounding_set() {
    let mut caps = docker_caps();
    caps.insert(Capability::SysAdmin);
    caps.insert(Capability::SysPtrace);
    let p = profile_for(&caps, "amd64", Some((6, 1))).unwrap();
    for allowed in ["mount", "unshare", "setns", "clone", "clone3", "kcmp"] {
        assert!(
            allowed_unconditionally(&p, allowed),
            "{allowed} with the caps"
        );
    }
    assert!(
        rules_for(&p, "clone3")
            .iter()
            .all(|s| s.action() == LinuxSeccompAction::ScmpActAllow),
        "no ENOSYS rule with CAP_SYS_ADMIN"
    );
    let mut without_chroot = docker_caps();
    without_chroot.remove(&Capability::SysChroot);
    let p = profile_for(&without_chroot, "amd64", Some((6, 1))).unwrap();
    assert!(rules_for(&p, "chroot").is_empty());
}

#[test]
fn ptrace_needs_kernel_4_8_without_sys_ptrace() {
    let old = profile_for(&docker_caps(), "amd64", Some((4, 4))).unwrap();
    assert!(rules_for(&old, "ptrace").is_empty());
    let unknown = profile_for(&docker_caps(), "amd64", None).unwrap();
    assert!(rules_for(&unknown, "ptrace").is_empty());
    let new = profile_for(&docker_caps(), "amd64", Some((4, 8))).unwrap();
    assert!(allowed_unconditionally(&new, "ptrace"));
}

#[test]
fn architectures_follow_the_profiles_arch_map() {
    let amd64 = profile_for(&docker_caps(), "amd64", Some((6, 1))).unwrap();
    assert_eq!(
        amd64.architectures().as_deref(),
        Some(&[Arch::ScmpArchX86_64, Arch::ScmpArchX86, Arch::ScmpArchX32][..])
    );
    let arm64 = profile_for(&docker_caps(), "arm64", Some((6, 1))).unwrap();
    assert_eq!(
        arm64.architectures().as_deref(),
        Some(&[Arch::ScmpArchAarch64, Arch::ScmpArchArm][..])
    );
    assert!(allowed_unconditionally(&arm64, "cacheflush"));
    assert!(rules_for(&arm64, "arch_prctl").is_empty());
    let s390x = profile_for(&docker_caps(), "s390x", Some((6, 1))).unwrap();
    let clone = rules_for(&s390x, "clone");
    assert_eq!(clone.len(), 1);
    assert_eq!(clone[0].args().as_ref().unwrap()[0].index(), 1);
    let arm = profile_for(&docker_caps(), "arm", Some((6, 1))).unwrap();
    assert_eq!(arm.architectures(), &None, "no archMap entry: native only");
}

#[test]
fn the_host_profile_is_the_one_for_the_host_arch() {
    let host = default_profile(&docker_caps()).unwrap();
    let expected = profile_for(&docker_caps(), host_arch(), kernel_version()).unwrap();
    assert_eq!(host, expected);
    if cfg!(target_arch = "x86_64") {
        assert_eq!(
            host.architectures().as_ref().unwrap()[0],
            Arch::ScmpArchX86_64
        );
    }
}

#[test]
fn kernel_versions_parse_like_uname_release() {
    assert_eq!(parse_kernel_version("6.18.44-fc-v1272\n"), Some((6, 18)));
    assert_eq!(parse_kernel_version("4.8"), Some((4, 8)));
    assert_eq!(parse_kernel_version("5.10.0+"), Some((5, 10)));
    assert_eq!(parse_kernel_version("garbage"), None);
}

#[test]
fn every_rule_names_at_least_one_syscall() {
    assert!(profile::RULES
        .iter()
        .all(|r| r.names.split_whitespace().count() > 0));
    let all: usize = profile::RULES
        .iter()
        .map(|r| r.names.split_whitespace().count())
        .sum();
    // The count of moby's default.json at the commit profile.rs names (a changed
    // generator or profile shows here).
    assert_eq!(all, 442);
}
