//! `Security::Sandbox` (Docker's seccomp profile on top of its capabilities) and
//! `Security::Insecure` (BuildKit's unconfined mode), through the real OCI runtime.

mod common;

use common::{busybox_rootfs, run, runtime, sh};
use skiff_sandbox::Security;

#[test]
fn sandboxed_steps_run_under_docker_seccomp_profile() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let script = "grep '^Seccomp:' /proc/self/status; \
                  unshare -U true 2>&1 || echo unshare denied; \
                  mkdir -p /mnt && (mount -t tmpfs none /mnt 2>&1 || echo mount denied); \
                  grep -qE ' /proc/(kcore|keys|sys|timer_list) ' /proc/mounts && echo masked; \
                  echo still running";
    let (outcome, output) = run(&rt, &sh(root.path(), script));
    assert_eq!(outcome.exit_code, 0, "{output}");
    assert!(output.starts_with("Seccomp:\t2\n"), "{output}");
    assert!(
        output.contains("unshare: unshare(0x10000000): Operation not permitted\nunshare denied\n"),
        "{output}"
    );
    assert!(output.contains("mount denied\n"), "{output}");
    assert!(output.ends_with("masked\nstill running\n"), "{output}");
}

#[test]
fn insecure_steps_have_every_capability_and_no_filter() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let host_caps = std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap()
        .to_owned();
    let script = "grep -E '^(Seccomp|CapEff):' /proc/self/status; \
                  unshare -U true && echo unshare ok; \
                  mkdir -p /mnt && mount -t tmpfs none /mnt && echo mount ok; \
                  grep -q ' /sys sysfs rw' /proc/mounts && echo sys rw; \
                  test -c /dev/fuse && echo fuse; \
                  grep -qE ' /proc/(kcore|keys|sys|timer_list) ' /proc/mounts || echo nothing masked";
    let mut spec = sh(root.path(), script);
    spec.security = Security::Insecure;
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    let expected =
        format!("{host_caps}\nSeccomp:\t0\nunshare ok\nmount ok\nsys rw\nfuse\nnothing masked\n");
    // /proc/self/status lists CapEff before Seccomp.
    assert_eq!(output, expected);
}

#[test]
fn insecure_steps_of_other_users_keep_their_capabilities() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let mut spec = sh(root.path(), "grep -E '^Cap(Eff|Amb):' /proc/self/status");
    spec.user = skiff_sandbox::resolve_user(root.path(), "appuser").unwrap();
    spec.security = Security::Insecure;
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    // BuildKit adds every capability to every set, the ambient one too.
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 2, "{output}");
    assert_ne!(lines[0], "CapEff:\t0000000000000000", "{output}");
    assert_eq!(lines[0].replace("CapEff", "CapAmb"), lines[1], "{output}");
}
