//! `RUN` through `skiff build`, checked inside the built image: shell and exec forms, the
//! environment a step sees (ENV, ARGs, proxy args), USER resolution, the sandbox (proc, dev,
//! resolv.conf, hosts, hostname, network), failures, heredocs, and the layers a RUN makes
//! (no layer for no change, whiteouts, opaque dirs, links, modes, owners, determinism).

use skiff_testkit::project::{BuiltImage, Kind, Project};

/// The entries (paths) of the image's last layer, in tar order.
fn last_layer_paths(image: &BuiltImage) -> Vec<String> {
    image.layers.last().expect("a layer").order.clone()
}

#[test]
fn shell_form_uses_the_stage_shell_and_exec_form_runs_as_is() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "ENV X=from-env\n",
        "RUN echo \"$0\" > /default-shell\n",
        "RUN [\"/bin/sh\", \"-c\", \"printf '%s' \\\"$1\\\" > /exec-arg\", \"zero\", \"a b $X\"]\n",
        "RUN printf '#!/bin/sh\\necho custom >> /shell.log\\nexec /bin/sh \"$@\"\\n' > /myshell && chmod 755 /myshell\n",
        "SHELL [\"/myshell\", \"-c\"]\n",
        "RUN echo \"$X\" > /custom\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/default-shell"), "/bin/sh\n");
    // Exec form: no shell in between, no variable expansion by the builder.
    assert_eq!(image.fs.read_string("/exec-arg"), "a b $X");
    assert_eq!(image.fs.read_string("/shell.log"), "custom\n");
    assert_eq!(image.fs.read_string("/custom"), "from-env\n");
}

#[test]
fn run_sees_env_and_args_in_scope_and_proxy_args_stay_out_of_key_and_history() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "ARG E1=from-arg\n",
        "ENV E1=env1\n",
        "ARG A1=arg1\n",
        "ARG UNSET\n",
        "RUN env | sort > /env.txt\n",
    )) else {
        return;
    };
    let proxy = "http://user:pw@proxy-one.invalid:3128";
    let proxy_arg = format!("HTTP_PROXY={proxy}");
    let (_, image) = p.build_image(&["--build-arg", &proxy_arg]);
    let env = image.fs.read_string("/env.txt");
    let lines: Vec<&str> = env.lines().collect();
    assert!(lines.contains(&"E1=env1"), "{env}");
    assert!(lines.contains(&"A1=arg1"), "{env}");
    assert!(lines.contains(&proxy_arg.as_str()), "{env}");
    // In both cases, as BuildKit's proxyEnvList.
    assert!(
        lines.contains(&format!("http_proxy={proxy}").as_str()),
        "{env}"
    );
    assert!(
        !env.contains("UNSET"),
        "an ARG without value is not exported: {env}"
    );
    assert!(lines.iter().any(|l| l.starts_with("PATH=")), "{env}");
    for (created_by, _) in image.history() {
        assert!(!created_by.contains("proxy-one"), "{created_by}");
    }
    assert!(!image.config.to_string().contains("proxy-one"));
    let run_history = image
        .history()
        .into_iter()
        .find(|(c, _)| c.contains("env | sort"))
        .expect("the RUN's history entry");
    assert!(run_history.0.contains("A1=arg1"), "{run_history:?}");

    // Another proxy value: still a cache hit.
    let again = p.build_ok(&["--build-arg", "HTTP_PROXY=http://proxy-two.invalid:1"]);
    assert!(again.executed_steps().is_empty(), "{}", again.report());
    // Another ARG value: a miss.
    let changed = p.build_ok(&["--build-arg", "A1=other"]);
    assert_eq!(changed.executed_steps().len(), 1, "{}", changed.report());
}

