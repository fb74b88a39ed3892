//! The TTY view in a real terminal (tmux as the emulator): BuildKit's `[+] Building … (n/m)
//! FINISHED` header, durations aligned at the right edge, lines cut to the width, colours that
//! `NO_COLOR` turns off, a live area that fits a 20-row screen with eight steps running at
//! once, and Ctrl-C: a one-line message, exit 130, nothing left running or mounted.

use skiff_testkit::leftovers::mounts_under;
use skiff_testkit::project::Project;
use skiff_testkit::terminal::Terminal;
use std::process::Command;
use std::time::{Duration, Instant};

/// Eight stages whose RUN steps print for about three seconds at once, and a final stage
/// copying from each.
fn eight_parallel_stages() -> String {
    let mut text = String::new();
    for i in 0..8 {
        text.push_str(&format!(
            "FROM busybox AS s{i}\nRUN for j in 1 2 3 4 5 6 7 8; do echo stage {i} line $j; \
             sleep 0.4; done; echo {i} > /o\n"
        ));
    }
    text.push_str("FROM busybox\n");
    for i in 0..8 {
        text.push_str(&format!("COPY --from=s{i} /o /o{i}\n"));
    }
    text
}

fn argv(command: &Command) -> Vec<String> {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(|w| w.to_string_lossy().into_owned())
        .collect()
}

fn ready() -> Option<Project> {
    if !skiff_testkit::require_tool("tmux") {
        return None;
    }
    Project::needing_runc("FROM busybox\n")
}

#[test]
fn eight_running_steps_fit_a_twenty_row_terminal_and_leave_an_aligned_log() {
    let Some(p) = ready() else {
        return;
    };
    p.dockerfile(&eight_parallel_stages());
    let build = p.build_command(&["--progress=tty"]);
    let term = Terminal::start(&argv(&build), 20, 80, &[]);
    // While the eight RUN steps run, all of them and the header are on the screen.
    let running = |rows: &[String]| {
        rows.iter().filter(|r| r.contains("2/2] RUN for j")).count() == 8
            && rows.iter().any(|r| r.starts_with("[+] Building "))
    };
    let live = term.wait_for(Duration::from_secs(60), running);
    let code = term.exit_code(Duration::from_secs(120));
    let history = term.history();
    assert!(live.is_some(), "never saw 8 running steps: {history:#?}");
    assert_eq!(code, Some(0), "{history:#?}");
    let finished: Vec<&String> = history
        .iter()
        .filter(|r| r.starts_with("[+] Building "))
        .collect();
    assert_eq!(finished.len(), 1, "a stale header was left: {history:#?}");
    assert!(finished[0].ends_with("(25/25) FINISHED"), "{}", finished[0]);
    for i in 0..8 {
        let done: Vec<&String> = history
            .iter()
            .filter(|r| r.starts_with(&format!("=> [s{i} 2/2] RUN ")))
            .collect();
        assert_eq!(done.len(), 1, "stage {i}: {history:#?}");
        // Cut to the width, the duration at the right edge.
        assert_eq!(done[0].chars().count(), 80, "{}", done[0]);
        assert!(
            done[0].contains("… ") && done[0].ends_with('s'),
            "{}",
            done[0]
        );
    }
    assert!(
        history.iter().all(|r| r.chars().count() <= 80),
        "{history:#?}"
    );
}

#[test]
fn lines_are_coloured_unless_no_color_is_set() {
    let Some(p) = ready() else {
        return;
    };
    p.write("a.txt", "a");
    p.dockerfile("FROM busybox\nCOPY a.txt /a.txt\n");
    let build = p.build_command(&["--progress=tty", "--no-cache"]);
    let coloured = Terminal::start(&argv(&build), 20, 80, &[]);
    assert_eq!(coloured.exit_code(Duration::from_secs(60)), Some(0));
    let text = coloured.history_with_escapes().join("\n");
    // tmux writes a colour once for a run of lines of that colour.
    assert!(text.contains("COPY a.txt /a.txt"), "{text}");
    assert!(text.contains("\x1b[34m=> "), "no blue step line: {text:?}");
    let plain = Terminal::start(&argv(&build), 20, 80, &[("NO_COLOR", "1")]);
    assert_eq!(plain.exit_code(Duration::from_secs(60)), Some(0));
    let text = plain.history_with_escapes().join("\n");
    assert!(text.contains("COPY a.txt /a.txt"), "{text}");
    assert!(!text.contains("\x1b[3"), "colours with NO_COLOR: {text:?}");
}

#[test]
fn ctrl_c_stops_the_build_at_once_with_one_line_and_exit_130() {
    let Some(p) = ready() else {
        return;
    };
    p.dockerfile(
        "FROM busybox AS a\nRUN sleep 607\nFROM busybox\nRUN sleep 613\n\
         COPY --from=a /etc/passwd /p\n",
    );
    let build = p.build_command(&["--progress=tty"]);
    let term = Terminal::start(&argv(&build), 20, 80, &[]);
    let both = |rows: &[String]| rows.iter().filter(|r| r.contains("RUN sleep 6")).count() == 2;
    assert!(
        term.wait_for(Duration::from_secs(60), both).is_some(),
        "{:#?}",
        term.history()
    );
    std::thread::sleep(Duration::from_millis(500));
    let pressed = Instant::now();
    term.ctrl_c();
    let code = term.exit_code(Duration::from_secs(30));
    let stopped_in = pressed.elapsed();
    let history = term.history();
    assert_eq!(code, Some(130), "{history:#?}");
    assert!(stopped_in < Duration::from_secs(5), "{stopped_in:?}");
    let errors: Vec<&String> = history.iter().filter(|r| r.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{history:#?}");
    assert_eq!(errors[0], "error: build interrupted (Ctrl-C)");
    assert_eq!(
        history
            .iter()
            .filter(|r| r.starts_with("=> CANCELED ") && r.contains("RUN sleep 6"))
            .count(),
        2,
        "{history:#?}"
    );
    // Nothing left: no step directory, no mount, no container of this store.
    let tmp = p.store().join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "step directories left: {left:?}");
    assert!(mounts_under(p.store()).is_empty());
    let listed = Command::new("runc").args(["list", "-q"]).output().unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout).into_owned();
    let sleeping = Command::new("pgrep")
        .args(["-f", "^sleep 6(07|13)$"])
        .output();
    assert!(
        sleeping.expect("running pgrep").stdout.is_empty(),
        "a RUN is still running; runc list: {listed}"
    );
}

#[test]
fn a_json_error_carries_its_place_as_fields() {
    let Some(p) = Project::needing_runc("FROM busybox\nENV A=1\nRUN exit 3\n") else {
        return;
    };
    let run = p.build(&["--progress=json"]);
    assert!(!run.success());
    let events = run.json_events();
    let error = events
        .iter()
        .find(|e| e["event"] == "error")
        .expect("an error event");
    assert_eq!(error["line"], 3, "{error}");
    assert_eq!(error["column"], 1, "{error}");
    assert!(
        error["file"]
            .as_str()
            .unwrap_or_default()
            .ends_with("Dockerfile"),
        "{error}"
    );
    assert!(error.get("interrupted").is_none(), "{error}");
}
