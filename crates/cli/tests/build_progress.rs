//! `skiff build --progress=…` as a Docker user expects it: plain lines numbered like
//! BuildKit's (`#3 [builder 2/3] RUN …`, `#3 DONE 0.2s`, `#3 CACHED`), JSON lines that all
//! parse (an `error` event on failure), a TTY view that ends with the summary (through a
//! pseudo-terminal and piped), and a failure reported once with its place in the Dockerfile.

use skiff_testkit::project::{BuildRun, Project};
use skiff_testkit::serde_json::{self, Value};
use std::collections::BTreeSet;
use std::process::Command;

const TWO_STAGES: &str =
    "FROM busybox AS builder\nWORKDIR /src\nRUN echo building && echo made > /src/out\n\
FROM busybox\nCOPY --from=builder /src/out /out\nENV A=1\nRUN cat /out\n";

/// A project whose one step after `FROM` is `COPY a.txt /a.txt`.
fn one_copy_project() -> Project {
    let p = Project::new();
    p.write("a.txt", "a");
    p.dockerfile("FROM busybox\nCOPY a.txt /a.txt\n");
    p
}

fn lines(run: &BuildRun) -> Vec<String> {
    run.stderr().lines().map(str::to_string).collect()
}

/// `#N DONE 1.2s` for step `n`, with the seconds parsed.
fn done_seconds(run: &BuildRun, n: usize) -> Option<f64> {
    let prefix = format!("#{n} DONE ");
    lines(run)
        .iter()
        .find_map(|l| l.strip_prefix(&prefix)?.strip_suffix('s')?.parse().ok())
}

#[test]
fn plain_numbers_steps_like_buildkit_and_marks_cached_on_rebuild() {
    let Some(p) = Project::needing_runc(TWO_STAGES) else {
        return;
    };
    let run = p.build_ok(&[]);
    let from = "FROM busybox (build context)";
    // The two stages start at the same time, so which one's steps get the lower numbers
    // varies: compare the names as a set, and find step numbers by name.
    let mut steps = run.steps();
    steps.sort();
    assert_eq!(
        steps,
        vec![
            format!("[builder 1/3] {from}"),
            "[builder 2/3] WORKDIR /src".to_string(),
            "[builder 3/3] RUN echo building && echo made > /src/out".to_string(),
            format!("[stage-1 1/3] {from}"),
            "[stage-1 2/3] COPY --from=builder /src/out /out".to_string(),
            "[stage-1 3/3] RUN cat /out".to_string(),
        ],
        "{}",
        run.report()
    );
    for n in 1..=6 {
        assert!(
            done_seconds(&run, n).is_some(),
            "step {n} has no DONE line\n{}",
            run.report()
        );
    }
    // RUN output: `#N 0.123 building`, timed from the step's start.
    let run_step = run
        .steps()
        .iter()
        .position(|s| s.contains("RUN echo building"))
        .expect("the RUN step")
        + 1;
    let output = lines(&run)
        .into_iter()
        .find(|l| l.starts_with(&format!("#{run_step} ")) && l.ends_with(" building"))
        .unwrap_or_else(|| panic!("no output line of step {run_step}\n{}", run.report()));
    let secs: f64 = output.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(secs < 60.0, "{output}");
    // The summary is the last line and names the digest printed on stdout.
    let digest = run.stdout().trim().to_string();
    assert!(digest.starts_with("sha256:"), "{}", run.report());
    let last = lines(&run).last().cloned().unwrap_or_default();
    assert!(
        last.starts_with("=> built ")
            && last.contains(&digest)
            && last.contains("6 steps (0 cached)"),
        "{}",
        run.report()
    );

    let again = p.build_ok(&[]);
    let mut again_steps = again.steps();
    again_steps.sort();
    assert_eq!(again_steps, steps);
    let cached: BTreeSet<String> = again.cached_steps().into_iter().collect();
    let expected: BTreeSet<String> = run
        .steps()
        .into_iter()
        .filter(|s| !s.contains("] FROM "))
        .collect();
    assert_eq!(cached, expected, "{}", again.report());
    assert_eq!(again.stdout().trim(), digest);
    assert!(
        again.stderr().contains("6 steps (4 cached)"),
        "{}",
        again.report()
    );
}

#[test]
fn a_single_stage_has_no_stage_prefix_and_metadata_is_not_numbered() {
    let p = Project::new();
    p.write("a.txt", "a");
    p.dockerfile("FROM busybox\nENV X=1\nCOPY a.txt /a.txt\nLABEL k=v\nWORKDIR /w\n");
    let run = p.build_ok(&[]);
    assert_eq!(
        run.steps(),
        [
            "[1/3] FROM busybox (build context)",
            "[2/3] COPY a.txt /a.txt",
            "[3/3] WORKDIR /w"
        ],
        "{}",
        run.report()
    );
}

