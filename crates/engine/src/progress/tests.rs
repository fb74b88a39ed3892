use super::text::clean_line;
use super::*;
use crate::error::is_cancelled;
use crate::schedule::Board;
use crate::steps::Steps;
use anyhow::anyhow;
use std::sync::{Arc, Mutex};

/// A writer the test can read back after the progress is dropped.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

fn a_build(progress: &Progress) {
    progress.emit(Event::StepStart {
        step: 1,
        name: "[1/3] FROM docker.io/library/busybox:latest".into(),
    });
    progress.emit(Event::StepDone {
        step: 1,
        seconds: 0.04,
    });
    progress.emit(Event::StepStart {
        step: 2,
        name: "[2/3] COPY . .".into(),
    });
    progress.emit(Event::StepCached { step: 2 });
    progress.emit(Event::StepStart {
        step: 3,
        name: "[3/3] RUN make".into(),
    });
    progress.emit(Event::StepOutput {
        step: 3,
        line: "compiling\r50%\r100%".into(),
    });
    progress.emit(Event::StepDone {
        step: 3,
        seconds: 1.25,
    });
    progress.emit(Event::Exported {
        kind: "image".into(),
        description: "naming to docker.io/library/app:latest".into(),
    });
    let (steps, cached) = progress.step_counts();
    progress.emit(Event::Summary(Summary {
        digest: "sha256:abc".into(),
        names: vec!["docker.io/library/app:latest".into()],
        layers: 2,
        size: 1_100_000,
        seconds: 2.04,
        steps,
        cached,
        outputs: vec!["naming to docker.io/library/app:latest".into()],
    }));
}

fn render(mode: Mode) -> String {
    let out = Captured::default();
    let progress = Progress::to_writer(mode, Box::new(out.clone()));
    a_build(&progress);
    drop(progress);
    out.text()
}

#[test]
fn plain_numbers_steps_like_docker() {
    let text = render(Mode::Plain);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..3],
        [
            "#1 [1/3] FROM docker.io/library/busybox:latest",
            "#1 DONE 0.0s",
            ""
        ],
        "{text}"
    );
    assert!(text.contains("#2 [2/3] COPY . .\n#2 CACHED\n"), "{text}");
    assert!(text.contains("#3 DONE 1.2s\n"), "{text}");
    let output = lines.iter().find(|l| l.ends_with(" 100%")).unwrap();
    assert!(output.starts_with("#3 0."), "{text}");
    assert!(
        text.contains("=> naming to docker.io/library/app:latest\n"),
        "{text}"
    );
    assert!(
        text.trim_end().ends_with(
            "=> built docker.io/library/app:latest sha256:abc (2 layers, 1.1 MB) in 2.0s, 3 steps (1 cached)"
        ),
        "{text}"
    );
}

#[test]
fn plain_reprints_the_header_when_steps_interleave() {
    let out = Captured::default();
    let progress = Progress::to_writer(Mode::Plain, Box::new(out.clone()));
    for step in [1, 2] {
        progress.emit(Event::StepStart {
            step,
            name: format!("[s{step} 1/1] RUN x"),
        });
    }
    progress.emit(Event::StepOutput {
        step: 1,
        line: "one".into(),
    });
    let text = out.text();
    assert!(
        text.starts_with("#1 [s1 1/1] RUN x\n\n#2 [s2 1/1] RUN x\n\n#1 [s1 1/1] RUN x\n#1 0.0"),
        "{text}"
    );
}

#[test]
fn json_lines_all_parse_and_keep_order() {
    let text = render(Mode::Json);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "step_start",
            "step_done",
            "step_start",
            "step_cached",
            "step_start",
            "step_output",
            "step_done",
            "exported",
            "summary"
        ]
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["digest"], "sha256:abc");
    assert_eq!(summary["steps"], 3);
    assert_eq!(summary["cached"], 1);
    assert!(events.iter().all(|e| e["time"].is_number()));
}

#[test]
fn tty_without_a_terminal_leaves_the_collapsed_log() {
    let text = render(Mode::Tty);
    assert_eq!(
        text.lines().collect::<Vec<_>>(),
        [
            "=> [1/3] FROM docker.io/library/busybox:latest 0.0s",
            "=> CACHED [2/3] COPY . .",
            "=> [3/3] RUN make 1.2s",
            "=> naming to docker.io/library/app:latest",
            "=> built docker.io/library/app:latest sha256:abc (2 layers, 1.1 MB) in 2.0s, 3 steps (1 cached)",
        ]
    );
}

#[test]
fn errors_reach_every_mode() {
    for mode in [Mode::Plain, Mode::Json, Mode::Tty, Mode::Quiet] {
        let out = Captured::default();
        let progress = Progress::to_writer(mode, Box::new(out.clone()));
        progress.emit(Event::StepStart {
            step: 1,
            name: "[1/1] RUN false".into(),
        });
        progress.emit(Event::StepError {
            step: 1,
            message: "exit code 1\n  last output:".into(),
        });
        progress.emit(Event::error("error: exit code 1\n --> Dockerfile:2:1"));
        drop(progress);
        let text = out.text();
        assert!(text.contains("Dockerfile:2:1"), "{mode:?}: {text}");
        if mode == Mode::Quiet {
            assert!(!text.contains("RUN false"), "{text}");
        }
        if mode == Mode::Json {
            let last: serde_json::Value =
                serde_json::from_str(text.lines().last().unwrap()).unwrap();
            assert_eq!(last["event"], "error");
        }
    }
}

