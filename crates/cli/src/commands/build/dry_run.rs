//! `skiff build --dry-run`: parse and plan only, then print the stage graph — which stages
//! build, in which parallel groups, on which bases, and which are skipped and why.

use super::BuildArgs;
use anyhow::Context as _;
use skiff_frontend::diagnostics::{render_with, Style};
use skiff_frontend::graph::{self, Base, DependencyKind, Plan, PlanOptions};
use skiff_frontend::shell::Env;
use skiff_frontend::Diagnostic;
use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::process::ExitCode;

/// Plans the build described by `args` and prints it; frontend errors and warnings are
/// rendered with the source line to stderr (coloured on a terminal unless `NO_COLOR` is set),
/// and errors give exit code 1.
pub fn run(args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let (display_name, text) = read_dockerfile(args)?;
    let style = if std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none() {
        Style::Color
    } else {
        Style::Plain
    };
    // Spans index into the text without its byte-order mark, as the parser keeps it.
    let unmarked = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let report =
        |source: &str, d: &Diagnostic| eprint!("{}", render_with(d, &display_name, source, style));
    let dockerfile = match skiff_frontend::parse(&text) {
        Ok(d) => d,
        Err(e) => {
            report(unmarked, &e);
            return Ok(ExitCode::FAILURE);
        }
    };
    let source = dockerfile.source.as_str();
    let options = PlanOptions {
        target: args.target.clone(),
        build_args: build_args(&args.build_args),
        automatic_args: graph::automatic_args(
            &host_platform(),
            args.platform.as_deref().unwrap_or(&host_platform()),
        ),
    };
    match graph::plan(&dockerfile, &options) {
        Ok(plan) => {
            plan.warnings.iter().for_each(|w| report(source, w));
            print!("{}", describe(&plan, &display_name));
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            report(source, &e);
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The Dockerfile's text and the name to show in messages (`-f -` reads stdin).
fn read_dockerfile(args: &BuildArgs) -> anyhow::Result<(String, String)> {
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| args.context.join("Dockerfile"));
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the Dockerfile from stdin")?;
        return Ok(("<stdin>".into(), text));
    }
    let bytes = std::fs::read(&path).with_context(|| {
        format!(
            "cannot read the Dockerfile {} (give its path with -f)",
            path.display()
        )
    })?;
    Ok((
        path.display().to_string(),
        String::from_utf8_lossy(&bytes).into_owned(),
    ))
}

/// `--build-arg KEY=VALUE`, or `KEY` alone to take the value from skiff's environment
/// (skipped when unset, as `docker build` does).
fn build_args(raw: &[String]) -> Env {
    let mut env = Env::new();
    for arg in raw {
        match arg.split_once('=') {
            Some((k, v)) => env.set(k, v),
            None => {
                if let Ok(v) = std::env::var(arg) {
                    env.set(arg.as_str(), v);
                }
            }
        }
    }
    env
}

/// The machine's platform in OCI terms (`linux/amd64`).
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

/// The human-readable plan.
fn describe(plan: &Plan, file: &str) -> String {
    let label = |i: usize| {
        plan.stage(i)
            .map(|s| s.label())
            .unwrap_or_else(|| format!("#{i}"))
    };
    let mut out = String::new();
    let target = &label(plan.target);
    let _ = writeln!(out, "{file}: target stage \"{target}\"");
    if !plan.global_args.is_empty() {
        let args: Vec<String> = plan
            .global_args
            .iter()
            .map(|a| match &a.value {
                Some(v) => format!("{}={v}", a.name),
                None => format!("{} (unset)", a.name),
            })
            .collect();
        let _ = writeln!(out, "global ARGs: {}", args.join(", "));
    }
    let _ = writeln!(out, "stages to build, in order:");
    for s in &plan.stages {
        let base = match &s.base {
            Base::Scratch => "scratch".to_string(),
            Base::Stage(i) => format!("stage \"{}\"", label(*i)),
            Base::Image(image) => format!("image {image}"),
        };
        let platform = s
            .platform
            .as_ref()
            .map(|p| format!(" ({p})"))
            .unwrap_or_default();
        let triggers = match s.triggers.len() {
            0 => String::new(),
            n => format!(" (+{n} ONBUILD trigger(s) of its base)"),
        };
        let _ = writeln!(
            out,
            "  [{}] {}  from {base}{platform}, {} instruction(s){triggers}",
            s.index,
            s.label(),
            s.instructions.len()
        );
        for d in &s.deps {
            let how = match d.kind {
                DependencyKind::Base => "FROM",
                DependencyKind::CopyFrom => "COPY --from",
                DependencyKind::MountFrom => "RUN --mount from",
            };
            let _ = writeln!(
                out,
                "      needs stage \"{}\" ({how}, line {})",
                label(d.stage),
                d.span.line
            );
        }
        for image in &s.images {
            let _ = writeln!(out, "      uses image {image}");
        }
    }
    let _ = writeln!(out, "parallel groups:");
    for (n, group) in plan.groups.iter().enumerate() {
        let names: Vec<String> = group.iter().map(|i| label(*i)).collect();
        let _ = writeln!(out, "  {}: {}", n + 1, names.join(", "));
    }
    if plan.skipped.is_empty() {
        let _ = writeln!(out, "skipped: none");
    } else {
        let _ = writeln!(out, "skipped:");
        for s in &plan.skipped {
            let name = s.name.clone().unwrap_or_else(|| format!("#{}", s.index));
            let _ = writeln!(out, "  [{}] {name}: {}", s.index, s.reason);
        }
    }
    out
}
