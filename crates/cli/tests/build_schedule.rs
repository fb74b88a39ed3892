//! The stage scheduler, black-box through `skiff build`: independent stages run at the same
//! time, only the stages the target needs are built, and a failing stage cancels the others
//! without leaving mounts or containers behind.

use skiff_testkit::leftovers::{mounts_under, runc_containers_of};
use skiff_testkit::project::{BuildRun, Project};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The tests of this file run one at a time: the timing test must not share the machine's
/// two cores with its siblings' builds.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `skiff build` on `p` (same arguments as `Project::build`) and returns what it
/// reported, its pid and how long it ran.
fn timed_build(p: &Project, args: &[&str]) -> (BuildRun, u32, Duration) {
    let build = p.spawn_build(args);
    let started = Instant::now();
    let pid = build.child.id();
    let run = build.wait();
    (run, pid, started.elapsed())
}

#[test]
fn independent_stages_run_at_the_same_time() {
    let Some(p) = Project::needing_runc(
        "FROM busybox AS a\nRUN sleep 2 && echo a > /a\n\
         FROM busybox AS b\nRUN sleep 2 && echo b > /b\n\
         FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n",
    ) else {
        return;
    };
    let _serial = one_at_a_time();
    let (first, _, took) = timed_build(&p, &[]);
    assert!(first.success(), "{}", first.report());
    eprintln!("two parallel `RUN sleep 2` stages, cold store: {took:?}");
    assert!(
        took < Duration::from_millis(3500),
        "two `RUN sleep 2` stages and a final stage took {took:?}: they did not run at the same time\n{}",
        first.report()
    );
    let (run, image) = p.build_image(&[]);
    assert!(run.executed_steps().is_empty(), "{}", run.report());
    assert_eq!(image.fs.read_string("/a"), "a\n");
    assert_eq!(image.fs.read_string("/b"), "b\n");
}

#[test]
fn a_stage_runs_its_steps_while_a_stage_it_copies_from_is_still_building() {
    let Some(p) = Project::needing_runc(
        "FROM busybox AS slow\nRUN sleep 2 && cut -d\" \" -f1 /proc/uptime > /slow-end\n\
         FROM busybox\nRUN cut -d\" \" -f1 /proc/uptime > /final-start\nCOPY --from=slow /slow-end /slow-end\n",
    ) else {
        return;
    };
    let _serial = one_at_a_time();
    let (run, image) = p.build_image(&[]);
    // The host's uptime (seconds, 1/100 s precision): /proc is not time-namespaced.
    let time = |path: &str| -> f64 {
        let text = image.fs.read_string(path);
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("{path}: {text:?}: {e}"))
    };
    assert!(
        time("/final-start") < time("/slow-end"),
        "the last stage waited for the stage it copies from before its first RUN\n{}",
        run.report()
    );
}

#[test]
fn only_the_stages_the_target_needs_are_built() {
    let Some(p) = Project::needing_runc(
        "FROM busybox AS unused\nRUN false\n\
         FROM busybox AS used\nRUN echo used > /used\n\
         FROM busybox AS other\nRUN false\n\
         FROM busybox\nCOPY --from=used /used /used\n",
    ) else {
        return;
    };
    let _serial = one_at_a_time();
    let (run, image) = p.build_image(&[]);
    assert_eq!(image.fs.read_string("/used"), "used\n");
    assert!(
        run.steps().iter().all(|s| !s.contains("RUN false")),
        "{}",
        run.report()
    );
    // With --target, the stages after the target are not built either.
    let (run, image) = p.build_image(&["--target", "used"]);
    assert_eq!(image.fs.read_string("/used"), "used\n");
    assert!(
        run.steps().iter().all(|s| !s.contains("RUN false")),
        "{}",
        run.report()
    );
}

#[test]
fn a_failing_stage_cancels_the_others_cleanly() {
    let Some(p) = Project::needing_runc(
        "FROM busybox AS slow\nRUN sleep 30 && echo slow > /slow\nRUN echo never > /never\n\
         FROM busybox AS failing\nRUN sleep 1 && exit 3\n\
         FROM busybox AS waiting\nCOPY --from=slow /slow /slow\nRUN echo never > /x\n\
         FROM busybox\nCOPY --from=failing / /f\nCOPY --from=waiting /x /x\n",
    ) else {
        return;
    };
    let _serial = one_at_a_time();
    let (run, pid, took) = timed_build(&p, &[]);
    let err = run.stderr();
    assert!(!run.success(), "{err}");
    assert!(
        err.contains("exit code: 3") && err.contains("sleep 1 && exit 3"),
        "the failure is not reported:\n{err}"
    );
    assert!(
        took < Duration::from_secs(15),
        "the build went on for {took:?} after a stage failed:\n{err}"
    );
    assert!(
        !err.contains("echo never"),
        "a cancelled stage went on:\n{err}"
    );
    assert_eq!(mounts_under(p.store()), Vec::<String>::new());
    assert_eq!(runc_containers_of(pid), Vec::<String>::new());
    let tmp: Vec<_> = std::fs::read_dir(p.store().join("tmp"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "left in the store's tmp/: {tmp:?}");
}
