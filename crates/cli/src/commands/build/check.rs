//! `skiff build --check`: BuildKit's build checks on the Dockerfile, without building or
//! pulling anything. Findings are printed rustc-style (file:line:column, the source line, a
//! caret, the rule and its documentation URL) or, with `--format=json`, as BuildKit's lint
//! result. The exit code is non-zero only when the checks fail the build: `error=true` (in the
//! `check` directive or `BUILDKIT_DOCKERFILE_CHECK`) with a finding, or a broken Dockerfile.

use super::args::{BuildArgs, CheckFormat, ProgressFlag};
use anyhow::Result;
use serde_json::{json, Value};
use skiff_frontend::diagnostics::{render_with, Style};
use skiff_frontend::lint::{self, Finding, IgnoreRules, LintOptions, LintReport};
use skiff_frontend::shell::Env;
use skiff_frontend::Diagnostic;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// What a check reads: the Dockerfile, where the context is, and the build's values.
pub struct CheckRequest {
    /// How messages name the Dockerfile.
    pub dockerfile_name: String,
    /// The Dockerfile's path, for `<Dockerfile>.dockerignore`.
    pub dockerfile_path: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The build context directory (for its `.dockerignore`).
    pub context: PathBuf,
    /// `--build-arg` values.
    pub build_args: Vec<(String, String)>,
    /// `--target`.
    pub target: Option<String>,
    /// `--platform`, else the host's.
    pub platform: Option<String>,
    /// Text or JSON.
    pub format: CheckFormat,
    /// `--build-context` names.
    pub named_contexts: Vec<String>,
}

/// The request for `skiff build --check` from its flags.
pub fn request(args: &BuildArgs) -> Result<CheckRequest> {
    let (path, dockerfile) = super::inputs::read_dockerfile(args.file.as_deref(), &args.context)?;
    let json = args.format == Some(CheckFormat::Json) || args.progress == ProgressFlag::Json;
    Ok(CheckRequest {
        dockerfile_name: path.display().to_string(),
        dockerfile_path: path,
        dockerfile,
        context: args.context.clone(),
        build_args: args
            .build_args
            .iter()
            .filter_map(|a| Some((a.name.clone(), a.value.clone()?)))
            .collect(),
        target: args.target.clone(),
        // A multi-platform build is checked for its first platform.
        platform: (args.platform.as_deref())
            .map(|p| p.split(',').next().unwrap_or(p).trim().to_string()),
        format: if json {
            CheckFormat::Json
        } else {
            CheckFormat::Text
        },
        named_contexts: (args.build_contexts.iter())
            .filter_map(|c| c.split_once('=').map(|(name, _)| name.to_string()))
            .collect(),
    })
}

/// What a check runs on, for `--check` and for the checks every build runs.
pub struct LintInput<'a> {
    /// The Dockerfile's path, for `<Dockerfile>.dockerignore`.
    pub dockerfile_path: &'a Path,
    /// The Dockerfile's text.
    pub dockerfile: &'a str,
    /// The build context directory (for its `.dockerignore`).
    pub context: &'a Path,
    /// `--build-arg` values.
    pub build_args: &'a [(String, String)],
    /// `--target`.
    pub target: Option<String>,
    /// `--platform`, else the host's.
    pub platform: Option<String>,
    /// Check every stage (`--check` without a target), not only those the target needs.
    pub all_stages: bool,
    /// `--build-context` names (not images from a registry).
    pub named_contexts: Vec<String>,
}

/// Runs BuildKit's checks and skiff's own rules on a Dockerfile, with its `.dockerignore`.
pub fn lint(input: &LintInput) -> Result<LintReport> {
    let ignore_text = read_dockerignore(input.context, input.dockerfile_path);
    let matcher = match &ignore_text {
        Some(text) => Some(skiff_engine::Matcher::parse(text)?),
        None => None,
    };
    let excludes = |path: &str| matcher.as_ref().is_some_and(|m| m.is_excluded(path, false));
    let host = host_platform();
    let options = LintOptions {
        build_args: input.build_args.iter().cloned().collect::<Env>(),
        target: input.target.clone(),
        all_stages: input.all_stages,
        build_platform: host.clone(),
        target_platform: input.platform.clone().unwrap_or(host),
        ignore: ignore_text
            .as_deref()
            .map(|text| IgnoreRules::new(text, &excludes)),
        base_image: None,
        skiff_rules: true,
        named_contexts: input.named_contexts.clone(),
    };
    Ok(lint::check(input.dockerfile, &options))
}

