//! BuildKit's build-check cases (`buildkit-lint/lint-cases.json` in the shared conformance
//! folder, taken from BuildKit's `dockerfile_lint_test.go`), run through the public API.
//!
//! Each case gives a Dockerfile, maybe a `.dockerignore` and build args, and the warnings a
//! build of the default target reports (`warnings`); some also give what the lint request
//! reports for every stage (`unmarshal_warnings`, [`LintOptions::all_stages`]) and the error
//! the build fails with (`build_err`). Every warning must match in rule, description, URL,
//! detail, level and line. The two `InvalidBaseImagePlatform` cases need a Windows image in a
//! registry; here the base image's platform is given as the check's input instead.
//!
//! The file is read at test time from `$SKIFF_CONFORMANCE_DIR`, or else from
//! `shared/conformance` beside the repository; a missing file fails the test.

use serde_json::Value;
use skiff_frontend::lint::{self, BaseImage, Finding, IgnoreRules, LintOptions, LintReport};
use skiff_frontend::shell::Env;
use std::path::PathBuf;

fn cases() -> Vec<Value> {
    let base = match std::env::var_os("SKIFF_CONFORMANCE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/conformance"
        )),
    };
    let path = base.join("buildkit-lint/lint-cases.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "lint cases not found at {} ({e}) — set SKIFF_CONFORMANCE_DIR",
            path.display()
        )
    });
    match serde_json::from_str(&text).expect("lint-cases.json is JSON") {
        Value::Array(cases) => cases,
        other => panic!("lint-cases.json is not a list: {other}"),
    }
}

/// The image the two `InvalidBaseImagePlatform` cases build from, and its platform.
const WINDOWS_IMAGE: &str = "localhost:5000/buildkit/testwindows:latest";
const WINDOWS_PLATFORM: &str = "windows(10.0.17763.5820)/amd64";
/// The platform those cases build for (`expectedCurrentPlatform`).
const CURRENT_PLATFORM: &str = "linux/amd64";

/// A warning as the cases write it: rule, description, URL, detail, level, line.
type Row = (String, String, Option<String>, String, u64, u64);

fn expected_rows(list: &Value) -> Vec<Row> {
    let mut rows: Vec<Row> = list
        .as_array()
        .expect("a list of warnings")
        .iter()
        .map(|w| {
            let text = |k: &str| w[k].as_str().unwrap_or_default().to_string();
            let mut detail = text("Detail");
            if detail.starts_with("GO:") {
                detail = format!(
                    "Base image {WINDOWS_IMAGE} was pulled with platform \"{WINDOWS_PLATFORM}\", expected \"{CURRENT_PLATFORM}\" for current build"
                );
            }
            (
                text("RuleName"),
                text("Description"),
                w["URL"].as_str().map(str::to_string),
                detail,
                w["Level"].as_u64().expect("a level"),
                w["Line"].as_u64().expect("a line"),
            )
        })
        .collect();
    rows.sort();
    rows
}

