//! What `skiff build --progress=…` says when things go wrong elsewhere in the build: the steps
//! a failure interrupts are `CANCELED` (as BuildKit reports them), nothing ends `DONE` after
//! the failure, and the final error is still the first failure with its Dockerfile line. And
//! the registry client's retry notices go through the progress, so `--progress=json` stays
//! one JSON object per line.

use skiff_testkit::layout::{tar_of_files, Layer};
use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::serde_json;
use skiff_testkit::{busybox_image, push_image, require_tool, FaultProxy, ImageRef, Registry};
use std::time::{Duration, Instant};

/// A slow stage, a stage that fails after a second, and a final stage that needs both.
const SLOW_AND_FAILING: &str = "FROM busybox AS slow\nRUN sleep 30 && echo slow > /slow\n\
RUN echo never > /never\n\
FROM busybox AS failing\nRUN sleep 1 && exit 3\n\
FROM busybox\nCOPY --from=failing / /f\nCOPY --from=slow /slow /slow\n";

const FAILING_LINE: &str = "Dockerfile:5:1";

/// Builds `SLOW_AND_FAILING` with `--progress=MODE`; it must fail fast.
fn failing_build(mode: &str) -> Option<BuildRun> {
    let p = Project::needing_runc(SLOW_AND_FAILING)?;
    let started = Instant::now();
    let run = p.build(&[&format!("--progress={mode}")]);
    assert!(!run.success(), "{}", run.report());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the build went on after a stage failed\n{}",
        run.report()
    );
    Some(run)
}

/// The step number the plain output gives the step named `text`.
fn step_number(run: &BuildRun, text: &str) -> usize {
    run.stderr()
        .lines()
        .find_map(|l| {
            let (num, name) = l.strip_prefix('#')?.split_once(' ')?;
            name.ends_with(text).then(|| num.parse().ok())?
        })
        .unwrap_or_else(|| panic!("no step {text:?}\n{}", run.report()))
}

#[test]
fn plain_reports_the_interrupted_step_canceled_and_the_first_failure_last() {
    let Some(run) = failing_build("plain") else {
        return;
    };
    let err = run.stderr();
    let slow = step_number(&run, "RUN sleep 30 && echo slow > /slow");
    let failing = step_number(&run, "RUN sleep 1 && exit 3");
    assert!(
        err.contains(&format!("\n#{slow} CANCELED\n")),
        "{}",
        run.report()
    );
    assert!(
        err.contains(&format!("\n#{failing} ERROR: ")),
        "{}",
        run.report()
    );
    // Nothing ends DONE after the failure, and only the failing step is an ERROR.
    let error_at = err.find(&format!("#{failing} ERROR")).unwrap();
    assert!(!err[error_at..].contains(" DONE "), "{}", run.report());
    assert_eq!(err.matches(" ERROR").count(), 1, "{}", run.report());
    assert!(!err.contains("echo never"), "{}", run.report());
    // The final error is the first failure, with its place in the Dockerfile.
    let tail = &err[err.rfind("\nerror: ").expect("a final error")..];
    assert!(
        tail.contains("exit code: 3") && tail.contains(FAILING_LINE),
        "{}",
        run.report()
    );
    assert!(!tail.contains("cancelled"), "{}", run.report());
}

#[test]
fn a_failure_outside_any_step_cancels_the_running_steps_too() {
    // The failing stage's COPY source is missing: that fails the stage before a COPY step
    // starts, and the other stage's RUN must still end CANCELED, not ERROR or DONE.
    let dockerfile = "FROM busybox AS slow\nRUN sleep 30 && echo slow > /slow\n\
FROM busybox AS failing\nRUN sleep 1\nCOPY not-in-the-context.txt /\n\
FROM busybox\nCOPY --from=failing / /f\nCOPY --from=slow /slow /slow\n";
    let Some(p) = Project::needing_runc(dockerfile) else {
        return;
    };
    let run = p.build(&["--progress=plain"]);
    assert!(!run.success(), "{}", run.report());
    let err = run.stderr();
    let slow = step_number(&run, "RUN sleep 30 && echo slow > /slow");
    assert!(
        err.contains(&format!("\n#{slow} CANCELED\n")),
        "{}",
        run.report()
    );
    assert!(!err.contains(" ERROR"), "{}", run.report());
    let tail = &err[err.rfind("\nerror: ").expect("a final error")..];
    assert!(
        tail.contains("not-in-the-context.txt") && tail.contains("Dockerfile:5:1"),
        "{}",
        run.report()
    );
}

#[test]
fn json_has_a_step_canceled_event_and_ends_with_the_first_failure() {
    let Some(run) = failing_build("json") else {
        return;
    };
    let events = run.json_events();
    let step_of = |name: &str| {
        events
            .iter()
            .find(|e| e["event"] == "step_start" && e["name"].as_str().unwrap().ends_with(name))
            .and_then(|e| e["step"].as_u64())
            .unwrap_or_else(|| panic!("no step {name}\n{}", run.report()))
    };
    let slow = step_of("RUN sleep 30 && echo slow > /slow");
    let failing = step_of("RUN sleep 1 && exit 3");
    let ends: Vec<(&str, u64)> = events
        .iter()
        .filter(|e| e["step"] == slow || e["step"] == failing)
        .filter(|e| e["event"] != "step_start" && e["event"] != "step_output")
        .map(|e| (e["event"].as_str().unwrap(), e["step"].as_u64().unwrap()))
        .collect();
    assert_eq!(
        ends,
        [("step_error", failing), ("step_canceled", slow)],
        "{}",
        run.report()
    );
    let error_at = events
        .iter()
        .position(|e| e["event"] == "step_error")
        .unwrap();
    assert!(
        events[error_at..].iter().all(|e| e["event"] != "step_done"),
        "{}",
        run.report()
    );
    let last = events.last().unwrap();
    assert_eq!(last["event"], "error", "{}", run.report());
    let message = last["message"].as_str().unwrap();
    assert!(
        message.contains("exit code: 3") && message.contains(FAILING_LINE),
        "{message}"
    );
}