#[test]
fn user_is_resolved_from_the_stage_passwd_and_group_files() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >> /etc/passwd \\\n",
        " && echo 'app:x:1000:' >> /etc/group \\\n",
        " && echo 'extra:x:2000:app' >> /etc/group \\\n",
        " && echo 'other:x:3000:root,app' >> /etc/group\n",
        "USER app\n",
        "RUN id > /tmp/id-name && touch /tmp/owned-by-app\n",
        "USER 1234:5678\n",
        "RUN id > /tmp/id-numeric\n",
        "USER app:other\n",
        "RUN id > /tmp/id-group\n",
        "USER 0\n",
        "RUN id > /tmp/id-root\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(
        image.fs.read_string("/tmp/id-name").trim(),
        "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),3000(other)"
    );
    let owned = image.fs.entry("/tmp/owned-by-app");
    assert_eq!((owned.uid, owned.gid), (1000, 1000));
    assert_eq!(
        image.fs.read_string("/tmp/id-numeric").trim(),
        "uid=1234 gid=5678 groups=5678"
    );
    // An explicit group: no supplementary groups from /etc/group, only the group itself
    // (BuildKit's ensureAdditionalGids).
    assert_eq!(
        image.fs.read_string("/tmp/id-group").trim(),
        "uid=1000(app) gid=3000(other) groups=3000(other)"
    );
    assert!(image
        .fs
        .read_string("/tmp/id-root")
        .starts_with("uid=0(root) gid=0(root)"));
}

#[test]
fn unknown_user_fails_with_a_clear_message() {
    let Some(p) = Project::needing_runc("FROM busybox\nUSER nosuchuser\nRUN true\n") else {
        return;
    };
    let run = p.build(&[]);
    run.assert_failed_with("unable to find user nosuchuser");
}

#[test]
fn a_missing_working_directory_is_created() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "WORKDIR /w/deep\n",
        "RUN rm -r /w\n",
        "RUN pwd > /pwd\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/pwd"), "/w/deep\n");
    assert_eq!(image.fs.entry("/w/deep").kind, Kind::Dir);
}

#[test]
fn the_sandbox_has_proc_dev_resolv_conf_hosts_and_hostname() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN head -1 /proc/self/status > /proc-status \\\n",
        " && echo discarded > /dev/null \\\n",
        " && head -c 4 /dev/zero | wc -c > /dev-zero \\\n",
        " && cat /etc/resolv.conf > /resolv \\\n",
        " && cat /etc/hosts > /hosts \\\n",
        " && hostname > /hostname\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert!(image.fs.read_string("/proc-status").starts_with("Name:"));
    assert_eq!(image.fs.read_string("/dev-zero").trim(), "4");
    // The host's resolv.conf, less the nameservers the step's own network cannot reach
    // (loopback, IPv6); slirp4netns's forwarder when none is left.
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = image.fs.read_string("/resolv");
    assert!(resolv.contains("nameserver "), "{resolv}");
    for line in resolv.lines() {
        assert!(
            host_resolv.lines().any(|l| l == line) || line == "nameserver 10.0.2.3",
            "{line:?} is not the host's: {resolv}"
        );
    }
    let hosts = image.fs.read_string("/hosts");
    assert!(hosts.contains("127.0.0.1"), "{hosts}");
    assert!(hosts.contains("localhost"), "{hosts}");
    assert!(hosts.contains("buildkitsandbox"), "{hosts}");
    assert_eq!(image.fs.read_string("/hostname"), "buildkitsandbox\n");
    // The mount points made for the step are not part of the image.
    for path in ["/etc/resolv.conf", "/etc/hosts"] {
        assert!(!image.fs.exists(path), "{path} leaked into the image");
    }
    let layer = last_layer_paths(&image);
    assert!(
        layer.iter().all(|p| !["/etc", "/dev", "/proc", "/sys"]
            .iter()
            .any(|d| p == d || p.starts_with(&format!("{d}/")))),
        "the RUN layer holds untouched dirs: {layer:?}"
    );
}