#[test]
fn auto_is_plain_when_stderr_is_not_a_terminal() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nENV X=1\n");
    let run = p.build_ok(&["--progress=auto"]);
    assert!(
        run.stderr()
            .starts_with("#1 [1/1] FROM busybox (build context)\n#1 DONE "),
        "{}",
        run.report()
    );
}

/// The `event` field of each event, in order.
fn event_kinds(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect()
}

/// Every step event comes after its `step_start`, and times never go back.
fn check_order(events: &[Value]) {
    let mut started = BTreeSet::new();
    let mut last_time = 0.0;
    for e in events {
        let time = e["time"].as_f64().expect("every event has a time");
        assert!(time >= last_time, "time went back at {e}");
        last_time = time;
        let kind = e["event"].as_str().unwrap();
        let step = e["step"].as_u64();
        if kind == "step_start" {
            assert!(started.insert(step.unwrap()), "step started twice: {e}");
        } else if kind.starts_with("step_") {
            assert!(
                started.contains(&step.unwrap()),
                "{e} before its step_start"
            );
        }
    }
}

#[test]
fn json_lines_all_parse_in_order_and_end_with_the_summary() {
    let p = one_copy_project();
    let scratch = skiff_testkit::tempfile::tempdir().unwrap();
    let oci = format!(
        "type=oci,dest={}",
        scratch.path().join("image.tar").display()
    );
    let run = p.build_ok(&[
        "--progress=json",
        "-t",
        "json-test:1",
        "--output",
        &oci,
        "--output",
        "type=image",
    ]);
    let events = run.json_events();
    check_order(&events);
    let kinds = event_kinds(&events);
    assert_eq!(
        kinds,
        [
            "step_start",
            "step_done",
            "step_start",
            "step_done",
            "exported",
            "exported",
            "size",
            "summary"
        ],
        "{}",
        run.report()
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["digest"], run.stdout().trim());
    assert_eq!(
        summary["names"],
        serde_json::json!(["docker.io/library/json-test:1"])
    );
    assert_eq!(summary["steps"], 2);
    assert!(summary["size"].as_u64().unwrap() > 0);
    assert!(summary["layers"].as_u64().unwrap() >= 2);
    let outputs = summary["outputs"].as_array().unwrap();
    assert!(outputs.iter().any(|o| o
        .as_str()
        .unwrap()
        .starts_with("exported to type=oci,dest=")));

    let again = p.build_ok(&["--progress=json"]);
    let events = again.json_events();
    assert!(
        events
            .iter()
            .any(|e| e["event"] == "step_cached" && e["step"] == 2),
        "{}",
        again.report()
    );
}

#[test]
fn json_reports_a_failure_as_an_error_event() {
    let p = Project::new();
    p.dockerfile("FROM busybox\nCOPY missing.txt /m\n");
    let run = p.build(&["--progress=json"]);
    assert_eq!(run.code(), Some(1), "{}", run.report());
    let events = run.json_events();
    check_order(&events);
    let last = events.last().unwrap();
    assert_eq!(last["event"], "error", "{}", run.report());
    let message = last["message"].as_str().unwrap();
    assert!(message.contains("missing.txt"), "{message}");
    assert!(message.contains("Dockerfile:2"), "{message}");
    assert!(run.stdout().is_empty());
}

#[test]
fn a_failing_run_is_reported_once_with_its_place_and_output() {
    let Some(p) = Project::needing_runc("FROM busybox\nRUN echo about to fail; exit 3\n") else {
        return;
    };
    let run = p.build(&[]);
    assert_eq!(run.code(), Some(1), "{}", run.report());
    let err = run.stderr();
    assert!(
        err.contains("#2 [2/2] RUN echo about to fail; exit 3"),
        "{err}"
    );
    assert!(err.contains("#2 ERROR: "), "{err}");
    assert_eq!(err.matches("error: ").count(), 1, "{err}");
    // The step's ERROR line and the final error; nothing more.
    assert_eq!(
        err.matches("did not complete successfully").count(),
        2,
        "{err}"
    );
    assert!(err.contains("Dockerfile:2:1"), "{err}");
    assert!(err.contains("about to fail"), "{err}");
    // In JSON the step fails with a step_error, then the build with an error event.
    let run = p.build(&["--progress=json"]);
    let events = run.json_events();
    let kinds = event_kinds(&events);
    assert_eq!(kinds.last(), Some(&"error"), "{}", run.report());
    assert!(
        kinds.contains(&"step_error") && kinds.contains(&"step_output"),
        "{kinds:?}"
    );
}

#[test]
fn tty_piped_does_not_draw_and_ends_with_the_summary() {
    let p = one_copy_project();
    let run = p.build_ok(&["--progress=tty"]);
    let err = run.stderr();
    assert!(!err.contains('\x1b'), "escape codes on a pipe: {err:?}");
    assert!(err.contains("=> [2/2] COPY a.txt /a.txt "), "{err}");
    let last = err.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("=> built ") && last.contains(run.stdout().trim()),
        "{err}"
    );
    let again = p.build_ok(&["--progress=tty"]);
    assert!(
        again.stderr().contains("=> CACHED [2/2] COPY a.txt /a.txt"),
        "{}",
        again.report()
    );
}