#[test]
fn clean_line_keeps_the_last_carriage_return_frame() {
    assert_eq!(clean_line("10%\r20%\r"), "20%");
    assert_eq!(clean_line("a\x1b[0mb\tc"), "a[0mb\tc");
}

/// Three stages' steps running when the first one fails; the second then finishes, a step
/// starts too late, and the third fails on its own after the failure. The steps are reported
/// as the scheduler's board decides (see `crate::steps`); the progress renders them.
fn a_failing_build(progress: &Progress) -> (bool, bool) {
    let board = Board::new([0, 1, 2]);
    let steps = Steps::continuing(progress.clone(), &board, 0);
    let start = |name: &str| steps.start(name.into()).unwrap();
    let a = start("[a 1/1] RUN exit 3");
    let b = start("[b 1/2] RUN sleep 9");
    let c = start("[c 1/1] RUN false");
    let first = !is_cancelled(&steps.failed(a, 0, anyhow!("exit code: 3")));
    let ended = steps.done(b, Instant::now());
    assert!(
        is_cancelled(&ended.unwrap_err()),
        "a step ending after the failure is cancelled"
    );
    let late = steps.start("[b 2/2] RUN echo never".into());
    assert!(
        is_cancelled(&late.unwrap_err()),
        "nothing starts after the failure"
    );
    let second = !is_cancelled(&steps.failed(c, 2, anyhow!("exit code: 1")));
    progress.emit(Event::error("error: exit code: 3\n --> Dockerfile:2:1"));
    (first, second)
}

fn render_failing(mode: Mode) -> String {
    let out = Captured::default();
    let progress = Progress::to_writer(mode, Box::new(out.clone()));
    let (first, second) = a_failing_build(&progress);
    assert!(first, "the first failure is the build's");
    assert!(!second, "a later failure is a cancellation");
    drop(progress);
    out.text()
}

#[test]
fn after_a_failure_plain_reports_canceled_and_no_done() {
    let text = render_failing(Mode::Plain);
    assert!(text.contains("#1 ERROR: exit code: 3\n"), "{text}");
    assert!(
        text.contains("#2 [b 1/2] RUN sleep 9\n#2 CANCELED\n"),
        "{text}"
    );
    assert!(text.contains("#3 CANCELED\n"), "{text}");
    assert!(!text.contains("DONE"), "{text}");
    assert!(!text.contains("#4") && !text.contains("never"), "{text}");
    assert!(!text.contains("#3 ERROR"), "{text}");
    assert!(text.trim_end().ends_with("Dockerfile:2:1"), "{text}");
}

#[test]
fn after_a_failure_json_has_step_canceled_events() {
    let text = render_failing(Mode::Json);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    let ends: Vec<(String, u64)> = events
        .iter()
        .filter(|e| e["event"] != "step_start")
        .filter_map(|e| Some((e["event"].as_str()?.to_string(), e["step"].as_u64()?)))
        .collect();
    assert_eq!(
        ends,
        [
            ("step_error".to_string(), 1),
            ("step_canceled".to_string(), 2),
            ("step_canceled".to_string(), 3)
        ],
        "{text}"
    );
    assert_eq!(events.last().unwrap()["event"], "error");
}

#[test]
fn after_a_failure_tty_shows_the_steps_canceled() {
    let text = render_failing(Mode::Tty);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "=> ERROR [a 1/1] RUN exit 3 0.0s", "{text}");
    assert_eq!(lines[1], "=> CANCELED [b 1/2] RUN sleep 9 0.0s", "{text}");
    assert_eq!(lines[2], "=> CANCELED [c 1/1] RUN false 0.0s", "{text}");
    assert!(!text.contains("never"), "{text}");
}

#[test]
fn steps_are_counted_as_shown() {
    let progress = Progress::to_writer(Mode::Quiet, Box::new(Captured::default()));
    a_failing_build(&progress);
    assert_eq!(progress.step_counts(), (3, 0), "step 3 was never shown");
}

/// What one registry notice looks like in `mode`, told through the sink the registry
/// client gets, between two lines of a step's output.
fn render_notice(mode: Mode) -> String {
    let out = Captured::default();
    let progress = Progress::to_writer(mode, Box::new(out.clone()));
    progress.emit(Event::StepStart {
        step: 1,
        name: "[1/1] FROM r/x".into(),
    });
    let sink = progress.registry_notices();
    (sink.0)("retrying fetching the manifest of r/x in 250ms (attempt 1 failed: 503)");
    progress.emit(Event::StepDone {
        step: 1,
        seconds: 0.3,
    });
    drop((sink, progress));
    out.text()
}

#[test]
fn a_registry_notice_is_a_line_in_plain_and_tty() {
    let plain = render_notice(Mode::Plain);
    assert_eq!(
        plain,
        "#1 [1/1] FROM r/x\n\
         retrying fetching the manifest of r/x in 250ms (attempt 1 failed: 503)\n\n\
         #1 [1/1] FROM r/x\n#1 DONE 0.3s\n"
    );
    let tty = render_notice(Mode::Tty);
    assert_eq!(
        tty,
        "retrying fetching the manifest of r/x in 250ms (attempt 1 failed: 503)\n\
         => [1/1] FROM r/x 0.3s\n"
    );
}

#[test]
fn a_registry_notice_is_a_json_event() {
    let text = render_notice(Mode::Json);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert_eq!(events[1]["event"], "notice", "{text}");
    assert_eq!(
        events[1]["message"],
        "retrying fetching the manifest of r/x in 250ms (attempt 1 failed: 503)"
    );
    assert!(events[1]["time"].is_number());
    assert_eq!(events.len(), 3, "{text}");
}