fn actual_rows(findings: &[Finding]) -> Vec<Row> {
    let mut rows: Vec<Row> = findings
        .iter()
        .map(|f| {
            (
                f.rule.name.to_string(),
                f.rule.description.to_string(),
                f.rule.url.map(str::to_string),
                f.detail.clone(),
                1,
                f.line as u64,
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The Dockerfile of a case: given, or built from BuildKit's `fmt.Appendf` template.
fn dockerfile(case: &Value) -> String {
    if let Some(text) = case["dockerfile"].as_str() {
        return text.to_string();
    }
    let template = case["dockerfile_unresolved"]
        .as_str()
        .expect("a Dockerfile or a template");
    let body = template
        .split('`')
        .nth(1)
        .expect("a Go raw string in the template");
    body.replace("%s", WINDOWS_IMAGE)
}

/// Build args and the platform from the Go map literal of `frontend_attrs`.
fn frontend_attrs(case: &Value, options: &mut LintOptions) {
    let Some(attrs) = case["frontend_attrs"].as_str() else {
        return;
    };
    for line in attrs.lines() {
        let line = line.trim().trim_end_matches(',');
        let Some((key, value)) = line.split_once("\": ") else {
            continue;
        };
        let key = key.trim_start_matches('"');
        let value = value.split(" //").next().unwrap_or_default().trim();
        let value = match value.strip_prefix("integration.UnixOrWindows(") {
            Some(args) => args.split(',').next().unwrap_or_default(),
            None => value,
        };
        let value = value.trim().trim_matches('"');
        if let Some(name) = key.strip_prefix("build-arg:") {
            options.build_args.set(name, value);
        } else if key == "platform" {
            options.target_platform = CURRENT_PLATFORM.to_string();
        }
    }
}

/// A `.dockerignore` matcher for the cases: each pattern (cleaned, `!` for exceptions)
/// matches a path or one of its parent directories; `**` crosses directories, `*` and `?`
/// do not; the last matching pattern decides (moby/patternmatcher).
fn ignore_matcher(text: &str) -> impl Fn(&str) -> bool {
    let rules: Vec<(bool, regex::Regex)> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (exception, pattern) = match l.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, l),
            };
            let mut re = String::from("^");
            let mut chars = pattern.trim_start_matches('/').chars().peekable();
            while let Some(c) = chars.next() {
                match c {
                    '*' if chars.peek() == Some(&'*') => {
                        chars.next();
                        re.push_str(".*");
                    }
                    '*' => re.push_str("[^/]*"),
                    '?' => re.push_str("[^/]"),
                    c => re.push_str(&regex::escape(&c.to_string())),
                }
            }
            re.push('$');
            (exception, regex::Regex::new(&re).expect("a pattern"))
        })
        .collect();
    move |path: &str| {
        let parts: Vec<&str> = path.split('/').collect();
        let candidates: Vec<String> = (1..=parts.len()).map(|n| parts[..n].join("/")).collect();
        let mut excluded = false;
        for (exception, re) in &rules {
            if candidates.iter().any(|c| re.is_match(c)) {
                excluded = !exception;
            }
        }
        excluded
    }
}

fn windows_image(name: &str) -> Option<BaseImage> {
    (name == WINDOWS_IMAGE).then(|| BaseImage {
        platform: Some(WINDOWS_PLATFORM.to_string()),
        ..BaseImage::default()
    })
}