#[test]
fn network_none_has_only_loopback_default_its_own_and_host_the_hosts() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN --network=none tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /net-none\n",
        "RUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort > /net-default\n",
        "RUN --network=host tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /net-host\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&["--allow", "network.host"]);
    assert_eq!(image.fs.read_string("/net-none"), "lo\n");
    // Its own namespace: loopback and slirp4netns's tap device, nothing of the host's.
    assert_eq!(image.fs.read_string("/net-default"), "lo\ntap0\n");
    let host = std::fs::read_to_string("/proc/net/dev").unwrap();
    let host_ifaces: Vec<String> = host
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_string())
        .collect();
    let seen: Vec<String> = image
        .fs
        .read_string("/net-host")
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(seen, host_ifaces);
}

#[test]
fn a_failing_run_fails_the_build_with_line_command_code_and_output() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN echo fine > /ok\n",
        "RUN echo first line; echo last words >&2; exit 3\n",
        "RUN echo never\n",
    )) else {
        return;
    };
    let run = p.build(&["-t", "failing:latest"]);
    assert!(!run.success(), "{}", run.report());
    let err = run.stderr();
    assert!(err.contains("Dockerfile:3"), "no line: {}", run.report());
    assert!(
        err.contains("echo first line; echo last words >&2; exit 3"),
        "no command: {}",
        run.report()
    );
    assert!(err.contains("exit code: 3"), "no code: {}", run.report());
    assert!(err.contains("last words"), "no output: {}", run.report());
    assert!(!err.contains("#4 [1/4] RUN echo never"), "{}", run.report());
    let inspect = p
        .skiff()
        .args(["inspect", "failing:latest"])
        .output()
        .unwrap();
    assert!(!inspect.status.success(), "a failed build tagged its image");
}

#[test]
fn heredocs_run_like_buildkit() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN <<EOF\n",
        "echo one > /heredoc-plain\n",
        "echo \"$0\" >> /heredoc-plain\n",
        "EOF\n",
        "RUN <<EOF\n",
        "#!/bin/sh\n",
        "echo \"shebang $0\" > /heredoc-shebang\n",
        "EOF\n",
        "RUN printf '#!/bin/sh\\ncat > /py-stdin\\n' > /usr/bin/python3 && chmod 755 /usr/bin/python3\n",
        "RUN python3 <<EOF\n",
        "print(\"hi\")\n",
        "EOF\n",
        "RUN <<EOF sh\n",
        "echo interpreter > /heredoc-interp\n",
        "EOF\n",
        "RUN cat <<A > /multi-a && cat <<B > /multi-b\n",
        "alpha\n",
        "A\n",
        "beta\n",
        "B\n",
        "RUN <<-EOF\n",
        "\techo tabs > /heredoc-chomp\n",
        "\tEOF\n",
        "RUN <<\"EOF\"\n",
        "echo \"quoted $0\" > /heredoc-quoted\n",
        "EOF\n",
        "RUN <<'EOF'\n",
        "echo \"single $0\" > /heredoc-single\n",
        "EOF\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/heredoc-plain"), "one\n/bin/sh\n");
    assert_eq!(
        image.fs.read_string("/heredoc-shebang"),
        "shebang /dev/pipes/EOF\n"
    );
    assert_eq!(image.fs.read_string("/py-stdin"), "print(\"hi\")\n");
    assert_eq!(image.fs.read_string("/heredoc-interp"), "interpreter\n");
    assert_eq!(image.fs.read_string("/multi-a"), "alpha\n");
    assert_eq!(image.fs.read_string("/multi-b"), "beta\n");
    assert_eq!(image.fs.read_string("/heredoc-chomp"), "tabs\n");
    // A quoted delimiter still makes the body the script (the shell expands, not skiff).
    assert_eq!(image.fs.read_string("/heredoc-quoted"), "quoted /bin/sh\n");
    assert_eq!(image.fs.read_string("/heredoc-single"), "single /bin/sh\n");
    assert!(!image.fs.exists("/dev/pipes"));
}

/// diff ID of an empty tar (two zero blocks): BuildKit's layer for a step that changed nothing.
const EMPTY_TAR_DIFF_ID: &str =
    "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef";