/// Runs `skiff build --progress=tty` inside a pseudo-terminal (`script` from bsdutils).
fn build_in_pty(p: &Project, dockerfile_extra_args: &[&str]) -> (bool, String) {
    let mut args = vec!["--progress=tty"];
    args.extend_from_slice(dockerfile_extra_args);
    let build = p.build_command(&args);
    let command = std::iter::once(build.get_program())
        .chain(build.get_args())
        .map(|w| format!("'{}'", w.to_string_lossy().replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .output()
        .expect("running script");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success(), text)
}

#[test]
fn tty_in_a_terminal_draws_live_and_leaves_a_compact_log() {
    if !skiff_testkit::require_tool("script") || !skiff_testkit::require_tool("runc") {
        return;
    }
    let p = Project::new();
    p.dockerfile("FROM busybox\nRUN for i in 1 2 3; do echo line $i; sleep 0.3; done\n");
    let (ok, screen) = build_in_pty(&p, &[]);
    assert!(ok, "{screen}");
    assert!(!screen.contains("panicked"), "{screen}");
    assert!(screen.contains("=> [2/2] RUN for i in 1 2 3"), "{screen}");
    assert!(
        screen.contains("line 3"),
        "the live view showed no output: {screen}"
    );
    assert!(screen.contains("=> built "), "{screen}");
    let (ok, screen) = build_in_pty(&p, &[]);
    assert!(ok && screen.contains("=> CACHED [2/2] RUN"), "{screen}");
    // A failure in a terminal: the error is shown after the live view is gone.
    p.dockerfile("FROM busybox\nRUN exit 4\n");
    let (ok, screen) = build_in_pty(&p, &[]);
    assert!(!ok, "{screen}");
    assert!(screen.contains("=> ERROR [2/2] RUN exit 4"), "{screen}");
    assert!(screen.contains("did not complete successfully"), "{screen}");
}

#[test]
fn json_reports_a_pull_with_per_blob_progress() {
    let Some(registry) = skiff_testkit::Registry::start_or_skip() else {
        return;
    };
    let busybox = skiff_testkit::busybox_image(&registry).unwrap();
    let p = Project::new();
    p.dockerfile(&format!("FROM {}\nENV X=1\n", busybox.reference));
    let run = p.build_ok(&["--progress=json"]);
    let events = run.json_events();
    check_order(&events);
    let kinds = event_kinds(&events);
    let start = kinds
        .iter()
        .position(|k| *k == "pull_start")
        .expect("a pull_start");
    let done = kinds
        .iter()
        .position(|k| *k == "pull_done")
        .expect("a pull_done");
    assert!(kinds[..start].contains(&"step_start"), "{kinds:?}");
    assert!(start < done && kinds[done + 1] == "step_done", "{kinds:?}");
    let finished: Vec<&Value> = events[start..done]
        .iter()
        .filter(|e| e["event"] == "pull_progress" && e["current"] == e["total"])
        .collect();
    // The config and the one layer of the fixture, each reported when complete.
    assert_eq!(finished.len(), 2, "{}", run.report());
    assert!(finished.iter().all(|e| e["reference"] == busybox.reference));
    // Plain mode on a second store shows the pull in words.
    let other = Project::new();
    other.dockerfile(&format!("FROM {}\nENV X=1\n", busybox.reference));
    let run = other.build_ok(&[]);
    assert!(
        run.stderr()
            .contains(&format!("=> pulling {}", busybox.reference)),
        "{}",
        run.report()
    );
    assert!(
        run.stderr()
            .contains(&format!("=> pulled {} in ", busybox.reference)),
        "{}",
        run.report()
    );
    // The TTY view (piped: its collapsed log) lists each blob and the pull.
    let third = Project::new();
    third.dockerfile(&format!("FROM {}\nENV X=1\n", busybox.reference));
    let run = third.build_ok(&["--progress=tty"]);
    assert_eq!(
        run.stderr().matches("=> => ").count(),
        2,
        "{}",
        run.report()
    );
    assert!(
        run.stderr()
            .contains(&format!("=> pulled {} ", busybox.reference)),
        "{}",
        run.report()
    );
}

#[test]
fn onbuild_triggers_are_numbered_steps_of_the_stage_that_runs_them() {
    let p = Project::new();
    p.write("a.txt", "a");
    p.dockerfile(
        "FROM busybox AS base\nONBUILD COPY a.txt /onbuild.txt\n\
         FROM base\nCOPY a.txt /a.txt\n",
    );
    let run = p.build_ok(&[]);
    assert_eq!(
        run.steps(),
        [
            "[base 1/1] FROM busybox (build context)",
            "[stage-1 1/2] COPY a.txt /onbuild.txt",
            "[stage-1 2/2] COPY a.txt /a.txt"
        ],
        "{}",
        run.report()
    );
}
