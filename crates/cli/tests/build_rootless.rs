//! Rootless skiff, black-box: the tests run as root, the skiff they test as an ordinary user
//! with subordinate ids (`skiff_testkit::rootless`, made on first use). The same Dockerfile
//! gives the same image digest for digest as root's build; RUN, USER, chown, every `RUN
//! --mount` kind, secrets, pull, push, the registry cache, the default network and a SIGKILL
//! work as for root; ids the namespace does not map are a clear error; and nothing is left
//! outside the store (each build's `TMPDIR` is checked empty), and `skiff prune` as the user
//! removes what a killed build left in it, files of subordinate ids included.

use skiff_testkit::leftovers::step_processes_after;
use skiff_testkit::outside::{
    loopback_server, outside_possible, OutsideServer, HOST_BODY, OUTSIDE_BODY,
};
use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::rootless::RootlessUser;
use skiff_testkit::store_check::problems;
use skiff_testkit::Registry;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, Instant};

const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

/// A project whose builds run as the rootless user; `None` when the test is skipped.
fn rootless(dockerfile: &str) -> Option<(Project, &'static RootlessUser)> {
    let user = RootlessUser::get_or_skip()?;
    let p = Project::needing_runc(dockerfile)?.run_as(user);
    Some((p, user))
}

/// Asserts that a rootless build left nothing in its `TMPDIR` and no helper process.
fn assert_nothing_left(p: &Project, run: &BuildRun) {
    let left: Vec<_> = std::fs::read_dir(p.user_tmp())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "left in TMPDIR: {left:?}\n{}",
        run.report()
    );
}

const SAME_IMAGE: &str = "FROM busybox
COPY --chown=7:8 hello.txt /hello.txt
RUN mkdir -p /d/sub && echo a > /d/sub/a && chown -R 1000:1000 /d && echo ran > /ran
RUN rm -rf /d/sub && mkdir /d/sub && echo b > /d/sub/b && rm /ran && busybox mkfifo /fifo
USER 1000
RUN id -u > /tmp/whoami && touch /tmp/mine
";

#[test]
fn a_rootless_build_gives_the_same_image_as_roots() {
    let Some((p, user)) = rootless(SAME_IMAGE) else {
        return;
    };
    p.write("hello.txt", "hello\n");
    let (run, image) = p.build_image_env(&[], &[EPOCH]);
    assert_nothing_left(&p, &run);
    let fs = &image.fs;
    assert_eq!(
        (fs.entry("hello.txt").uid, fs.entry("hello.txt").gid),
        (7, 8)
    );
    assert_eq!(fs.entry("d").uid, 1000, "RUN chown as rootless root");
    assert_eq!(fs.read_string("tmp/whoami"), "1000\n");
    assert_eq!(fs.entry("tmp/mine").uid, 1000);
    assert!(!fs.exists("ran") && !fs.exists("d/sub/a"), "deletions kept");
    assert_eq!(fs.read_string("d/sub/b"), "b\n");

    let root = Project::new();
    root.dockerfile(SAME_IMAGE).write("hello.txt", "hello\n");
    let (_, root_image) = root.build_image_env(&[], &[EPOCH]);
    assert_eq!(image.digest, root_image.digest, "rootless and root differ");

    // On the host, the store's copy of a file chowned to 1000 belongs to the user's
    // subordinate id 1000 - 1 + the range's start: the ids are shifted, not flattened.
    let start = subuid_start(&user.name);
    let shifted = walk(p.store())
        .into_iter()
        .filter(|path| path.ends_with("tmp/mine"))
        .map(|path| std::fs::symlink_metadata(path).unwrap().uid())
        .collect::<Vec<_>>();
    assert!(!shifted.is_empty(), "no snapshot holds tmp/mine");
    assert!(shifted.iter().all(|uid| *uid == start + 999), "{shifted:?}");
}