#[test]
fn a_run_that_changes_nothing_makes_an_empty_layer_like_buildkit() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN true\n",
        "RUN cat /etc/passwd > /dev/null && ls /etc /tmp\n",
        "RUN --mount=type=tmpfs,target=/not/there/yet true\n",
        "RUN touch /tmp/x && rm /tmp/x\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    let orders: Vec<_> = image.layers.iter().map(|l| l.order.clone()).collect();
    assert_eq!(image.layers.len(), 5, "{orders:?}");
    for layer in &image.layers[1..] {
        assert!(layer.order.is_empty(), "{orders:?}");
    }
    let diff_ids = image.config["rootfs"]["diff_ids"].as_array().unwrap();
    assert!(
        diff_ids[1..].iter().all(|d| d == EMPTY_TAR_DIFF_ID),
        "{diff_ids:?}"
    );
    let history = image.history();
    let runs: Vec<_> = history
        .iter()
        .filter(|(c, _)| c.starts_with("RUN"))
        .collect();
    assert_eq!(runs.len(), 4, "{history:?}");
    assert!(!image.fs.exists("/not"));
}

#[test]
fn a_run_layer_holds_only_what_changed_and_its_parent_dirs() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN touch /tmp/x\n",
        "RUN mkdir -p /a/b/c && touch /a/b/c/f\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    let n = image.layers.len();
    assert_eq!(n, 3);
    assert_eq!(image.layers[1].order, vec!["/tmp", "/tmp/x"]);
    assert_eq!(
        image.layers[2].order,
        vec!["/a", "/a/b", "/a/b/c", "/a/b/c/f"]
    );
    let tmp = image.layers[1].tree.entry("/tmp");
    assert_eq!(tmp.mode, 0o1777);
}

#[test]
fn deleting_gives_a_whiteout_and_replacing_a_dir_an_opaque_one() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN mkdir /dir && touch /dir/old1 /dir/old2 && echo keep > /keep\n",
        "RUN rm /etc/group\n",
        "RUN rm -rf /dir && mkdir /dir && touch /dir/new\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    assert!(!image.fs.exists("/etc/group"));
    assert!(image.fs.exists("/etc/passwd"));
    let rm_layer = &image.layers[2];
    assert_eq!(rm_layer.order, vec!["/etc", "/etc/.wh.group"]);
    assert_eq!(image.fs.children("/dir"), vec!["new"]);
    let opaque = &image.layers[3];
    assert!(
        opaque.order.contains(&"/dir/.wh..wh..opq".to_string()),
        "{:?}",
        opaque.order
    );
    assert_eq!(image.fs.read_string("/keep"), "keep\n");
}

#[test]
fn links_modes_and_owners_are_kept() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN echo data > /f && ln /f /f-hard && ln -s /f /f-sym \\\n",
        " && chmod 4755 /f && mkdir /sticky && chmod 1777 /sticky \\\n",
        " && touch /owned && chown 123:456 /owned && chmod 2710 /owned \\\n",
        " && mkfifo /fifo\n",
    )) else {
        return;
    };
    let (_, image) = p.build_image(&[]);
    let f = image.fs.entry("/f");
    assert_eq!((f.kind.clone(), f.mode), (Kind::File, 0o4755));
    assert_eq!(image.fs.entry("/f-hard").kind, Kind::Hardlink("/f".into()));
    assert_eq!(image.fs.read_string("/f-hard"), "data\n");
    assert_eq!(image.fs.entry("/f-sym").kind, Kind::Symlink("/f".into()));
    let sticky = image.fs.entry("/sticky");
    assert_eq!((sticky.kind.clone(), sticky.mode), (Kind::Dir, 0o1777));
    let owned = image.fs.entry("/owned");
    assert_eq!((owned.uid, owned.gid, owned.mode), (123, 456, 0o2710));
    assert_eq!(image.fs.entry("/fifo").kind, Kind::Fifo);
}

#[test]
fn layers_are_reproducible_with_source_date_epoch() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN echo hi > /a && mkdir -p /d/e && touch /d/e/f && ln -s a /l\n",
    )) else {
        return;
    };
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let (_, first) = p.build_image_env(&["--no-cache"], &env);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (_, second) = p.build_image_env(&["--no-cache"], &env);
    let digest = |i: &BuiltImage| i.layers.last().unwrap().descriptor["digest"].clone();
    assert_eq!(digest(&first), digest(&second));
    for entry in first.layers.last().unwrap().tree.entries.values() {
        assert!(entry.mtime <= 1_700_000_000, "{entry:?}");
    }
}

