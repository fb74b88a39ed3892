//! `skiff prune` and the store's own directories, black-box through the binary: what a
//! killed build leaves in the store's `tmp/` is collected while a running build's work
//! directories are kept, and stat caches of contexts that are gone are dropped.

use skiff_testkit::command::run_ok;
use skiff_testkit::leftovers::runc_containers_of;
use skiff_testkit::project::Project;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

fn runc_available() -> bool {
    skiff_testkit::require_tool("runc")
}

/// The entries of the store's `tmp/` made by process `pid` (their names carry it).
fn temp_entries_of(store: &Path, pid: u32) -> Vec<PathBuf> {
    let marker = format!("-{pid}-");
    std::fs::read_dir(store.join("tmp"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(&marker))
        .collect()
}

/// Waits (at most `secs`) until `done`, failing with `what` — or at once when `child` ends.
fn wait_for(what: &str, secs: u64, child: &mut Child, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the process ended ({status}) before: {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn prune_collects_a_killed_builds_temp_dirs_and_keeps_a_running_builds() {
    if !runc_available() {
        return;
    }
    let killed = Project::new();
    killed.dockerfile("FROM busybox\nRUN sleep 60\n");
    let running = Project::with_store(killed.store());
    running.dockerfile("FROM busybox\nRUN sleep 8 && echo done > /d\n");
    let store = killed.store().to_path_buf();

    // A build killed with SIGKILL during its RUN leaves its step directory behind.
    let mut a = killed.spawn_build(&[]).child;
    let a_pid = a.id();
    // Its step directory exists and a container of its runs (the runtime probe's container
    // may come first, before the step's directory: wait for both).
    wait_for("the first build's RUN starts", 60, &mut a, || {
        !runc_containers_of(a_pid).is_empty() && !temp_entries_of(&store, a_pid).is_empty()
    });
    a.kill().unwrap();
    a.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !runc_containers_of(a_pid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the killed build's container stays"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let stale = temp_entries_of(&store, a_pid);
    assert!(
        !stale.is_empty(),
        "the killed build left nothing in tmp/: this test checks nothing"
    );

    // A second build is running its RUN step.
    let mut b = running.spawn_build(&["-t", "running:latest"]);
    let b_pid = b.child.id();
    wait_for("the second build's RUN starts", 60, &mut b.child, || {
        !runc_containers_of(b_pid).is_empty() && !temp_entries_of(&store, b_pid).is_empty()
    });
    let live = temp_entries_of(&store, b_pid);
    assert!(
        !live.is_empty(),
        "the running build has no temp dir in the store"
    );

    // prune removes the dead build's entries at once (then waits for the running build
    // before it collects blobs) and leaves the running build's alone.
    let prune = running
        .skiff()
        .arg("prune")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(
        "prune removes the killed build's temp dirs",
        30,
        &mut b.child,
        || temp_entries_of(&store, a_pid).is_empty(),
    );
    for entry in &live {
        assert!(
            entry.exists(),
            "prune removed {} of the running build",
            entry.display()
        );
    }
    let run = b.wait();
    assert!(run.success(), "the running build failed:\n{}", run.report());
    let out = prune.wait_with_output().unwrap();
    assert!(out.status.success(), "prune failed: {out:?}");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(report.contains("abandoned temp files: "), "{report}");
    let (_, image) = running.build_image(&["-t", "running:latest"]);
    assert_eq!(image.fs.read_string("/d"), "done\n");
}

#[test]
fn prune_drops_the_stat_cache_of_a_context_that_is_gone() {
    let kept = Project::new();
    kept.write("a.txt", "a\n");
    kept.dockerfile("FROM scratch\nCOPY a.txt /a\n");
    let gone = Project::with_store(kept.store());
    gone.write("b.txt", "b\n");
    gone.dockerfile("FROM scratch\nCOPY b.txt /b\n");
    let caches = || -> Vec<PathBuf> {
        std::fs::read_dir(kept.store().join("statcache"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    // Files only enter the stat cache once they have settled (their ctime is old enough).
    std::thread::sleep(Duration::from_millis(2100));
    kept.build_ok(&[]);
    gone.build_ok(&[]);
    let before = caches();
    assert_eq!(before.len(), 2, "one stat cache per context: {before:?}");

    std::fs::remove_dir_all(gone.dir()).unwrap();
    run_ok(kept.skiff().arg("prune"));
    let after = caches();
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(before.contains(&after[0]));
    // The kept context's cache still works: a rebuild is fully cached.
    kept.build_ok(&[]).assert_executed(&[]);
}