/// Runs the checks the request describes and prints the result.
pub fn run(request: &CheckRequest) -> Result<ExitCode> {
    let report = lint(&LintInput {
        dockerfile_path: &request.dockerfile_path,
        dockerfile: &request.dockerfile,
        context: &request.context,
        build_args: &request.build_args,
        target: request.target.clone(),
        platform: request.platform.clone(),
        all_stages: request.target.is_none(),
        named_contexts: request.named_contexts.clone(),
    })?;
    // Spans index into the text without its byte-order mark, as the parser keeps it.
    let source = request
        .dockerfile
        .strip_prefix('\u{feff}')
        .unwrap_or(&request.dockerfile);
    match request.format {
        CheckFormat::Text => print_text(&report, &request.dockerfile_name, source),
        CheckFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&to_json(&report, &request.dockerfile_name, source))?
        ),
    }
    Ok(if report.fails() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `<Dockerfile>.dockerignore` beside the Dockerfile wins over the context's `.dockerignore`.
fn read_dockerignore(context: &Path, dockerfile: &Path) -> Option<String> {
    let specific = PathBuf::from(format!("{}.dockerignore", dockerfile.display()));
    [specific, context.join(".dockerignore")]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
}

/// `linux/<arch>` of this machine, in Go's architecture names.
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    };
    format!("linux/{arch}")
}

/// Findings on stdout in file order, the failure on stderr, and a summary line as
/// `docker build --check` ends with.
fn print_text(report: &LintReport, file: &str, source: &str) {
    let style = |tty: bool| {
        if tty && std::env::var_os("NO_COLOR").is_none() {
            Style::Color
        } else {
            Style::Plain
        }
    };
    let out_style = style(std::io::stdout().is_terminal());
    print!("{}", report.render_findings(file, source, out_style));
    let err_style = style(std::io::stderr().is_terminal());
    if let Some(error) = &report.error {
        eprint!("{}", render_with(error, file, source, err_style));
    }
    if let Some(violation) = &report.violation {
        eprint!(
            "{}",
            render_with(
                &Diagnostic::error(violation.clone(), None),
                file,
                source,
                err_style
            )
        );
    }
    match report.findings.len() {
        0 => println!("Check complete, no warnings found."),
        1 => println!("Check complete, 1 warning has been found!"),
        n => println!("Check complete, {n} warnings have been found!"),
    }
}

/// BuildKit's lint result (`docker build --call=check,format=json`): warnings with rule,
/// description, URL, detail and a location in source 0; the build error, if any; plus skiff's
/// column and `error=true` outcome.
fn to_json(report: &LintReport, file: &str, source: &str) -> Value {
    let warning = |f: &Finding| {
        json!({
            "ruleName": f.rule.name,
            "description": f.rule.description,
            "url": f.rule.url,
            "detail": f.detail,
            "level": 1,
            "location": {
                "sourceIndex": 0,
                "ranges": [{"start": {"line": f.line}, "end": {"line": f.line}}],
                "line": f.span.line,
                "column": f.span.column,
            },
        })
    };
    let error = report.error.as_ref().map(|e| {
        json!({
            "message": e.message,
            "location": e.span.map(|s| json!({"sourceIndex": 0, "line": s.line, "column": s.column})),
        })
    });
    json!({
        "warnings": report.findings.iter().map(warning).collect::<Vec<_>>(),
        "sources": [{"fileName": file, "language": "Dockerfile", "data": source}],
        "buildError": error,
        "violation": report.violation,
        "failed": report.fails(),
    })
}
