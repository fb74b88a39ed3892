//! RUN's confinement through `skiff build`: Docker's default seccomp profile on every step (what
//! it denies, checked from inside RUN with busybox and a small static probe), `RUN
//! --security=insecure` only with `--allow security.insecure` (and then unconfined), and `RUN
//! --device`, which skiff rejects.

use skiff_testkit::project::Project;
use std::path::Path;
use std::process::Command;

/// Compiles the probe (`fixtures/seccomp-probe/probe.c`) statically into the context, or
/// `None` (the test is skipped; in CI it fails) without gcc.
fn with_probe(p: Project) -> Option<Project> {
    if !skiff_testkit::require_tool("gcc") {
        return None;
    }
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/seccomp-probe/probe.c");
    let out = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(p.path("probe"))
        .arg(&source)
        .output()
        .expect("running gcc");
    assert!(
        out.status.success(),
        "gcc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(p)
}

/// Shell lines that record, into `/report`, the seccomp mode, the probe's results, and whether
/// `unshare -U` and `mount` work.
const CHECKS: &str = concat!(
    "RUN (grep '^Seccomp:' /proc/self/status; /probe; ",
    "unshare -U true && echo 'unshare -U: ok' || echo 'unshare -U: denied'; ",
    "mkdir -p /mnt && (mount -t tmpfs none /mnt && echo 'mount: ok' || echo 'mount: denied')",
    ") > /report 2>/dev/null\n",
);

#[test]
fn run_steps_are_filtered_by_docker_default_seccomp_profile() {
    let dockerfile = format!("FROM busybox\nCOPY probe /probe\n{CHECKS}");
    let Some(p) = Project::needing_runc(&dockerfile).and_then(with_probe) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(
        image.fs.read_string("/report"),
        concat!(
            "Seccomp:\t2\n",
            "add_key: EPERM\n",
            "keyctl: EPERM\n",
            "clone3: ENOSYS\n",
            "ptrace: EPERM\n",
            "unshare -U: denied\n",
            "mount: denied\n",
        )
    );
}

#[test]
fn insecure_runs_need_allow_and_then_run_unconfined() {
    let dockerfile = format!(
        "FROM busybox\nCOPY probe /probe\n{}",
        CHECKS.replacen("RUN ", "RUN --security=insecure ", 1)
    );
    let Some(p) = Project::needing_runc(&dockerfile).and_then(with_probe) else {
        return;
    };
    let refused = p.build(&[]);
    refused.assert_failed_with("Dockerfile:3");
    refused.assert_failed_with(
        "RUN --security=insecure needs the security.insecure entitlement: run skiff build \
         with --allow security.insecure",
    );
    // An unknown entitlement is refused with the valid names.
    let unknown = p.build(&["--allow", "security.insecure,device"]);
    unknown.assert_failed_with("invalid value 'device' for '--allow <ALLOW>'");
    unknown.assert_failed_with("[possible values: network.host, security.insecure]");

    let (_, image) = p.build_image(&["--allow", "security.insecure"]);
    assert_eq!(
        image.fs.read_string("/report"),
        concat!(
            "Seccomp:\t0\n",
            "add_key: ok\n",
            "keyctl: ok\n",
            // No filter: the kernel's own answer to a null clone_args.
            "clone3: EINVAL\n",
            "ptrace: ok\n",
            "unshare -U: ok\n",
            "mount: ok\n",
        )
    );
    // The same step without --security is another step (not the insecure one's cache).
    p.dockerfile(&format!("FROM busybox\nCOPY probe /probe\n{CHECKS}"));
    let (run, image) = p.build_image(&[]);
    assert_eq!(run.executed_steps().len(), 1, "{}", run.report());
    assert!(image.fs.read_string("/report").starts_with("Seccomp:\t2\n"));
}

#[test]
fn explicit_sandbox_security_is_the_default() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --security=sandbox grep '^Seccomp:' /proc/self/status > /seccomp\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/seccomp"), "Seccomp:\t2\n");
}

#[test]
fn network_host_needs_allow_network_host() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --network=host cat /proc/net/dev > /dev-list\n",
    )) else {
        return;
    };
    p.build(&[]).assert_failed_with(
        "RUN --network=host needs the network.host entitlement: run skiff build with \
         --allow network.host",
    );
    let (_, image) = p.build_image(&["--allow", "network.host"]);
    assert!(image.fs.read_string("/dev-list").contains("lo:"));
}

#[test]
fn run_device_is_rejected_with_the_reason() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN echo before > /before\n",
        "RUN --device=vendor1.com/device=foo echo never\n",
    )) else {
        return;
    };
    let run = p.build(&[]);
    run.assert_failed_with("Dockerfile:3");
    run.assert_failed_with(
        "RUN --device=vendor1.com/device=foo is not supported: skiff has no CDI device support",
    );
}
