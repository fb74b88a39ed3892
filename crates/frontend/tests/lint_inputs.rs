//! What the caller tells the checks beyond the Dockerfile, through the public API: base image
//! configs (platform, `Env`, `Shell`), the target, and the `.dockerignore`.

use skiff_frontend::lint::{self, BaseImage, IgnoreRules, LintOptions};

fn rules(report: &lint::LintReport) -> Vec<String> {
    report
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.rule.name, f.detail))
        .collect()
}

const GO: &str = "FROM golang:1.22\nWORKDIR $GOPATH/src\nCMD go run .\n";

fn golang(name: &str) -> Option<BaseImage> {
    (name == "golang:1.22").then(|| BaseImage {
        platform: Some("linux/arm64".into()),
        env: vec![("GOPATH".into(), "/go".into())],
        shell: vec!["/bin/bash".into(), "-c".into()],
    })
}

#[test]
fn without_the_base_image_its_env_is_unknown() {
    let report = lint::check(GO, &LintOptions::default());
    assert_eq!(
        rules(&report),
        [
            "UndefinedVar: Usage of undefined variable '$GOPATH' (did you mean $PATH?)",
            "JSONArgsRecommended: JSON arguments recommended for CMD to prevent unintended behavior related to OS signals",
        ]
    );
}

#[test]
fn the_base_images_config_feeds_the_rules() {
    let options = LintOptions {
        base_image: Some(&golang),
        ..LintOptions::default()
    };
    let report = lint::check(GO, &options);
    assert_eq!(
        rules(&report),
        ["InvalidBaseImagePlatform: Base image golang:1.22 was pulled with platform \"linux/arm64\", expected \"linux/amd64\" for current build"]
    );
    assert_eq!(report.findings[0].line, 1);
    assert_eq!(report.findings[0].rule.url, None);

    let arm = LintOptions {
        target_platform: "linux/arm64".into(),
        base_image: Some(&golang),
        ..LintOptions::default()
    };
    assert!(lint::check(GO, &arm).findings.is_empty());
}

#[test]
fn stage_rules_follow_the_target_unless_all_stages() {
    let text = "FROM scratch AS tools\nENV password=x\n\nFROM scratch AS app\nLABEL a b\n";
    let for_target = |target: Option<&str>, all_stages: bool| {
        let options = LintOptions {
            target: target.map(str::to_string),
            all_stages,
            ..LintOptions::default()
        };
        rules(&lint::check(text, &options))
    };
    let legacy = "LegacyKeyValueFormat: \"LABEL key=value\" should be used instead of legacy \"LABEL key value\" format";
    let secret = "SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV \"password\")";
    assert_eq!(for_target(None, false), [legacy]);
    assert_eq!(for_target(Some("tools"), false), [secret]);
    assert_eq!(for_target(None, true), [secret, legacy]);
    let missing = lint::check(
        text,
        &LintOptions {
            target: Some("nope".into()),
            ..LintOptions::default()
        },
    );
    assert_eq!(
        missing.error.map(|e| e.message),
        Some("target stage \"nope\" could not be found".to_string())
    );
}

#[test]
fn dockerignore_exceptions_turn_copy_ignored_file_off() {
    let text = "FROM scratch\nCOPY docs/a.md /\n";
    let in_docs = |p: &str| p.starts_with("docs");
    let check = |patterns: &str| {
        let options = LintOptions {
            ignore: Some(IgnoreRules::new(patterns, &in_docs)),
            ..LintOptions::default()
        };
        rules(&lint::check(text, &options))
    };
    assert_eq!(
        check("docs\n"),
        ["CopyIgnoredFile: Attempting to Copy file \"docs/a.md\" that is excluded by .dockerignore"]
    );
    assert!(check("docs\n!docs/keep.md\n").is_empty());
}

#[test]
fn env_pairs_see_the_environment_before_the_instruction() {
    // As in BuildKit (and Docker), `ENV A=1 B=$A` expands `$A` before `A` is set.
    let report = lint::check(
        "FROM scratch\nENV A=1 B=$A\nENV C=$A\n",
        &LintOptions::default(),
    );
    assert_eq!(
        rules(&report),
        ["UndefinedVar: Usage of undefined variable '$A'"]
    );
    assert_eq!(report.findings[0].line, 2);
}
