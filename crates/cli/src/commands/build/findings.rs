//! The build checks every `skiff build` runs, as BuildKit does: the Dockerfile's findings are
//! computed before the build starts (with `error=true` a finding fails the build there, before
//! anything is pulled or run) and shown after it, as [`Warning`] events, so every progress
//! mode shows them (rustc-style in plain and tty, one object each in JSON).

use super::check::{lint, LintInput};
use super::config::BuildConfig;
use super::report::Source;
use anyhow::{bail, Result};
use skiff_engine::{FinalReport, SizeReport, Warning};
use skiff_frontend::diagnostics::{render_with, Style};
use skiff_frontend::lint::{Finding, LintReport};

/// Runs the checks on the build's Dockerfile, for the stages its target needs, and adds their
/// findings to `warnings`; fails with BuildKit's `lint violation found for rules: …` under
/// `error=true`. A Dockerfile the checks cannot read is left to the build, which reports it
/// with its place.
pub fn lint_build(
    config: &BuildConfig,
    warnings: &mut Vec<Warning>,
    source: Source,
    color: bool,
) -> Result<()> {
    let options = &config.options;
    let report = lint(&LintInput {
        dockerfile_path: &options.dockerfile_path,
        dockerfile: &options.dockerfile,
        context: &options.context,
        build_args: &options.build_args,
        target: options.target.clone(),
        platform: options.platform.as_ref().map(ToString::to_string),
        all_stages: false,
        named_contexts: (options.named_contexts.iter())
            .map(|(name, _)| name.clone())
            .collect(),
    })?;
    warnings.extend(lint_warnings(&report, source, color));
    if let Some(violation) = &report.violation {
        bail!("{violation}");
    }
    Ok(())
}

/// The findings as warning events, in file order.
fn lint_warnings(report: &LintReport, source: Source, color: bool) -> Vec<Warning> {
    let mut findings: Vec<&Finding> = report.findings.iter().collect();
    findings.sort_by_key(|f| (f.span.line, f.span.column));
    findings
        .into_iter()
        .map(|f| Warning {
            source: "lint".into(),
            rule: f.rule.name.into(),
            message: f.detail.clone(),
            hint: f.diagnostic().hint,
            file: Some(source.path.to_string_lossy().into_owned()),
            line: Some(f.span.line),
            column: Some(f.span.column),
            rendered: source.render(&f.diagnostic(), color),
        })
        .collect()
}

/// The final image's problems as warning events (they have no place in the Dockerfile).
pub fn verify_warnings(report: &FinalReport, color: bool) -> Vec<Warning> {
    report
        .problems
        .iter()
        .map(|p| {
            let diagnostic =
                skiff_frontend::Diagnostic::warning(format!("{}: {}", p.rule, p.message), None)
                    .with_hint(p.hint.clone());
            let style = if color { Style::Color } else { Style::Plain };
            Warning {
                source: "verify".into(),
                rule: p.rule.clone(),
                message: p.message.clone(),
                hint: Some(p.hint.clone()),
                file: None,
                line: None,
                column: None,
                rendered: render_with(&diagnostic, "", "", style),
            }
        })
        .collect()
}

/// The size report of the final image.
pub fn size_report(report: &FinalReport) -> SizeReport {
    SizeReport {
        compressed: report.compressed,
        unpacked: report.unpacked,
        largest_stage: report.largest_stage.clone(),
        largest_layers: report.largest_layers.clone(),
        largest_files: report.largest_files.clone(),
    }
}
