//! The build checks every `skiff build` runs, through the binary: findings are shown after the
//! build with file:line:column and the source line (plain), as `warning` events (JSON), and
//! `error=true` stops the build before any step runs.

use skiff_testkit::project::Project;

const DOCKERFILE: &str = "FROM busybox\nENV greeting hello\nCOPY a.txt /a.txt\n";

#[test]
fn findings_are_shown_after_the_build_with_their_place() {
    let p = Project::new();
    p.dockerfile(DOCKERFILE).write("a.txt", "a");
    let run = p.build_ok(&[]);
    let err = run.stderr();
    let warning = err
        .find("warning: LegacyKeyValueFormat")
        .unwrap_or_else(|| panic!("no warning\n{}", run.report()));
    let copy_step = err.find("COPY a.txt").expect("the COPY step");
    assert!(
        warning > copy_step,
        "shown after the build\n{}",
        run.report()
    );
    assert!(err.contains("Dockerfile:2:1"), "{}", run.report());
    assert!(err.contains("2 | ENV greeting hello"), "{}", run.report());
}

#[test]
fn json_progress_has_one_warning_event_per_finding() {
    let p = Project::new();
    p.dockerfile(DOCKERFILE).write("a.txt", "a");
    let run = p.build_ok(&["--progress=json"]);
    let warnings: Vec<_> = run
        .json_events()
        .into_iter()
        .filter(|e| e["event"] == "warning")
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.report());
    assert_eq!(warnings[0]["rule"], "LegacyKeyValueFormat");
    assert_eq!(warnings[0]["source"], "lint");
    assert_eq!(warnings[0]["line"], 2);
    assert_eq!(warnings[0]["column"], 1);
}

#[test]
fn error_true_fails_the_build_before_it_starts() {
    let p = Project::new();
    p.dockerfile(&format!("# check=error=true\n{DOCKERFILE}"))
        .write("a.txt", "a");
    let run = p.build(&[]);
    run.assert_failed_with("lint violation found for rules: LegacyKeyValueFormat");
    assert!(run.steps().is_empty(), "no step ran\n{}", run.report());
    assert!(run.stderr().contains("Dockerfile:3:1"), "{}", run.report());
}

#[test]
fn skiffs_own_rules_run_in_a_build_too() {
    let p = Project::new();
    p.dockerfile("FROM busybox AS base\nFROM base\nCOPY . .\nRUN go mod download\n")
        .write("go.mod", "module x\n");
    // The check fires before the step runs; the RUN itself fails (busybox has no go).
    let run = p.build(&[]);
    assert!(
        run.stderr().contains("warning: CopyAllBeforeDependencies"),
        "{}",
        run.report()
    );
}

#[test]
fn from_a_stage_name_with_capitals_builds_but_warns_that_buildkit_fails() {
    let p = Project::new();
    p.dockerfile("FROM busybox AS Base\nLABEL stage=base\nFROM Base\nLABEL child=1\n");
    let (run, image) = p.build_image(&[]);
    // Built on the stage (its label is inherited), not pulled as an image.
    assert_eq!(
        image.runtime_config()["Labels"]["stage"],
        "base",
        "{}",
        run.report()
    );
    let err = run.stderr();
    assert!(
        err.contains("FROM Base builds on stage \"base\" here, but BuildKit fails on it"),
        "{}",
        run.report()
    );
    assert!(err.contains("Dockerfile:3:6"), "{}", run.report());
    assert!(err.contains("write FROM base"), "{}", run.report());
}
