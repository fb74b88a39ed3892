//! Build-check findings through the public API as a person sees them: rustc-style, with the
//! file, line and column, the source line, a caret under the word at fault, the rule name and
//! its documentation URL; and the `error=true` outcome.

use skiff_frontend::lint::{self, IgnoreRules, LintOptions};
use skiff_frontend::render;

const DOCKERFILE: &str = "FROM alpine AS Builder\nWORKDIR app\n\nFROM scratch\nCOPY --from=builder /app /app\nCMD serve\n";

#[test]
fn findings_render_with_rule_caret_and_url() {
    let report = lint::check(DOCKERFILE, &LintOptions::default());
    let text: String = report
        .findings
        .iter()
        .map(|f| render(&f.diagnostic(), "Dockerfile", DOCKERFILE))
        .collect();
    let expected = "\
warning: StageNameCasing: Stage name 'Builder' should be lowercase
 --> Dockerfile:1:16
  |
1 | FROM alpine AS Builder
  |                ^^^^^^^ Stage names should be lowercase
  |
  = help: see https://docs.docker.com/go/dockerfile/rule/stage-name-casing/
";
    assert!(text.starts_with(expected), "got:\n{text}");
    assert!(
        text.contains("warning: WorkdirRelativePath: Relative workdir \"app\" can have unexpected results if the base image changes\n --> Dockerfile:2:9\n"),
        "got:\n{text}"
    );
    assert!(
        text.contains("warning: JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals\n --> Dockerfile:6:1\n"),
        "got:\n{text}"
    );
    assert_eq!(report.findings.len(), 3, "got:\n{text}");
    assert!(!report.fails());
}

#[test]
fn error_true_fails_with_the_rules_found() {
    let source = format!("# check=error=true\n{DOCKERFILE}");
    let report = lint::check(&source, &LintOptions::default());
    assert_eq!(
        report.violation.as_deref(),
        Some("lint violation found for rules: JSONArgsRecommended, StageNameCasing, WorkdirRelativePath")
    );
    assert!(report.fails());
    let skipped = format!("# check=error=true;skip=all\n{DOCKERFILE}");
    let report = lint::check(&skipped, &LintOptions::default());
    assert!(report.findings.is_empty() && !report.fails());
}

#[test]
fn ignore_rules_read_the_dockerignore() {
    let never = |_: &str| false;
    let rules = IgnoreRules::new("# comment\n*\n", &never);
    assert!(rules.excludes_root && !rules.has_exceptions);
    let rules = IgnoreRules::new("docs\n!docs/keep\n", &never);
    assert!(!rules.excludes_root && rules.has_exceptions);
}