fn run(case: &Value, all_stages: bool) -> LintReport {
    let ignore_text = case["dockerignore"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let matcher = ignore_matcher(&ignore_text);
    let mut options = LintOptions {
        build_args: Env::new(),
        all_stages,
        base_image: Some(&windows_image),
        ..LintOptions::default()
    };
    if case["dockerignore"].is_string() {
        options.ignore = Some(IgnoreRules::new(&ignore_text, &matcher));
    }
    frontend_attrs(case, &mut options);
    lint::check(&dockerfile(case), &options)
}

/// The rows without their line: BuildKit's lint request (`checkUnmarshal`) compares rule,
/// description, URL and detail only.
fn without_lines(rows: Vec<Row>) -> Vec<Row> {
    let mut rows: Vec<Row> = rows
        .into_iter()
        .map(|(a, b, c, d, e, _)| (a, b, c, d, e, 0))
        .collect();
    rows.sort();
    rows
}

/// Case 88 gives the same Dockerfile and attributes as case 87 but expects the finding as the
/// build's error message instead of a warning: what sets that apart was lost when the case was
/// extracted, so only its error pattern is checked (against the finding).
fn only_stream_pattern(case: &Value) -> bool {
    case["dockerfile"].is_null() && case["StreamBuildErrRegexp"].is_string()
}

/// What is wrong with one case, if anything.
fn check_case(case: &Value) -> Result<(), String> {
    let report = run(case, false);
    if let Some(stream) = case["StreamBuildErrRegexp"].as_str() {
        check_stream_line(stream, &report)?;
    }
    if only_stream_pattern(case) {
        return Ok(());
    }
    let (want, got) = (
        expected_rows(&case["warnings"]),
        actual_rows(&report.findings),
    );
    if want != got {
        return Err(format!("warnings\n  want {want:#?}\n  got  {got:#?}"));
    }
    check_build_error(case, &report)?;
    let all_stages = match case["unmarshal_warnings"].is_null() {
        true => &case["warnings"],
        false => &case["unmarshal_warnings"],
    };
    let all = run(case, true);
    let want = without_lines(expected_rows(all_stages));
    let got = without_lines(actual_rows(&all.findings));
    if want != got {
        return Err(format!(
            "all-stage warnings\n  want {want:#?}\n  got  {got:#?}"
        ));
    }
    Ok(())
}

/// `build_err`: BuildKit's `lint violation …` must be skiff's, word for word; any other error
/// must be skiff's error at the same line with BuildKit's message (its `dockerfile parse error
/// on line N:` prefix aside).
fn check_build_error(case: &Value, report: &LintReport) -> Result<(), String> {
    let Some(want) = case["build_err"].as_str() else {
        return match (&report.error, &report.violation) {
            (None, None) => Ok(()),
            other => Err(format!("unexpected failure {other:?}")),
        };
    };
    if want.starts_with("lint violation found for rules:") {
        return match &report.violation {
            Some(got) if got == want => Ok(()),
            got => Err(format!("violation: want {want:?}, got {got:?}")),
        };
    }
    let Some(error) = &report.error else {
        return Err(format!("no error; want {want:?}"));
    };
    let want_message = want
        .split_once(": ")
        .filter(|(p, _)| p.starts_with("dockerfile parse error on line"))
        .map_or(want, |(_, m)| m);
    let line = error.span.map(|s| s.line as u64);
    if error.message != want_message || line != case["build_err_line"].as_u64() {
        return Err(format!(
            "error: want {want_message:?} at line {}, got {:?} at {line:?}",
            case["build_err_line"], error.message
        ));
    }
    Ok(())
}

/// The one stream pattern about a finding (`InvalidBaseImagePlatform: … (line 2)`): it must
/// match a finding written as BuildKit's `LintFormatShort`. The others are about files a
/// build would not find, which a check does not look for.
fn check_stream_line(stream: &str, report: &LintReport) -> Result<(), String> {
    let Some(go) = stream.strip_prefix("GO:regexp.MustCompile(fmt.Sprintf(`") else {
        return Ok(());
    };
    let pattern = go.split('`').next().unwrap_or_default();
    let mut parts = pattern.splitn(3, "%s");
    let pattern = format!(
        "{}{}{}{}{}",
        parts.next().unwrap_or_default(),
        regex::escape(WINDOWS_IMAGE),
        parts.next().unwrap_or_default(),
        CURRENT_PLATFORM,
        parts.next().unwrap_or_default()
    );
    let re = regex::Regex::new(&pattern).map_err(|e| e.to_string())?;
    let lines: Vec<String> = report
        .findings
        .iter()
        .map(|f| format!("{}: {} (line {})", f.rule.name, f.detail, f.line))
        .collect();
    if lines.iter().any(|l| re.is_match(l)) {
        Ok(())
    } else {
        Err(format!("no finding matches {pattern:?}: {lines:?}"))
    }
}

#[test]
fn buildkit_lint_cases_pass() {
    let cases = cases();
    assert_eq!(cases.len(), 89, "the conformance file has 89 cases");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        if let Err(why) = check_case(case) {
            failures.push(format!("case {i} ({}): {why}", case["test"]));
        }
    }
    eprintln!(
        "{} of {} lint cases pass",
        cases.len() - failures.len(),
        cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
