//! Steps run through the real OCI runtime in real namespaces, on a busybox rootfs.

mod common;

use common::{busybox_rootfs, run, runtime, sh, wait_for_process};
use skiff_sandbox::{resolve_user, Mount, MountKind, Network, Runtime};
use std::os::unix::fs::MetadataExt;

#[test]
fn unusable_runtimes_are_reported_with_reasons() {
    let err = Runtime::detect(Some("no-such-runtime"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no-such-runtime: not found"), "{err}");
    assert!(err.contains("apt-get install runc"), "{err}");
    let err = Runtime::detect(Some("/bin/false")).unwrap_err().to_string();
    assert!(
        err.contains("/bin/false fails here: a trivial container exited with 1"),
        "{err}"
    );
}

#[test]
fn output_is_streamed_and_captured() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    // runc copies stdout and stderr through separate pipes: their relative order is not kept.
    let (outcome, output) = run(&rt, &sh(root.path(), "echo hello; echo oops >&2; seq 1 30"));
    assert_eq!(outcome.exit_code, 0, "{output}");
    let stdout: Vec<&str> = output.lines().filter(|l| *l != "oops").collect();
    let expected: Vec<String> = std::iter::once("hello".to_string())
        .chain((1..=30).map(|i| i.to_string()))
        .collect();
    assert_eq!(stdout, expected, "{output}");
    assert_eq!(
        output.lines().filter(|l| *l == "oops").count(),
        1,
        "{output}"
    );
    assert_eq!(outcome.tail.len(), 20);
    assert!(
        outcome.tail.contains(&"30".to_string()),
        "{:?}",
        outcome.tail
    );
}

#[test]
fn exit_codes_and_signals_are_propagated() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let (outcome, _) = run(&rt, &sh(root.path(), "exit 42"));
    assert_eq!(outcome.exit_code, 42);
    // The container's init ignores signals sent from inside its pid namespace: kill it from here.
    let marker = format!("marker-{}", std::process::id());
    let spec = sh(root.path(), &format!("sleep 1000; : {marker}"));
    let killer = std::thread::spawn(move || {
        let pid = wait_for_process(&marker, true);
        let pid = rustix::process::Pid::from_raw(pid.expect("the step never started")).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
    });
    let (outcome, _) = run(&rt, &spec);
    killer.join().unwrap();
    assert_eq!(outcome.exit_code, 128 + 9);
}

#[test]
fn env_and_missing_cwd_are_applied() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let mut spec = sh(root.path(), "echo \"$GREETING\"; pwd; ulimit -n");
    spec.env.push("GREETING=hi there".into());
    spec.cwd = "/work/dir".into();
    spec.user = resolve_user(root.path(), "appuser").unwrap();
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    assert_eq!(output, "hi there\n/work/dir\n1024\n");
    for dir in ["work", "work/dir"] {
        let meta = std::fs::metadata(root.path().join(dir)).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (1000, 1000, 0o755),
            "{dir}"
        );
    }
}

#[test]
fn user_and_supplementary_groups_are_switched() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let mut spec = sh(root.path(), "id -u; id -g; id -G");
    spec.user = resolve_user(root.path(), "appuser").unwrap();
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    assert_eq!(output, "1000\n1000\n1000 2000 3000\n");

    spec.user = resolve_user(root.path(), "4242:extra").unwrap();
    let (_, output) = run(&rt, &spec);
    assert_eq!(output, "4242\n2000\n2000\n");
}

#[test]
fn root_has_docker_capabilities_and_others_none() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let mut spec = sh(root.path(), "grep -E '^Cap(Eff|Bnd)' /proc/self/status");
    let (_, output) = run(&rt, &spec);
    // Docker's 14 default capabilities.
    assert_eq!(
        output,
        "CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"
    );
    spec.user = resolve_user(root.path(), "appuser").unwrap();
    let (_, output) = run(&rt, &spec);
    assert_eq!(
        output,
        "CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n"
    );
}

#[test]
fn pid_namespace_hides_host_processes() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let (outcome, output) = run(
        &rt,
        &sh(root.path(), "echo $$; ls /proc | grep -c '^[0-9]'"),
    );
    assert_eq!(outcome.exit_code, 0, "{output}");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines[0], "1");
    assert!(lines[1].parse::<u32>().unwrap() <= 3, "{output}");
}

#[test]
fn sys_is_read_only() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let script = "ls /sys/kernel >/dev/null && (touch /sys/x 2>/dev/null || echo read-only)";
    let (outcome, output) = run(&rt, &sh(root.path(), script));
    assert_eq!((outcome.exit_code, output.as_str()), (0, "read-only\n"));
}

fn interfaces(proc_net_dev: &str) -> Vec<String> {
    let mut names: Vec<String> = proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|n| n.trim().to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn network_none_sees_only_loopback_isolated_its_own_and_host_the_hosts() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let mut spec = sh(root.path(), "cat /proc/net/dev; ip link show lo");
    // The default: its own namespace, lo and slirp4netns's tap0.
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    assert_eq!(
        interfaces(output.split("\n1: ").next().unwrap()),
        vec!["lo".to_string(), "tap0".to_string()],
        "{output}"
    );
    spec.network = Network::Host;
    // Other work on this host may add or remove interfaces meanwhile: compare with before and after.
    let before = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    let (outcome, output) = run(&rt, &spec);
    let after = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    assert_eq!(outcome.exit_code, 0, "{output}");
    let inside = interfaces(output.split("\n1: ").next().unwrap());
    assert!(inside.len() > 1, "{output}");
    for name in before.iter().filter(|n| after.contains(n)) {
        assert!(
            inside.contains(name),
            "host interface {name} not visible: {output}"
        );
    }
    for name in &inside {
        assert!(
            before.contains(name) || after.contains(name),
            "{name} is not the host's: {output}"
        );
    }

    spec.network = Network::None;
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    assert_eq!(
        interfaces(output.split("\n1: ").next().unwrap()),
        vec!["lo".to_string()]
    );
    assert!(output.contains("UP"), "lo should be up: {output}");
}