#[test]
fn tty_shows_the_interrupted_step_canceled() {
    let Some(run) = failing_build("tty") else {
        return;
    };
    let err = run.stderr();
    assert!(
        err.lines()
            .any(|l| l.starts_with("=> ERROR ") && l.contains("RUN sleep 1 && exit 3")),
        "{}",
        run.report()
    );
    assert!(
        err.lines()
            .any(|l| l.starts_with("=> CANCELED ")
                && l.contains("RUN sleep 30 && echo slow > /slow")),
        "{}",
        run.report()
    );
    assert!(err.contains(FAILING_LINE), "{}", run.report());
}

/// A test registry with a proxy in front of it that can fail or slow down requests.
fn registry_and_proxy() -> Option<(Registry, FaultProxy)> {
    let registry = Registry::start_or_skip()?;
    if !require_tool("skopeo") || !require_tool("runc") {
        return None;
    }
    let proxy = FaultProxy::start(registry.addr()).expect("starting the proxy");
    Some((registry, proxy))
}

/// `PROXY/repo:tag` for an image pushed to the registry as `REGISTRY/repo:tag`.
fn through(proxy: &FaultProxy, image: &ImageRef) -> String {
    let (_, repository) = image.reference.split_once('/').unwrap();
    proxy.reference(repository)
}

#[test]
fn a_pull_that_ends_after_the_failure_is_canceled_not_done() {
    let Some((registry, proxy)) = registry_and_proxy() else {
        return;
    };
    let tar = tar_of_files(&[("payload", &skiff_testkit::payload::random_bytes(1 << 20))]).unwrap();
    let (image, _) = push_image(
        &registry,
        &[Layer { tar, gzip: false }],
        serde_json::json!({}),
        "cancel/payload:1",
    )
    .unwrap();
    let reference = through(&proxy, &image);
    // 1 MiB at 300 kB/s: the pull ends seconds after the other stage failed.
    proxy.throttle(300_000);
    let p = Project::new();
    p.dockerfile(&format!(
        "FROM {reference} AS pulled\nCOPY Dockerfile /never\n\
         FROM busybox AS failing\nRUN exit 3\n\
         FROM busybox\nCOPY --from=pulled /never /n\nCOPY --from=failing / /f\n"
    ));
    let run = p.build(&[]);
    let err = run.stderr();
    assert!(!run.success(), "{}", run.report());
    let from = step_number(&run, &format!("FROM {reference}"));
    let failing = step_number(&run, "RUN exit 3");
    let error_at = err
        .find(&format!("#{failing} ERROR"))
        .unwrap_or_else(|| panic!("{}", run.report()));
    let canceled_at = err
        .find(&format!("#{from} CANCELED"))
        .unwrap_or_else(|| panic!("the pull is not reported canceled\n{}", run.report()));
    assert!(error_at < canceled_at, "{}", run.report());
    assert!(!err[error_at..].contains(" DONE "), "{}", run.report());
    assert!(!err.contains("COPY Dockerfile /never"), "{}", run.report());
    let tail = &err[err.rfind("\nerror: ").expect("a final error")..];
    assert!(
        tail.contains("exit code: 3") && tail.contains("Dockerfile:4:1"),
        "{}",
        run.report()
    );
}

#[test]
fn a_retried_pull_is_a_notice_event_and_json_stays_one_object_per_line() {
    let Some((registry, proxy)) = registry_and_proxy() else {
        return;
    };
    let image = busybox_image(&registry).expect("pushing busybox to the test registry");
    let reference = through(&proxy, &image);
    // The first connection is oci-client's authentication probe, whose failure it ignores;
    // the next ones fail the manifest request, which is retried.
    proxy.fail_next_connections(3);
    let p = Project::new();
    p.dockerfile(&format!("FROM {reference}\nRUN echo hi > /hi\n"));
    let run = p.build(&["--progress=json"]);
    assert!(run.success(), "{}", run.report());
    let events = run.json_events();
    let notice = events
        .iter()
        .find(|e| e["event"] == "notice")
        .unwrap_or_else(|| panic!("no notice event\n{}", run.report()));
    let message = notice["message"].as_str().unwrap();
    assert!(
        message.starts_with("retrying ") && message.contains("attempt 1 failed"),
        "{message}"
    );
    assert!(notice["time"].is_number(), "{notice}");
    assert_eq!(events.last().unwrap()["event"], "summary");

    // In plain mode the notice is a line of its own.
    proxy.fail_next_connections(3);
    let p = Project::new();
    p.dockerfile(&format!("FROM {reference}\n"));
    let run = p.build(&[]);
    assert!(run.success(), "{}", run.report());
    assert!(
        run.stderr().lines().any(|l| l.starts_with("retrying ")),
        "{}",
        run.report()
    );
}
