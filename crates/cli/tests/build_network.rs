//! RUN's network, black-box: by default a step has a network namespace of its own (slirp4netns)
//! that reaches the outside world but not a server on the host's 127.0.0.1; the host's network
//! only with `--network=host` plus `--allow network.host`; `--network=none` has no outside;
//! `--add-host` lands in `/etc/hosts`. The outside world is an HTTP server in a network
//! namespace this test makes, joined to the host by a veth pair (nothing leaves the machine).
//! After every build, none of its steps' helper processes is left, even when it was killed.

use skiff_testkit::leftovers::{runc_containers_of, step_processes_after, step_processes_of};
use skiff_testkit::outside::{
    loopback_server, outside_possible, OutsideServer, HOST_BODY, OUTSIDE_BODY,
};
use skiff_testkit::project::Project;
use std::time::{Duration, Instant};

/// A project whose RUN steps need the network helper too (skipped locally without it).
fn project(dockerfile: &str) -> Option<Project> {
    if !skiff_testkit::require_tool("slirp4netns") {
        return None;
    }
    Project::needing_runc(dockerfile)
}

/// Runs a build to its end and checks that none of its steps' helpers outlive it.
fn build(p: &Project, args: &[&str]) -> skiff_testkit::project::BuildRun {
    let spawned = p.spawn_build(args);
    let pid = spawned.child.id();
    let run = spawned.wait();
    let left = step_processes_after(pid, 5);
    assert!(left.is_empty(), "left behind: {left:?}\n{}", run.report());
    run
}

#[test]
fn the_hosts_loopback_is_out_of_reach_unless_the_host_network_is_allowed() {
    let port = loopback_server();
    let Some(p) = project(&format!(
        "FROM busybox\nRUN wget -q -O- http://127.0.0.1:{port}/ > /got\n"
    )) else {
        return;
    };
    // The default network: refused (and the gateway's mapping of the host's loopback is off).
    let run = build(&p, &[]);
    run.assert_failed_with("wget -q -O- http://127.0.0.1:");
    run.assert_failed_with("Connection refused");
    p.dockerfile(&format!(
        "FROM busybox\nRUN wget -q -O- http://10.0.2.2:{port}/ > /got\n"
    ));
    build(&p, &[]).assert_failed_with("exit code: 1");

    // The host's network needs the entitlement, and says which flag gives it.
    p.dockerfile(&format!(
        "FROM busybox\nRUN wget -q -O- http://127.0.0.1:{port}/ > /got\n"
    ));
    build(&p, &["--network=host"]).assert_failed_with(
        "skiff build --network=host needs the network.host entitlement: add --allow network.host",
    );
    let (_, image) = p.build_image(&["--network=host", "--allow", "network.host"]);
    assert_eq!(image.fs.read_string("/got"), HOST_BODY);

    // RUN --network=host likewise.
    p.dockerfile(&format!(
        "FROM busybox\nRUN --network=host wget -q -O- http://127.0.0.1:{port}/ > /got\n"
    ));
    build(&p, &[]).assert_failed_with("--allow network.host");
    let (_, image) = p.build_image(&["--allow", "network.host"]);
    assert_eq!(image.fs.read_string("/got"), HOST_BODY);
}