#[test]
fn the_copy_based_rootfs_gives_the_same_layers_as_overlayfs() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN touch /tmp/x && mkdir -p /a/b && echo hi > /a/b/f && ln /a/b/f /a/hard \\\n",
        " && ln -s f /a/b/sym && chmod 4755 /a/b/f && mkfifo /fifo\n",
        "RUN rm /etc/group && echo more >> /etc/passwd\n",
        "RUN rm -rf /a && mkdir /a && touch /a/new && chown 12:34 /a/new\n",
        "RUN true\n",
        "RUN ls -an /a/new && ls -a /a /etc > /listing\n",
        "RUN --mount=type=cache,target=/cache --mount=type=tmpfs,target=/t/mnt touch /cache/y /tmp/z\n",
        "COPY file.txt /etc/copied.txt\n",
        "WORKDIR /w/x\n",
    )) else {
        return;
    };
    p.write("file.txt", "copied\n");
    let layers = |mode: &str| {
        let env = [("SOURCE_DATE_EPOCH", "1700000000"), ("SKIFF_ROOTFS", mode)];
        let (run, image) = p.build_image_env(&["--no-cache"], &env);
        assert_eq!(image.fs.children("/a"), vec!["new"], "{}", run.stderr());
        assert!(!image.fs.exists("/etc/group"));
        // What the later steps saw: the whiteout and the opaque dir applied.
        let listing = image.fs.read_string("/listing");
        let names: Vec<&str> = listing.lines().collect();
        for gone in ["group", "b", "hard"] {
            assert!(!names.contains(&gone), "{listing}");
        }
        for kept in ["passwd", "new"] {
            assert!(names.contains(&kept), "{listing}");
        }
        let digests: Vec<String> = image
            .layers
            .iter()
            .map(|l| l.descriptor["digest"].as_str().unwrap().to_string())
            .collect();
        let orders: Vec<Vec<String>> = image.layers.iter().map(|l| l.order.clone()).collect();
        (digests, orders)
    };
    let overlay = layers("overlay");
    let copied = layers("copy");
    assert_eq!(copied.1, overlay.1, "different layer entries");
    assert_eq!(copied.0, overlay.0, "different layer digests");

    // And the copy really was used: the step's root is then no overlayfs mount.
    let q = Project::new();
    q.dockerfile("FROM busybox\nRUN grep ' / ' /proc/mounts | cut -d' ' -f3 > /root-fs-type\n");
    let (_, image) = q.build_image_env(&[], &[("SKIFF_ROOTFS", "copy")]);
    assert_ne!(image.fs.read_string("/root-fs-type"), "overlay\n");
}

#[test]
fn root_has_its_group_as_a_supplementary_one_and_the_hostname_can_be_set() {
    let Some(p) = Project::needing_runc(concat!(
        "FROM busybox\n",
        "RUN id > /id && hostname > /hostname && cat /etc/hosts > /hosts\n",
    )) else {
        return;
    };
    // BuildKit's ensureAdditionalGids: the primary group is always a supplementary group.
    let (_, image) = p.build_image(&[]);
    assert_eq!(
        image.fs.read_string("/id").trim(),
        "uid=0(root) gid=0(root) groups=0(root)"
    );
    assert_eq!(image.fs.read_string("/hostname"), "buildkitsandbox\n");
    let (_, image) = p.build_image(&["--build-arg", "BUILDKIT_SANDBOX_HOSTNAME=myhost"]);
    assert_eq!(image.fs.read_string("/hostname"), "myhost\n");
    let hosts = image.fs.read_string("/hosts");
    assert!(hosts.contains("myhost"), "{hosts}");
    assert!(!hosts.contains("buildkitsandbox"), "{hosts}");
}