/// The first host id of `user`'s range in /etc/subuid.
fn subuid_start(user: &str) -> u32 {
    let text = std::fs::read_to_string("/etc/subuid").unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{user}:")))
        .unwrap();
    line.split(':').nth(1).unwrap().parse().unwrap()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

#[test]
fn every_mount_kind_and_secrets_work_rootless_and_stay_out_of_the_image() {
    let Some((p, user)) = rootless(
        "FROM busybox
RUN --mount=type=cache,target=/cache echo x >> /cache/f && wc -l < /cache/f > /cache-lines
RUN --mount=type=secret,id=tok,required=true wc -c < /run/secrets/tok > /toklen
RUN --mount=type=secret,id=tok,env=TOK test \"${#TOK}\" = 15
RUN --mount=type=tmpfs,target=/t touch /t/a && ! test -e /tmp/a
RUN --mount=type=bind,target=/ctx,rw echo changed > /ctx/in.txt && cp /ctx/in.txt /copied
RUN --mount=type=bind,from=busybox,source=/bin,target=/bb /bb/busybox true
RUN --mount=type=ssh,id=agent test -S \"$SSH_AUTH_SOCK\" && echo ssh > /ssh
",
    ) else {
        return;
    };
    p.write("in.txt", "original\n");
    let secret = p.scratch_path("secret.txt");
    std::fs::write(&secret, "s3cret-rootless").unwrap();
    user.give(&secret);
    let socket = p.scratch_path("agent.sock");
    let mut agent = user
        .command("ssh-agent")
        .args(["-D", "-a"])
        .arg(&socket)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("ssh-agent as the rootless user");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !socket.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let secret_arg = format!("id=tok,src={}", secret.display());
    let ssh_arg = format!("agent={}", socket.display());
    let (run, image) = p.build_image(&["--secret", &secret_arg, "--ssh", &ssh_arg]);
    let _ = agent.kill();
    let _ = agent.wait();
    assert_nothing_left(&p, &run);
    assert_eq!(image.fs.read_string("cache-lines"), "1\n");
    assert_eq!(image.fs.read_string("toklen"), "15\n");
    assert_eq!(image.fs.read_string("copied"), "changed\n");
    assert_eq!(image.fs.read_string("ssh"), "ssh\n");
    assert_eq!(
        std::fs::read_to_string(p.path("in.txt")).unwrap(),
        "original\n"
    );
    assert!(
        !image.any_blob_contains(b"s3cret-rootless"),
        "the secret is in a blob"
    );

    // The cache mount keeps its content for the next build.
    p.write("other.txt", "bust nothing but the bind step\n");
    let (_, again) = p.build_image(&["--no-cache", "--secret", &secret_arg, "--ssh", &ssh_arg]);
    assert_eq!(again.fs.read_string("cache-lines"), "2\n");
}

#[test]
fn pull_push_the_registry_cache_and_unmapped_ids_work_rootless() {
    let Some(user) = RootlessUser::get_or_skip() else {
        return;
    };
    let Some(registry) = Registry::start_or_skip() else {
        return;
    };
    let base = skiff_testkit::busybox_image(&registry).unwrap().reference;
    let dockerfile = format!("FROM {base}\nRUN echo built > /built && chown 4242 /built\n");
    let Some(p) = Project::needing_runc(&dockerfile) else {
        return;
    };
    let p = p.run_as(user);
    let app = registry.reference("rootless/app:1");
    let cache = format!(
        "type=registry,ref={},mode=max",
        registry.reference("rootless/cache:1")
    );
    let run = p.build_ok(&["-t", &app, "--push", "--cache-to", &cache]);
    assert_nothing_left(&p, &run);

    // A fresh store takes every step from the registry cache.
    let fresh = Project::new().run_as(user);
    fresh.dockerfile(&dockerfile);
    let from = format!(
        "type=registry,ref={}",
        registry.reference("rootless/cache:1")
    );
    let run = fresh.build_ok(&["--cache-from", &from]);
    assert_eq!(
        run.executed_instructions(),
        Vec::<String>::new(),
        "{}",
        run.report()
    );

    // Pulling the pushed image, then using it as a base with RUN (its layers extracted).
    let puller = Project::new().run_as(user);
    let pulled = puller.skiff().args(["pull", &app]).output().unwrap();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    puller.dockerfile(&format!("FROM {app}\nRUN stat -c %u /built > /owner\n"));
    let (_, image) = puller.build_image(&[]);
    assert_eq!(image.fs.read_string("owner"), "4242\n");

    // A base whose files belong to an id above the 65536 mapped: a clear error.
    let big = registry.reference("rootless/bigid:1");
    let root = Project::new();
    root.dockerfile(&format!(
        "FROM {base}\nRUN touch /big && chown 70000:70000 /big\n"
    ));
    root.build_ok(&["-t", &big, "--push"]);
    puller.dockerfile(&format!("FROM {big}\nRUN true\n"));
    let run = puller.build(&[]);
    run.assert_failed_with("uid 70000 cannot be used in this rootless build");
    run.assert_failed_with("/etc/subuid");
}

#[test]
fn a_rootless_run_reaches_the_outside_and_the_hosts_loopback_only_when_allowed() {
    let port = loopback_server();
    let Some((p, _)) = rootless(&format!(
        "FROM busybox\nRUN wget -q -O- http://127.0.0.1:{port}/ > /got\n"
    )) else {
        return;
    };
    if !skiff_testkit::require_tool("slirp4netns") {
        return;
    }
    let run = p.build(&[]);
    run.assert_failed_with("Connection refused");
    let (run, image) = p.build_image(&["--network=host", "--allow", "network.host"]);
    assert_eq!(image.fs.read_string("got"), HOST_BODY);
    assert_nothing_left(&p, &run);

    // The default network still reaches the outside world: a server in a network namespace
    // of the test's own, on a veth pair.
    if !outside_possible() {
        return;
    }
    let outside = OutsideServer::start().expect("the outside server");
    p.dockerfile(&format!(
        "FROM busybox\nRUN wget -q -O- {} > /got\n",
        outside.url()
    ));
    let (run, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("got"), OUTSIDE_BODY);
    assert_nothing_left(&p, &run);
}

#[test]
fn a_killed_rootless_build_leaves_a_consistent_store_that_prune_cleans() {
    let Some((p, user)) =
        rootless("FROM busybox\nRUN mkdir /d && touch /d/x && chown -R 99:99 /d && sleep 60\n")
    else {
        return;
    };
    let spawned = p.spawn_build(&[]);
    let pid = spawned.child.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !running_container(&p.user_tmp()) {
        assert!(Instant::now() < deadline, "the RUN step never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500)); // the chown has run
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid as i32).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let run = spawned.wait();
    assert_eq!(step_processes_after(pid, 10), Vec::<String>::new());
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::fs::read_dir(p.user_tmp()).unwrap().next().is_some() {
        let left = walk(&p.user_tmp());
        assert!(Instant::now() < deadline, "the watchdog left {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        problems(p.store()),
        Vec::<String>::new(),
        "{}",
        run.report()
    );

    // The killed step's files in the store belong to the subordinate id of 99, in a directory
    // the user cannot empty from outside the namespace; `skiff prune`, run as the user,
    // removes them.
    let id99 = subuid_start(&user.name) + 98;
    let owned_by_99 = || {
        walk(p.store())
            .into_iter()
            .filter(|path| std::fs::symlink_metadata(path).is_ok_and(|m| m.uid() == id99))
            .collect::<Vec<_>>()
    };
    assert!(
        !owned_by_99().is_empty(),
        "the killed step left no files: nothing to prune"
    );
    let out = p.skiff().arg("prune").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        owned_by_99(),
        Vec::<std::path::PathBuf>::new(),
        "prune left them"
    );
    assert_eq!(problems(p.store()), Vec::<String>::new());
}

/// Whether the `sleep 60` step's container runs (not the runtime probe's): a bundle under
/// `tmp` for it with a runc state directory.
fn running_container(tmp: &Path) -> bool {
    std::fs::read_dir(tmp)
        .into_iter()
        .flatten()
        .flatten()
        .any(|bundle| {
            let config = std::fs::read_to_string(bundle.path().join("config.json"));
            config.is_ok_and(|c| c.contains("sleep 60"))
                && std::fs::read_dir(bundle.path().join("state"))
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|c| c.file_name().to_string_lossy().starts_with("skiff-"))
        })
}

#[test]
fn info_as_an_ordinary_user_shows_what_rootless_builds_get() {
    let Some(user) = RootlessUser::get_or_skip() else {
        return;
    };
    let out = user.skiff().arg("info").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(&format!("{} (uid {}): rootless", user.name, user.uid)),
        "{text}"
    );
    assert!(text.contains("root filesystem: overlayfs"), "{text}");
    assert!(text.contains("OCI runtime:     runc"), "{text}");
    assert!(
        text.contains(&format!("/etc/subuid {}:", subuid_start(&user.name))),
        "{text}"
    );
}