#[test]
fn the_default_network_reaches_the_outside_and_add_host_names_it() {
    if !outside_possible() {
        return;
    }
    let outside = OutsideServer::start().expect("the outside server");
    let Some(p) = project(
        "FROM busybox\n\
         RUN cat /etc/hosts > /hosts && cat /etc/resolv.conf > /resolv \
          && wget -q -O- http://outside.test:8080/ > /by-name \
          && wget -q -O- http://$(grep outside.test /etc/hosts | cut -f1):8080/ > /by-address\n",
    ) else {
        return;
    };
    let host_arg = format!("outside.test:{}", outside.ip);
    let (_, image) = p.build_image(&["--add-host", &host_arg, "--add-host", "db=192.0.2.10"]);
    assert_eq!(image.fs.read_string("/by-name"), OUTSIDE_BODY);
    assert_eq!(image.fs.read_string("/by-address"), OUTSIDE_BODY);
    let hosts = image.fs.read_string("/hosts");
    assert!(
        hosts.starts_with("127.0.0.1\tlocalhost buildkitsandbox\n")
            && hosts.ends_with(&format!("{}\toutside.test\n192.0.2.10\tdb\n", outside.ip)),
        "{hosts}"
    );
    // A nameserver the step can reach: the host's own when it is not on loopback, else
    // slirp4netns's forwarder.
    let resolv = image.fs.read_string("/resolv");
    let servers: Vec<&str> = resolv
        .lines()
        .filter_map(|l| l.strip_prefix("nameserver "))
        .collect();
    assert!(!servers.is_empty(), "{resolv}");
    assert!(
        servers
            .iter()
            .all(|s| !s.starts_with("127.") && !s.contains(':')),
        "{resolv}"
    );
    // --add-host is part of the step's key: another address runs it again.
    let run = p.build_ok(&["--add-host", &host_arg, "--add-host", "db=192.0.2.11"]);
    assert_eq!(run.cached_steps(), Vec::<String>::new(), "{}", run.report());
}

#[test]
fn network_none_has_no_outside() {
    if !outside_possible() {
        return;
    }
    let outside = OutsideServer::start().expect("the outside server");
    let url = outside.url();
    let Some(p) = project(&format!(
        "FROM busybox\nRUN --network=none wget -q -O- {url} > /got\n"
    )) else {
        return;
    };
    build(&p, &[]).assert_failed_with("Network is unreachable");
    // The build's --network=none does the same for a RUN without the flag.
    p.dockerfile(&format!(
        "FROM busybox\nRUN ip link | grep -c '^[0-9]' > /links && wget -q -O- {url} > /got\n"
    ));
    build(&p, &["--network=none"]).assert_failed_with("Network is unreachable");
    // And without it, the same step works.
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/got"), OUTSIDE_BODY);
    assert_eq!(image.fs.read_string("/links"), "2\n", "lo and tap0");
}

#[test]
fn a_failing_step_and_a_killed_build_leave_no_helper_behind() {
    let Some(p) = project("FROM busybox\nRUN echo oops; exit 3\n") else {
        return;
    };
    build(&p, &[]).assert_failed_with("exit code: 3");

    p.dockerfile("FROM busybox\nRUN sleep 30\n");
    let mut child = p.spawn_build(&[]).child;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while runc_containers_of(pid).is_empty() || step_processes_of(pid).len() < 3 {
        assert!(
            Instant::now() < deadline,
            "the step of build {pid} never started"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the build ended before its RUN started: {status}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let helpers = step_processes_of(pid);
    assert!(
        helpers.iter().any(|h| h.contains("slirp4netns")),
        "{helpers:?}"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let left = step_processes_after(pid, 15);
    assert!(left.is_empty(), "left behind by the killed build: {left:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while !runc_containers_of(pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the killed build's container is still there"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn without_the_helper_the_step_says_what_to_install() {
    let Some(p) = project("FROM busybox\nRUN echo hi > /hi\n") else {
        return;
    };
    // A PATH without slirp4netns (runc is still found in /usr/sbin).
    let empty = skiff_testkit::tempfile::tempdir().unwrap();
    let path = empty.path().to_str().unwrap();
    let run = p.build_env(&[], &[("PATH", path)]);
    run.assert_failed_with("apt-get install slirp4netns");
    run.assert_failed_with("--network=host --allow network.host");
    // The host's network, allowed explicitly, works without it.
    let (_, image) = p.build_image_env(
        &["--network=host", "--allow", "network.host"],
        &[("PATH", path)],
    );
    assert_eq!(image.fs.read_string("/hi"), "hi\n");
}