#[test]
fn resolv_conf_and_hosts_are_provided_without_traces() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    std::fs::remove_dir_all(root.path().join("etc")).unwrap();
    let (outcome, output) = run(
        &rt,
        &sh(
            root.path(),
            "cat /etc/hosts; cat /etc/resolv.conf; hostname; (echo x > /etc/hosts) 2>/dev/null",
        ),
    );
    assert_eq!(
        outcome.exit_code, 1,
        "writing /etc/hosts must fail: {output}"
    );
    assert!(
        output.starts_with("127.0.0.1\tlocalhost skiff-test\n::1\tlocalhost"),
        "{output}"
    );
    // Its own network: the host's resolv.conf without what it cannot reach, or the forwarder.
    assert!(output.contains("nameserver "), "{output}");
    assert!(output.ends_with("skiff-test\n"), "{output}");
    assert!(!root.path().join("etc").exists(), "/etc stub left behind");
    assert!(!root.path().join("proc").exists() && !root.path().join("dev").exists());
}

#[test]
fn bind_and_tmpfs_mounts() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let ro = tempfile::tempdir().unwrap();
    std::fs::write(ro.path().join("data"), "ro data").unwrap();
    let rw = tempfile::tempdir().unwrap();
    let mut spec = sh(
        root.path(),
        "cat /ro/data; echo; touch /ro/x 2>/dev/null && echo ro-writable; echo w > /rw/new; \
         ls -A /scratch | wc -l; echo t > /scratch/t; grep ' /scratch ' /proc/mounts",
    );
    spec.mounts = vec![
        Mount {
            destination: "/ro".into(),
            kind: MountKind::Bind {
                source: ro.path().into(),
                readonly: true,
            },
        },
        Mount {
            destination: "/rw".into(),
            kind: MountKind::Bind {
                source: rw.path().into(),
                readonly: false,
            },
        },
        Mount {
            destination: "/scratch".into(),
            kind: MountKind::Tmpfs {
                size: Some(1 << 20),
            },
        },
    ];
    let (outcome, output) = run(&rt, &spec);
    assert_eq!(outcome.exit_code, 0, "{output}");
    assert!(output.starts_with("ro data\n"), "{output}");
    assert!(!output.contains("ro-writable"), "{output}");
    assert!(
        output.contains("\n0\n") && output.contains("size=1024k"),
        "{output}"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path().join("new")).unwrap(),
        "w\n"
    );
    for stub in ["ro", "rw", "scratch"] {
        assert!(
            !root.path().join(stub).exists(),
            "{stub} left in the rootfs"
        );
    }
}

/// Env var naming the rootfs for [`helper_runs_a_long_step`] (set only by the test below).
const HELPER_ROOTFS: &str = "SKIFF_SANDBOX_HELPER_ROOTFS";

#[test]
fn killing_the_caller_kills_the_container() {
    let Some(rt) = runtime() else { return };
    let root = tempfile::tempdir().unwrap();
    busybox_rootfs(root.path());
    let marker = format!("orphan-{}", std::process::id());
    let mut helper = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "helper_runs_a_long_step",
            "--nocapture",
        ])
        .env(HELPER_ROOTFS, root.path())
        .env("SKIFF_SANDBOX_HELPER_MARKER", &marker)
        .spawn()
        .unwrap();
    let step = wait_for_process(&marker, true);
    assert!(step.is_some(), "the helper's step never started");
    helper.kill().unwrap(); // SIGKILL: no destructor runs in the helper
    helper.wait().unwrap();
    assert_eq!(
        wait_for_process(&marker, false),
        None,
        "the step outlived its caller"
    );
    let list = std::process::Command::new(&rt.path)
        .arg("list")
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        !list.contains(&format!("skiff-{}-", helper.id())),
        "container left behind:\n{list}"
    );
    // The watchdog removes the bundle right after the container is gone.
    let leftover_bundle = || {
        let entries = std::fs::read_dir(std::env::temp_dir()).unwrap().flatten();
        entries
            .filter(|e| e.file_name().to_string_lossy().starts_with("skiff-bundle-"))
            .find(|e| {
                std::fs::read_to_string(e.path().join("config.json"))
                    .is_ok_and(|c| c.contains(&marker))
            })
            .map(|e| e.path())
    };
    for _ in 0..100 {
        if leftover_bundle().is_none() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(leftover_bundle(), None, "bundle left behind");
}

/// Not a test on its own: the process [`killing_the_caller_kills_the_container`] kills.
#[test]
#[ignore = "helper process for killing_the_caller_kills_the_container"]
fn helper_runs_a_long_step() {
    let (Some(rootfs), Ok(marker)) = (
        std::env::var_os(HELPER_ROOTFS),
        std::env::var("SKIFF_SANDBOX_HELPER_MARKER"),
    ) else {
        return;
    };
    let rt = skiff_sandbox::Runtime::detect(None).unwrap();
    let spec = sh(
        std::path::Path::new(&rootfs),
        &format!("sleep 1000; : {marker}"),
    );
    run(&rt, &spec);
}
